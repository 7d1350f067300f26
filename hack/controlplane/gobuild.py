"""Build the control-plane binaries from Go modules and cache them by version.

Each binary is built into a temporary folder next to its final place and renamed
into ``bin/`` only when the build succeeded, so a present binary is a complete one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from hack.controlplane import layout

HEARTBEAT_SECONDS = 60
KUBERNETES_TAGS = "selinux,notest,grpcnotrace"  # the tags k8s' own hack/lib/golang.sh uses
KWOK_STAGE_GROUPS = ("node", "pod")


def log(message: str) -> None:
    print(f"[controlplane] {message}", flush=True)


def go_command() -> str:
    """``$GO``, ``go`` on PATH, or the default install location."""
    found = os.environ.get("GO") or shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(found).exists() and shutil.which(found) is None:
        raise RuntimeError(f"Go toolchain not found (looked for {found}); set $GO")
    return found


def go_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOWORK": "off"})
    env.update(extra or {})
    return env


def run_go(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run ``go ARGS``; print a heartbeat while it runs; raise on failure."""
    cmd = [go_command(), *args]
    log("$ " + " ".join(cmd))
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env or go_env())
    while True:
        try:
            returncode = proc.wait(timeout=HEARTBEAT_SECONDS)
            break
        except subprocess.TimeoutExpired:
            log(f"  ... still running ({time.monotonic() - started:.0f}s)")
    if returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {returncode}")
    log(f"  done in {time.monotonic() - started:.0f}s")


def go_output(args: Sequence[str], cwd: Path) -> str:
    cmd = [go_command(), *args]
    return subprocess.run(cmd, cwd=cwd, env=go_env(), check=True, text=True, capture_output=True).stdout


def download_module(module: str, version: str) -> dict[str, str]:
    """``go mod download -json``: paths of the module's go.mod, .info and source dir."""
    layout.build_root().mkdir(parents=True, exist_ok=True)
    result: dict[str, str] = json.loads(
        go_output(["mod", "download", "-json", f"{module}@{version}"], layout.build_root())
    )
    if result.get("Error"):
        raise RuntimeError(f"go mod download {module}@{version}: {result['Error']}")
    return result


def staging_modules(gomod: str) -> list[str]:
    """Every ``k8s.io/X => ./staging/...`` replacement in k8s.io/kubernetes' go.mod."""
    pattern = re.compile(r"^\s*(k8s\.io/[A-Za-z0-9._-]+)\s+=>\s+\./staging/", re.MULTILINE)
    return sorted(set(pattern.findall(gomod)))


def directive(gomod: str, name: str) -> str:
    """A go.mod directive (``go 1.26.0``, ``godebug ...``) as written, or ``""``."""
    match = re.search(rf"^{name}\s+(\([^)]*\)|\S.*)$", gomod, re.MULTILINE)
    return match.group(0) if match else ""


def wrapper_gomod(module: str, upstream: str, require: str, replaces: Sequence[str] = ()) -> str:
    """A wrapper module that requires ``require`` with upstream's go/godebug lines."""
    lines = [f"module {module}", "", directive(upstream, "go")]
    if godebug := directive(upstream, "godebug"):
        lines += ["", godebug]
    lines += ["", f"require {require}"]
    if replaces:
        lines += ["", "replace (", *(f"\t{line}" for line in replaces), ")"]
    return "\n".join(lines) + "\n"


def write_wrapper(name: str, gomod: str) -> Path:
    """(Re)write the wrapper module's go.mod when what we generate for it changed.

    ``go build -mod=mod`` adds requirements to go.mod, so the generated text is kept beside it
    (``go.mod.generated``) to tell "go.mod as go left it" from "our pins changed".
    """
    directory = layout.build_root() / name
    directory.mkdir(parents=True, exist_ok=True)
    generated = directory / "go.mod.generated"
    if not (directory / "go.mod").exists() or not generated.exists() or generated.read_text() != gomod:
        (directory / "go.mod").write_text(gomod)
        (directory / "go.sum").unlink(missing_ok=True)
        generated.write_text(gomod)
    return directory


