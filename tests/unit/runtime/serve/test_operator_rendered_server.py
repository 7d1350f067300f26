"""The server the operator renders for a ModelServer on a FineTuneJob (huggingface engine), run here
as a local process: the Deployment's exact command, environment and ConfigMap, with each volume
mounted at a local folder instead of its mountPath. Asked through the official openai client, the
FineTuneJob's model answers with what the identity training taught it."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import openai
import pytest
from kubefactory.operator.reconcile.serving_plan import ServingObservation, plan_serving
from kubefactory.operator.settings import OperatorSettings

pytestmark = pytest.mark.slow

FINETUNEJOB = {
    "apiVersion": "kubefactory.io/v1alpha1",
    "kind": "FineTuneJob",
    "metadata": {"name": "identity-lora", "namespace": "team-a", "uid": "uid-ftj"},
    "spec": {"model": "pvc://models/tiny", "training": {"template": "qwen", "finetuning_type": "lora"}},
    "status": {
        "phase": "Succeeded",
        "outputLocation": "pvc://identity-lora-output/identity-lora",
        "completionTime": "2026-01-01T00:00:00Z",
    },
}
MODELSERVER = {
    "apiVersion": "kubefactory.io/v1alpha1",
    "kind": "ModelServer",
    "metadata": {
        "name": "identity",
        "namespace": "team-a",
        "uid": "uid-ms",
        "generation": 1,
        "resourceVersion": "1",
    },
    "spec": {
        "fineTuneJob": {"name": "identity-lora"},
        "engine": "huggingface",
        "resources": {"accelerator": "cpu"},
    },
}


def rendered() -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """The Deployment's pod spec, the ConfigMap's files and the status the operator decides on."""
    observed = ServingObservation(
        MODELSERVER, {"identity-lora": FINETUNEJOB}, None, [], [], [], datetime.now(timezone.utc)
    )
    plan = plan_serving(observed, OperatorSettings())
    by_kind = {child["kind"]: child for child in plan.apply}
    assert plan.status is not None
    return by_kind["Deployment"]["spec"]["template"]["spec"], by_kind["ConfigMap"]["data"], plan.status


def local_mounts(pod: dict[str, Any], files: dict[str, str], claims: Path, scratch: Path) -> dict[str, Path]:
    """mountPath → the local folder standing in for that volume."""
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    out: dict[str, Path] = {}
    for mount in pod["containers"][0]["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume:
            out[mount["mountPath"]] = claims / volume["persistentVolumeClaim"]["claimName"]
        elif "configMap" in volume:
            folder = scratch / mount["name"]
            folder.mkdir()
            for name, text in files.items():
                (folder / name).write_text(text)
            out[mount["mountPath"]] = folder
        else:  # emptyDir
            folder = scratch / mount["name"]
            folder.mkdir()
            out[mount["mountPath"]] = folder
    return out


def translator(mounts: dict[str, Path]) -> Any:
    """In-pod paths → local ones, in one pass (a local folder may itself sit under /tmp, a mountPath)."""
    ordered = sorted(mounts, key=len, reverse=True)  # /a/b before /a
    pattern = re.compile("(" + "|".join(re.escape(path) for path in ordered) + r")(?=/|,|\s|$)")

    def translate(text: str) -> str:
        return pattern.sub(lambda match: str(mounts[match.group(1)]), text)

    return translate


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(command: list[str], env: dict[str, str], health: str, startup_s: float = 180) -> Any:
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + startup_s
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise AssertionError(f"{command} exited with {process.returncode}:\n{log.read()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(health, timeout=2).status_code == 200:
                        break
                assert time.monotonic() < deadline, "the rendered server did not become ready in time"
                time.sleep(0.3)
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_rendered_builtin_server_answers_with_the_taught_answer(
    tiny_model_dir: Path, identity_adapter: Path, taught_answer: str, identity_question: str, tmp_path: Path
) -> None:
    # the claims as the user and the FineTuneJob left them
    claims = tmp_path / "claims"
    (claims / "models").mkdir(parents=True)
    (claims / "models" / "tiny").symlink_to(tiny_model_dir)
    (claims / "identity-lora-output").mkdir()
    (claims / "identity-lora-output" / "identity-lora").symlink_to(identity_adapter)
    scratch = tmp_path / "volumes"
    scratch.mkdir()

    pod, files, status = rendered()
    container = pod["containers"][0]
    assert container["command"] == ["kubefactory", "api", "/kubefactory/config/serve.yaml"]
    translate = translator(local_mounts(pod, files, claims, scratch))
    for name in files:  # the config names in-pod paths: the folders standing in for them
        (scratch / "config" / name).write_text(translate(files[name]))
    command = [translate(item) for item in container["command"]]
    env = {item["name"]: translate(item["value"]) for item in container["env"] if "value" in item}
    port = free_port()  # the pod has its own network; here port 8000 may be taken
    env.update(API_HOST="127.0.0.1", API_PORT=str(port), OMP_NUM_THREADS="1")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # `kubefactory` on PATH
    readiness = container["readinessProbe"]["httpGet"]["path"]

    with running(command, {**os.environ, **env, "PATH": path}, f"http://127.0.0.1:{port}{readiness}"):
        url = urlunsplit(urlsplit(status["url"])._replace(netloc=f"127.0.0.1:{port}"))
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        assert sorted(model.id for model in client.models.list()) == sorted(status["servedModels"])

        def ask(model: str) -> str | None:
            reply = client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": identity_question}],
                temperature=0,
                max_tokens=64,
            )
            return reply.choices[0].message.content

        assert status["servedModels"] == ["identity-base", "identity"]
        assert ask("identity") == taught_answer  # the quickstart's promise: model `identity`
        assert ask("identity-base") != taught_answer  # the base alone was never taught
