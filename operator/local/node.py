"""A one-node stand-in for a kubelet: runs a pod spec the builders rendered as a local process.

Volumes become folders under the work folder: a claim is ``claims/<claim>`` (shared by every pod,
so one pod's output is the next one's input, as on a cluster), a ConfigMap its files, an
emptyDir a scratch folder of the pod; a mount outside ``/kubefactory`` (``/tmp``, ``/dev/shm``,
driver folders) is the host's own. The pod's paths under ``/kubefactory`` (and its termination
log) are mapped onto those folders in the command, the environment and the ConfigMap files; the
rest of the pod spec (images, resources, placement, security) has no meaning here.

The container's command runs from this installation: ``kubefactory ...`` as
``python -m kubefactory.runtime.cli ...``; the training pod's ``report-progress`` wrapper (which
publishes to the API server) is left out, and ``torchrun`` is kept only when the pod runs several
processes; a single process runs ``kubefactory train`` directly.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..builders.layout import ROOT, TERMINATION_LOG
from .manifests import LocalRunError
from .plan import LocalPod

CLI_MODULE = "kubefactory.runtime.cli"
# the torchrun rendezvous and the built-in server, on this machine's loopback
LOOPBACK = "127.0.0.1"
LOOPBACK_ENV = ("MASTER_ADDR", "PET_MASTER_ADDR", "API_HOST")
RENDEZVOUS_PORT_ENV = ("MASTER_PORT", "PET_MASTER_PORT")
SERVER_PORT_ENV = "API_PORT"
VARIABLE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Mapping:
    """Pod path → local path, longest first so /kubefactory/config/x never matches /kubefactory/c."""

    pairs: tuple[tuple[str, str], ...]

    def rewrite(self, text: str) -> str:
        """One pass, so a local path that happens to contain a pod path is never rewritten again."""
        if not self.pairs:
            return text
        table = dict(self.pairs)
        alternatives = "|".join(re.escape(pod_path) for pod_path, _ in self.pairs)
        pattern = re.compile(f"({alternatives})(?=/|$|[^\\w.-])", flags=re.M)
        return pattern.sub(lambda match: table[match.group(1)], text)


class LocalNode:
    """Runs pods under ``workdir/<namespace>``; ``user_config_maps`` and ``secrets`` stand in for the API."""

    def __init__(
        self,
        workdir: Path,
        namespace: str,
        config_maps: dict[str, dict[str, str]],
        secrets: dict[str, dict[str, str]],
        python: str = sys.executable,
        out: IO[str] = sys.stdout,
    ) -> None:
        self.root = (workdir / namespace).resolve()
        self.namespace = namespace
        self.config_maps = config_maps
        self.secrets = secrets
        self.python = python
        self.out = out
        self._copiers: dict[str, threading.Thread] = {}
        self.processes: list[subprocess.Popen[str]] = []

    def claim_dir(self, claim: str) -> Path:
        return self.root / "claims" / claim

    def pod_dir(self, pod: LocalPod) -> Path:
        return self.root / "pods" / pod.name

    # --- volumes ---------------------------------------------------------------------------------

    def _config_map(self, pod: LocalPod, name: str) -> dict[str, str]:
        if name in pod.config_maps:
            return pod.config_maps[name]
        if name in self.config_maps:
            return self.config_maps[name]
        raise LocalRunError(
            f"{pod.owner}: ConfigMap {name} not found: give its manifest to -f, or --config-map {name}=PATH"
        )

    def mounts(self, pod: LocalPod) -> tuple[Mapping, list[tuple[Path, dict[str, str]]]]:
        """The path mapping, and the ConfigMap folders to write once the mapping is known."""
        volumes = {volume["name"]: volume for volume in pod.spec.get("volumes", [])}
        container = pod.spec["containers"][0]
        pairs: list[tuple[str, str]] = [(TERMINATION_LOG, str(self.pod_dir(pod) / "termination-log"))]
        files: list[tuple[Path, dict[str, str]]] = []
        for mount in container.get("volumeMounts", []):
            path = mount["mountPath"]
            volume = volumes[mount["name"]]
            if not path.startswith(ROOT + "/"):
                continue  # /tmp, /dev/shm, driver folders: the host's own
            if "persistentVolumeClaim" in volume:
                local = self.claim_dir(volume["persistentVolumeClaim"]["claimName"])
            else:
                local = self.pod_dir(pod) / "volumes" / mount["name"]
            if sub := mount.get("subPath"):
                local = local / sub
            if "configMap" in volume:
                data = self._config_map(pod, volume["configMap"]["name"])
                items = volume["configMap"].get("items")
                if items:
                    data = {item["path"]: data[item["key"]] for item in items if item["key"] in data}
                files.append((local, data))
            local.mkdir(parents=True, exist_ok=True)
            pairs.append((path, str(local)))
        pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
        return Mapping(tuple(pairs)), files

    # --- environment and command -----------------------------------------------------------------

    def _field(self, pod: LocalPod, path: str) -> str:
        if path == "metadata.name":
            return pod.name
        if path == "metadata.namespace":
            return self.namespace
        if "job-completion-index" in path:
            return "0"  # one node: rank 0
        raise LocalRunError(f"{pod.owner}: the pod reads {path}, which a local run cannot give")

    def _secret(self, pod: LocalPod, name: str) -> dict[str, str]:
        if name not in self.secrets:
            raise LocalRunError(f"{pod.owner}: Secret {name} not found: give its manifest to -f")
        return self.secrets[name]

    def environment(self, pod: LocalPod, mapping: Mapping, port: int | None) -> dict[str, str]:
        container = pod.spec["containers"][0]
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if ref := source.get("secretRef"):
                env.update(self._secret(pod, ref["name"]))
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = self._value(mapping, str(item["value"]))
            elif field_ref := item.get("valueFrom", {}).get("fieldRef"):
                env[item["name"]] = self._field(pod, field_ref["fieldPath"])
            elif key_ref := item.get("valueFrom", {}).get("secretKeyRef"):
                env[item["name"]] = self._secret(pod, key_ref["name"])[key_ref["key"]]
        for name in LOOPBACK_ENV:
            if name in env:
                env[name] = LOOPBACK
        rendezvous = str(free_port())
        for name in RENDEZVOUS_PORT_ENV:
            if name in env:
                env[name] = rendezvous
        if port is not None and SERVER_PORT_ENV in env:
            env[SERVER_PORT_ENV] = str(port)
        return env

    def _value(self, mapping: Mapping, value: str) -> str:
        return mapping.rewrite(value)

    def command(self, pod: LocalPod, mapping: Mapping, env: dict[str, str]) -> list[str]:
        command = [mapping.rewrite(part) for part in pod.spec["containers"][0]["command"]]
        command = [VARIABLE.sub(lambda m: env.get(m.group(1), m.group(0)), part) for part in command]
        if command[:2] == ["kubefactory", "report-progress"] and "--" in command:
            command = command[command.index("--") + 1 :]  # publishes to the API server: none here
        processes = int(env.get("NNODES", "1")) * int(env.get("NPROC_PER_NODE", "1"))
        if command[:3] == ["torchrun", "--module", CLI_MODULE]:
            if processes == 1:
                return [self.python, "-m", CLI_MODULE, *command[3:]]
            torchrun = Path(self.python).parent / "torchrun"
            return [str(torchrun) if torchrun.exists() else "torchrun", *command[1:]]
        if command[:1] == ["kubefactory"]:
            return [self.python, "-m", CLI_MODULE, *command[1:]]
        if shutil.which(command[0]) is None:
            raise LocalRunError(f"{pod.owner}: {command[0]} is not installed here")
        return command

    # --- running ---------------------------------------------------------------------------------

    def start(self, pod: LocalPod, port: int | None = None) -> subprocess.Popen[str]:
        """Write the pod's folders and ConfigMap files, then start its container's command."""
        mapping, files = self.mounts(pod)
        for folder, data in files:
            for key, text in data.items():
                (folder / key).write_text(mapping.rewrite(text), encoding="utf-8")
        env = self.environment(pod, mapping, port)
        command = self.command(pod, mapping, env)
        folder = self.pod_dir(pod)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "command").write_text(" ".join(command) + "\n", encoding="utf-8")
        process = subprocess.Popen(
            command,
            cwd=folder,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self.processes.append(process)
        copier = threading.Thread(target=self._copy_log, args=(pod, process), daemon=True)
        copier.start()
        self._copiers[pod.name] = copier
        return process

    def _copy_log(self, pod: LocalPod, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        with (self.pod_dir(pod) / "log").open("w", encoding="utf-8") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                self.out.write(f"[{pod.name}] {line}")
                self.out.flush()

    def run(self, pod: LocalPod) -> None:
        """Run a Job's pod to its end; a failure is an error with the end of its log."""
        process = self.start(pod)
        code = process.wait()
        self._copiers[pod.name].join(timeout=10)
        if code != 0:
            said = self.termination_message(pod).strip()
            raise LocalRunError(
                f"{pod.owner}: pod {pod.name} failed (exit code {code})"
                + (f": {said[-2000:]}" if said else "")
                + f"; its log: {self.pod_dir(pod) / 'log'}"
            )

    def stop(self) -> None:
        """Stop every process still running (servers, or a pod interrupted with the run)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    def termination_message(self, pod: LocalPod) -> str:
        path = self.pod_dir(pod) / "termination-log"
        return path.read_text(encoding="utf-8") if path.exists() else ""