def install_files(built: dict[str, Path], destination: Path) -> None:
    """Atomically move finished binaries into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name, path in built.items():
        path.chmod(0o755)
        os.replace(path, destination / name)


def build_into(destination: Path, names: Sequence[str], build: Callable[[Path], None]) -> None:
    """Skip if every binary exists, else ``build(tmpdir)`` and install the results."""
    if all((destination / name).is_file() for name in names):
        log(f"cached: {', '.join(names)} in {destination}")
        return
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=destination) as tmp:
        build(Path(tmp))
        missing = [name for name in names if not (Path(tmp) / name).is_file()]
        if missing:
            raise RuntimeError(f"build produced no {missing} in {tmp}")
        install_files({name: Path(tmp) / name for name in names}, destination)
    log(f"installed: {', '.join(names)} in {destination}")


def kubernetes_ldflags(info: dict[str, str]) -> str:
    version = layout.KUBERNETES_VERSION
    major, minor = version.lstrip("v").split(".")[:2]
    values = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": info.get("Time", ""),
    }
    flags = " ".join(
        f"-X k8s.io/component-base/version.{key}={value}" for key, value in values.items() if value
    )
    return f"-s -w {flags}"


def build_kubernetes() -> None:
    version = layout.KUBERNETES_VERSION

    def build(tmp: Path) -> None:
        module = download_module("k8s.io/kubernetes", version)
        upstream = Path(module["GoMod"]).read_text()
        info = json.loads(Path(module["Info"]).read_text())
        replaces = [f"{name} => {name} {layout.STAGING_VERSION}" for name in staging_modules(upstream)]
        log(f"kubernetes {version}: {len(replaces)} staging modules pinned to {layout.STAGING_VERSION}")
        log("  one `go build` for all commands; a cold build takes several minutes")
        gomod = wrapper_gomod(
            "kubefactory.local/kubernetes-wrapper", upstream, f"k8s.io/kubernetes {version}", replaces
        )
        directory = write_wrapper(f"kubernetes-{version}", gomod)
        packages = [f"k8s.io/kubernetes/cmd/{name}" for name in layout.KUBERNETES_COMMANDS]
        args = ["build", "-mod=mod", "-trimpath", f"-tags={KUBERNETES_TAGS}"]
        run_go([*args, f"-ldflags={kubernetes_ldflags(info)}", "-o", f"{tmp}/", *packages], directory)

    log(f"kubernetes {version}")
    build_into(layout.bin_dir("kubernetes", version), layout.KUBERNETES_COMMANDS, build)


def build_etcd() -> None:
    version = layout.ETCD_VERSION

    def build(tmp: Path) -> None:
        upstream = Path(download_module("go.etcd.io/etcd/server/v3", version)["GoMod"]).read_text()
        gomod = wrapper_gomod(
            "kubefactory.local/etcd-wrapper", upstream, f"go.etcd.io/etcd/server/v3 {version}"
        )
        directory = write_wrapper(f"etcd-{version}", gomod)
        args = ["build", "-mod=mod", "-trimpath", "-ldflags=-s -w", "-o", str(tmp / "etcd")]
        run_go([*args, "go.etcd.io/etcd/server/v3"], directory)

    log(f"etcd {version}")
    build_into(layout.bin_dir("etcd", version), ["etcd"], build)


def go_install(package: str, version: str, tmp: Path, ldflags: str = "-s -w") -> None:
    env = go_env({"GOBIN": str(tmp)})
    run_go(["install", "-trimpath", f"-ldflags={ldflags}", f"{package}@{version}"], layout.build_root(), env)


def build_kwok() -> None:
    version = layout.KWOK_VERSION
    log(f"kwok {version}")
    build_into(
        layout.bin_dir("kwok", version),
        ["kwok"],
        lambda tmp: go_install("sigs.k8s.io/kwok/cmd/kwok", version, tmp),
    )
    copy_kwok_stages()


def copy_kwok_stages() -> None:
    """Copy kwok's default Stage YAMLs (``kustomize/stage/{node,pod}``) into the cache."""
    destination = layout.Binaries.default().kwok_stages
    if destination.is_dir():
        return
    source = Path(download_module("sigs.k8s.io/kwok", layout.KWOK_VERSION)["Dir"]) / "kustomize" / "stage"
    tmp = Path(tempfile.mkdtemp(prefix=".stages-", dir=destination.parent))
    try:
        for group in KWOK_STAGE_GROUPS:
            for path in sorted((source / group).glob("*/*.yaml")):
                if path.name != "kustomization.yaml":
                    target = tmp / path.relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
        os.replace(tmp, destination)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"copied kwok's default stages to {destination}")


def helm_ldflags(gomod: str) -> str:
    """Stamp helm's version and, as its Makefile does, the Kubernetes version of its client-go.

    Without the latter ``helm template`` assumes Kubernetes v1.20 (``.Capabilities.KubeVersion``).
    """
    match = re.search(r"^\s*k8s\.io/client-go v0\.(\d+)\.", gomod, re.MULTILINE)
    flags = ["-s", "-w", f"-X helm.sh/helm/v3/internal/version.version={layout.HELM_VERSION}"]
    flags.append("-X helm.sh/helm/v3/internal/version.gitTreeState=clean")
    if match:
        for package in ("helm.sh/helm/v3/pkg/chartutil", "helm.sh/helm/v3/pkg/lint/rules"):
            flags += [f"-X {package}.k8sVersionMajor=1", f"-X {package}.k8sVersionMinor={match.group(1)}"]
    return " ".join(flags)


def build_helm() -> None:
    version = layout.HELM_VERSION

    def build(tmp: Path) -> None:
        gomod = Path(download_module("helm.sh/helm/v3", version)["GoMod"]).read_text()
        go_install("helm.sh/helm/v3/cmd/helm", version, tmp, helm_ldflags(gomod))

    log(f"helm {version}")
    build_into(layout.bin_dir("helm", version), ["helm"], build)


def build_coredns() -> None:
    """CoreDNS for the real node (no replace directives: a plain ``go install``; several minutes cold)."""
    version = layout.COREDNS_VERSION
    log(f"coredns {version} (first time only: about 5 minutes on 2 cores)")
    build_into(
        layout.bin_dir("coredns", version),
        ["coredns"],
        lambda tmp: go_install("github.com/coredns/coredns", version, tmp),
    )


def build_node_tools() -> layout.Binaries:
    """What the real node needs beyond :func:`build_all` (kubelet and kube-proxy come with it)."""
    with build_lock():
        layout.build_root().mkdir(parents=True, exist_ok=True)
        build_coredns()
    return layout.Binaries.default()


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    """One build at a time per cache (a second caller waits, then finds everything cached)."""
    layout.cache_root().mkdir(parents=True, exist_ok=True)
    with (layout.cache_root() / ".build.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_all() -> layout.Binaries:
    """Build (or find cached) every binary; returns their paths."""
    started = time.monotonic()
    with build_lock():
        layout.build_root().mkdir(parents=True, exist_ok=True)
        for step in (build_etcd, build_kwok, build_kubernetes, build_helm):
            step()
    log(f"all binaries ready under {layout.cache_root()} ({time.monotonic() - started:.1f}s)")
    return layout.Binaries.default()


def missing_binaries() -> list[Path]:
    """The cached files that do not exist yet (``[]``: nothing to build)."""
    return [path for path in layout.Binaries.default().paths() if not path.exists()]
