"""hf:// fetching through huggingface_hub, against a local server speaking the hub's download API.

The real hub is unreachable from the machines these tests run on (no network beyond package
registries), so `fake_hub` serves repo info, the file tree and /resolve/ downloads as the hub does,
and records every request: the tests count downloads and see the Range of a resumed one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_hub import FakeHub, Repo, commit_of, start_hub
from kubefactory.runtime.storage.cache import MARKER
from kubefactory.runtime.storage.errors import StorageError
from kubefactory.runtime.storage.fetch import fetch
from kubefactory.runtime.storage.hub import HubSettings

# 24 MiB: huggingface_hub writes in 10 MiB chunks, and resumes after the last one it wrote
WEIGHTS = bytes(range(256)) * (96 * 1024)


def _files(version: str) -> dict[str, bytes]:
    return {
        "config.json": json.dumps({"model_type": "qwen2", "version": version}).encode(),
        "model.safetensors": WEIGHTS + version.encode(),
        "tokenizer.json": b'{"version": "%s"}' % version.encode(),
        "tokenizer_config.json": b"{}",
        "README.md": b"# a model card: not needed to load the model",
        "pytorch_model.bin": b"old weights: the safetensors are enough",
        "original/consolidated.pth": b"another copy of the weights",
    }


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    v1, v2 = _files("v1"), _files("v2")
    fake = FakeHub(
        repos={
            "org/tiny": Repo(
                {commit_of(v1): v1, commit_of(v2): v2}, {"main": commit_of(v2), "v1": commit_of(v1)}
            ),
            "org/gated": Repo({commit_of(v1): v1}, {"main": commit_of(v1)}, gated_token="hf_secret"),
        }
    )
    server = start_hub(fake)
    yield fake
    server.shutdown()


def _settings(hub: FakeHub, token: str | None = None) -> HubSettings:
    return HubSettings(endpoint=hub.url, token=token)


def test_only_weights_and_tokenizer_files_of_the_pinned_revision_come_down(
    hub: FakeHub, tmp_path: Path
) -> None:
    pinned = fetch("hf://org/tiny@v1", tmp_path, hub=_settings(hub))
    folder = Path(pinned.path)
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MARKER)
    assert names == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    assert json.loads((folder / "config.json").read_text())["version"] == "v1"
    assert pinned.revision == commit_of(_files("v1")) and folder.name == pinned.revision
    assert pinned.files == 4 and pinned.bytes == sum(
        p.stat().st_size for p in folder.iterdir() if p.name != MARKER
    )
    assert pinned.digest.startswith("sha256:") and pinned.downloaded

    latest = fetch("hf://org/tiny", tmp_path, hub=_settings(hub))
    assert json.loads((Path(latest.path) / "config.json").read_text())["version"] == "v2"
    assert latest.digest != pinned.digest


def test_a_missing_revision_or_repo_is_not_found(hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="revision v9 not found") as err:
        fetch("hf://org/tiny@v9", tmp_path, hub=_settings(hub))
    assert err.value.reason == "NotFound"
    with pytest.raises(StorageError, match="repository not found") as err:
        fetch("hf://org/absent", tmp_path, hub=_settings(hub))
    assert err.value.reason == "NotFound"


def test_a_gated_repo_needs_its_token(hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="gated repository and no token was given") as err:
        fetch("hf://org/gated", tmp_path, hub=_settings(hub))
    assert err.value.reason == "Gated"
    assert not list(tmp_path.rglob("model.safetensors"))
    fetched = fetch("hf://org/gated", tmp_path, hub=_settings(hub, token="hf_secret"))
    assert (Path(fetched.path) / "model.safetensors").read_bytes() == WEIGHTS + b"v1"


def test_a_transfer_cut_off_midway_resumes_from_where_it_stopped(hub: FakeHub, tmp_path: Path) -> None:
    hub.cut_once.add("model.safetensors")
    fetched = fetch("hf://org/tiny", tmp_path, hub=_settings(hub))
    assert (Path(fetched.path) / "model.safetensors").read_bytes() == WEIGHTS + b"v2"
    first, again = hub.downloads("model.safetensors")
    assert first.range is None and again.range is not None
    resumed_at = int(again.range.removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= (len(WEIGHTS) + 2) // 2  # only the rest was asked for


def test_the_same_model_is_downloaded_once(hub: FakeHub, tmp_path: Path) -> None:
    first = fetch("hf://org/tiny", tmp_path, hub=_settings(hub))
    second = fetch("hf://org/tiny", tmp_path, hub=_settings(hub))
    by_commit = fetch(f"hf://org/tiny@{first.revision}", tmp_path, hub=_settings(hub))
    assert first.downloaded and not second.downloaded and not by_commit.downloaded
    assert first.path == second.path == by_commit.path and first.digest == second.digest
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert len(hub.downloads(name)) == 1, name


def _fetch_process(hub: FakeHub, cache: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "kubefactory.runtime.cli",
        "fetch",
        "hf://org/tiny",
        "--cache",
        str(cache),
    ]
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    env.pop("HF_TOKEN", None)
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_download_is_never_used_and_the_next_one_resumes(hub: FakeHub, tmp_path: Path) -> None:
    """A pod killed midway: its partial folder is not the model; the next fetch keeps what was complete."""
    released = threading.Event()
    hub.hold["model.safetensors"] = released
    process = _fetch_process(hub, tmp_path)
    others = ("config.json", "tokenizer.json", "tokenizer_config.json")
    deadline = time.monotonic() + 120
    while not (hub.downloads("model.safetensors") and all(hub.downloads(n) for n in others)):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.1)
    time.sleep(1)  # the small files are written while the weights hang
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    released.set()
    assert not list(tmp_path.rglob(MARKER))  # nothing complete, nothing to use
    partial = next(tmp_path.rglob("*.partial"))
    assert not (partial / "model.safetensors").exists()

    finished = _fetch_process(hub, tmp_path)
    out, err = finished.communicate(timeout=120)
    assert finished.returncode == 0, err
    fetched = json.loads(out)
    assert (Path(fetched["path"]) / "model.safetensors").read_bytes() == WEIGHTS + b"v2"
    assert not partial.exists() and (Path(fetched["path"]) / MARKER).is_file()
    assert [len(hub.downloads(n)) for n in others] == [1, 1, 1]  # kept from the killed attempt
    assert fetched["transferred"] < fetched["bytes"]


def test_the_command_links_the_fetched_model_where_the_pod_reads_it(hub: FakeHub, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "kubefactory.runtime.cli",
        "fetch",
        "hf://org/tiny@v1",
        "--cache",
        str(tmp_path),
    ]
    link = tmp_path / "pod" / "model"
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
    for _ in range(2):  # a restarted pod links again
        done = subprocess.run(
            [*command, "--link", str(link)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    assert json.loads((link / "config.json").read_text())["version"] == "v1"
    assert link.is_symlink() and str(link.resolve()) == json.loads(done.stdout)["path"]


def test_space_is_checked_for_the_wanted_files_only(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repositories often hold the weights twice (.bin and .safetensors): only what comes down counts."""
    from kubefactory.runtime.storage import cache as cache_module

    wanted = sum(len(v) for k, v in _files("v2").items() if k.endswith((".json", ".safetensors")))
    needed: list[int] = []
    real = cache_module.check_space

    def record(folder: Path, size: int) -> None:
        needed.append(size)
        real(folder, size)

    monkeypatch.setattr("kubefactory.runtime.storage.hub.check_space", record)
    fetch("hf://org/tiny", tmp_path, hub=_settings(hub))
    assert needed == [wanted]


def test_a_hub_dataset_not_in_the_local_cache_is_downloaded(
    hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubefactory.runtime.data.dataset_info import DatasetAttr
    from kubefactory.runtime.data.sources import open_source

    rows = [{"instruction": "Who are you?", "output": "KubeFactory-Tiny"}]
    files = {
        "train.jsonl": json.dumps(rows[0]).encode() + b"\n",
        "README.md": b"# identity",
        "big.bin": b"\0" * 9,
    }
    hub.repos["org/identity"] = Repo({commit_of(files): files}, {"main": commit_of(files)})
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub-cache"))  # empty: not pre-fetched
    monkeypatch.setenv("KUBEFACTORY_FETCH_CACHE", str(tmp_path / "fetch"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    source = open_source(DatasetAttr(name="identity", hf_hub_url="org/identity"), str(tmp_path))
    assert list(source.rows) == rows
    downloads = [r.path for r in hub.requests if r.method == "GET" and "/resolve/" in r.path]
    assert all(path.startswith("/datasets/org/identity/resolve/") for path in downloads)
    assert sorted(path.rsplit("/", 1)[-1] for path in downloads) == [
        "README.md",
        "train.jsonl",
    ]  # not the .bin
