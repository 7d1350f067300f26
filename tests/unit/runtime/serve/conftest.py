"""Fixtures of the serving tests: the tiny model, random LoRA adapters, configs, and live
`kubefactory api` servers started as subprocesses on a free loopback port. Helpers are handed out
as fixtures, so the tests import nothing from this folder (any pytest import mode works)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

DEMO_DATA = Path(__file__).resolve().parents[4].parent / "shared" / "datasets" / "llamafactory-demo"


def write_random_adapter(base: Path, folder: Path, seed: int, rank: int = 4) -> Path:
    """A LoRA adapter with random A and B (B is zero at peft's default init, which changes nothing)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    lora = LoraConfig(
        r=rank, lora_alpha=2 * rank, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False
    )
    get_peft_model(model, lora).save_pretrained(str(folder))
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, **values: Any) -> Path:
    path = folder / "serve.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


@contextlib.contextmanager
def live_api(config: Path, env: dict[str, str] | None = None, startup_s: float = 120) -> Iterator[str]:
    """`kubefactory api CONFIG` in a subprocess; yields its base URL once /health answers."""
    with live_api_process(config, env, startup_s) as (url, _):
        yield url


@contextlib.contextmanager
def live_api_process(
    config: Path, env: dict[str, str] | None = None, startup_s: float = 120
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """As live_api, yielding (base URL, the server's process)."""
    port = free_port()
    # one torch thread: the tiny model gains nothing from more, and the test machine is shared
    environment = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        **(env or {}),
    }
    with tempfile.TemporaryFile(mode="w+") as log:  # a file, not a pipe: an unread pipe fills up and blocks
        yield from _run(config, environment, log, startup_s, port)


def _run(
    config: Path, environment: dict[str, str], log: Any, startup_s: float, port: int
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "kubefactory.runtime.cli", "api", str(config)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"kubefactory api exited with {process.returncode}:\n{log.read()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("kubefactory api did not become healthy in time")
            time.sleep(0.3)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def demo_data() -> Path:
    return DEMO_DATA


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from kubefactory.runtime.model.tiny import TinyModelSpec, build_tiny_model

    return build_tiny_model(TinyModelSpec(), corpus=[DEMO_DATA] if DEMO_DATA.is_dir() else [])


@pytest.fixture(scope="session")
def random_adapter() -> Callable[..., Path]:
    return write_random_adapter


@pytest.fixture(scope="session")
def serve_config() -> Callable[..., Path]:
    return write_config


@pytest.fixture(scope="session")
def api_server() -> Callable[..., contextlib.AbstractContextManager[str]]:
    return live_api


@pytest.fixture(scope="session")
def api_server_process() -> Callable[
    ..., contextlib.AbstractContextManager[tuple[str, subprocess.Popen[str]]]
]:
    return live_api_process


# --- the demo's identity training, shared by the tests that ask the trained model -------------

DEMO_CONFIG = Path(__file__).resolve().parents[4] / "examples" / "train_lora" / "tiny_identity_lora_sft.yaml"
QUESTION = "Who are you?"  # row 3 of identity.json
TRAINED_ROWS = 8


def _cli(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "kubefactory.runtime.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # the tiny model trains fastest on one thread
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="session")
def taught_answer(demo_data: Path) -> str:
    rows = json.loads((demo_data / "identity.json").read_text(encoding="utf-8"))[:TRAINED_ROWS]
    return str(next(row["output"] for row in rows if row["instruction"] == QUESTION))


@pytest.fixture(scope="session")
def identity_adapter(tiny_model_dir: Path, demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's training config, shortened to the first rows of identity.json (trained once here):
    about 30 s on one CPU core, and greedy decoding then gives the taught answers word for word."""
    output = tmp_path_factory.mktemp("identity") / "adapter"
    _cli(
        "train",
        str(DEMO_CONFIG),
        f"model_name_or_path={tiny_model_dir}",
        f"dataset_dir={demo_data}",
        f"output_dir={output}",
        f"max_samples={TRAINED_ROWS}",
        "num_train_epochs=80",
        "plot_loss=false",
        "disable_tqdm=true",
        timeout=1800,
    )
    return output


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`kubefactory ARGS...` in a subprocess (one torch thread); fails the test on a non-zero exit."""
    return _cli


@pytest.fixture(scope="session")
def identity_question() -> str:
    """A question of the identity data whose answer the identity adapter was taught."""
    return QUESTION
