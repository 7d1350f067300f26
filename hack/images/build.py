"""Build the images under ``images/`` here, with no Docker engine and no registry, and import them.

CLI (standard library only; run as root, which installs what it needs with apt-get)::

    python3 hack/images/build.py build [IMAGE...]      # default: operator runtime-cpu pause
    python3 hack/images/build.py list [--json]          # name -> archive
    python3 hack/images/build.py import --address /path/containerd.sock [IMAGE...]
    python3 hack/images/build.py check [IMAGE...]       # run each built image's smoke checks

How: ``mmdebstrap`` makes a Debian bookworm root filesystem (python3, venv, CA certificates) that
becomes a local base image; ``buildah bud`` (chroot isolation, layer cache, storage under
``$KUBEFACTORY_CACHE/images``) builds each Dockerfile unchanged, with ``BASE``/``GO_BASE`` pointing
at the local bases. Every image is saved as a docker-archive keyed by what it was built from (the
Dockerfile, its build arguments and base, and every file it copies), so an unchanged tree builds
nothing; a source-only change rebuilds only the source layer (the dependency layer is keyed by the
requirement lines alone). ``import`` skips an image containerd already holds with the same config
digest.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: register the `hack` namespace by hand (the repo root on sys.path would let
    # the project's `operator/` shadow the standard library's `operator`).
    import types

    _hack = types.ModuleType("hack")
    _hack.__path__ = [str(Path(__file__).resolve().parents[1])]
    sys.modules.setdefault("hack", _hack)

from hack.images import dockerfile, names

REPO_ROOT = names.REPO_ROOT
HEARTBEAT_SECONDS = 30
FORMAT = "1"  # bump to invalidate every cached archive (a change to how images are built)
SUITE = "bookworm"  # Debian 12: python3 3.11, as on the development machines
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
GO_BASE_PACKAGES = ("golang-go",)
TOOLS = {"buildah": "buildah", "mmdebstrap": "mmdebstrap"}  # command -> Debian package
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
IGNORED_PARTS = {"__pycache__"}
IGNORED_SUFFIXES = (".pyc",)
# The build arguments of a local build: the local bases, and torch from the default index (PyPI),
# the only Python index this machine reaches.
LOCAL_ARGS: dict[str, dict[str, str]] = {
    "operator": {"BASE": "@base"},
    "runtime-cpu": {"BASE": "@base", "TORCH_INDEX_URL": ""},
    "pause": {"GO_BASE": "@go-base"},
}
# What a first build of each takes on a 2-core machine (measured; printed before a cold build).
EXPECTED = {
    "@base": "1-2 minutes",
    "@go-base": "under a minute",
    "operator": "about a minute",
    "runtime-cpu": "about 6 minutes (torch with its CUDA wheels: a 6 GB image)",
    "pause": "under a minute",
}


def log(message: str) -> None:
    print(f"[images] {message}", flush=True)


def cache_root() -> Path:
    """``${KUBEFACTORY_CACHE:-~/.cache/kubefactory}/images``."""
    base = os.environ.get("KUBEFACTORY_CACHE") or "~/.cache/kubefactory"
    return Path(base).expanduser().resolve() / "images"


# --- running commands ------------------------------------------------------------------------


def run(cmd: Sequence[str], what: str, env: dict[str, str] | None = None, quiet: bool = False) -> None:
    """Run ``cmd``, passing its output through, with a heartbeat whenever it is silent a while."""
    log("$ " + " ".join(cmd))
    started = time.monotonic()
    last_output = [started]
    proc = subprocess.Popen(
        list(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    tail: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)
            del tail[:-40]
            if not quiet:  # hidden output does not count: the heartbeat speaks for a quiet command
                last_output[0] = time.monotonic()
                print(line, end="", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    while True:
        try:
            proc.wait(timeout=5)
            break
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            if now - last_output[0] >= HEARTBEAT_SECONDS:
                log(f"  ... {what}: still running ({now - started:.0f}s)")
                last_output[0] = now
    reader.join(timeout=5)
    if proc.returncode != 0:
        if quiet:
            print("".join(tail), end="", file=sys.stderr)
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}")


def output(cmd: Sequence[str], env: dict[str, str] | None = None, check: bool = True) -> str:
    result = subprocess.run(list(cmd), env=env, text=True, capture_output=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def ensure_tools() -> None:
    """Install buildah and mmdebstrap from Debian's packages when missing (a fresh machine has neither)."""
    missing = sorted({package for command, package in TOOLS.items() if shutil.which(command) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(
            f"[images] missing {', '.join(missing)}: run as root, or apt-get install {' '.join(missing)}"
        )
    log(f"installing the Debian packages the image build needs: {', '.join(missing)} (apt-get, once)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], "apt-get update", env, quiet=True)
    run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        "apt-get install",
        env,
        quiet=True,
    )


# --- buildah ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Buildah:
    root: Path

    @property
    def global_flags(self) -> list[str]:
        return [
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            "--storage-driver",
            "overlay",
        ]

    def env(self) -> dict[str, str]:
        # TMPDIR holds buildah's RUN --mount=type=cache folders; the pip cache one is the host's.
        return {**os.environ, "TMPDIR": str(self.root / "tmp"), "BUILDAH_ISOLATION": "chroot"}

    def cmd(self, *args: str) -> list[str]:
        return ["buildah", *self.global_flags, *args]

    def has_image(self, ref: str) -> bool:
        result = subprocess.run(
            self.cmd("inspect", "--type", "image", ref), env=self.env(), capture_output=True
        )
        return result.returncode == 0

    def image_id(self, ref: str) -> str:
        return "sha256:" + output(
            self.cmd("images", "--no-trunc", "--format", "{{.ID}}", ref), self.env()
        ).split()[0].removeprefix("sha256:")

    def prepare(self) -> None:
        for name in ("storage", "run", "tmp/buildah-cache", "archives", "base"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        pip_cache = Path("~/.cache/pip").expanduser()
        pip_cache.mkdir(parents=True, exist_ok=True)
        # RUN --mount=type=cache,id=kubefactory-pip in the Dockerfiles: buildah keeps it here
        link = self.root / "tmp" / "buildah-cache" / "kubefactory-pip"
        if not link.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                link.rmdir()
            link.symlink_to(pip_cache)

    def bud(self, dockerfile_path: Path, tag: str, args: dict[str, str], context: Path, what: str) -> None:
        cmd = self.cmd(
            "bud", "--layers", "--isolation", "chroot", "--pull-never", "-f", str(dockerfile_path), "-t", tag
        )
        for name, value in sorted(args.items()):
            cmd += ["--build-arg", f"{name}={value}"]
        if ca := host_ca_bundle():
            # This machine's TLS goes through a proxy whose CA only the host trusts: lend the host's
            # bundle to RUN steps (a bind mount, not part of any layer).
            cmd += ["-v", f"{ca}:/etc/ssl/certs/ca-certificates.crt:ro"]
        run([*cmd, str(context)], what, self.env())


def host_ca_bundle() -> str | None:
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return str(Path(candidate).resolve())
    return None


# --- local bases -----------------------------------------------------------------------------


def _sources() -> tuple[list[str], str]:
    """mmdebstrap's mirror argument: the host's Debian sources (with its mirror and security suite)."""
    if HOST_SOURCES.is_file():
        return [str(HOST_SOURCES)], HOST_SOURCES.read_text()
    return [], "default"


def base_key() -> str:
    _, sources_text = _sources()
    blob = json.dumps(
        [FORMAT, SUITE, BASE_PACKAGES, sources_text, (REPO_ROOT / "hack/images/base.Dockerfile").read_text()]
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def base_ref() -> str:
    return f"localhost/kubefactory/base:{SUITE}-{base_key()}"


def go_base_key() -> str:
    blob = json.dumps(
        [base_key(), GO_BASE_PACKAGES, (REPO_ROOT / "hack/images/base-go.Dockerfile").read_text()]
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def go_base_ref() -> str:
    return f"localhost/kubefactory/base-go:{SUITE}-{go_base_key()}"


def ensure_base(buildah: Buildah) -> str:
    ref = base_ref()
    if buildah.has_image(ref):
        return ref
    log(
        f"first build: a Debian {SUITE} base ({', '.join(BASE_PACKAGES)}) with mmdebstrap, {EXPECTED['@base']}"
    )
    started = time.monotonic()
    context = buildah.root / "base" / base_key()
    context.mkdir(parents=True, exist_ok=True)
    rootfs = context / "rootfs.tar"
    mirror, _ = _sources()
    partial = context / "rootfs.tar.partial"
    run(
        [
            "mmdebstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
            "--aptopt=Acquire::Retries \"3\"",
            # no documentation in an image; the licences stay
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
            "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/info/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--format=tar", SUITE, str(partial), *mirror,
        ],
        "mmdebstrap",
        quiet=True,
    )  # fmt: skip
    os.replace(partial, rootfs)
    shutil.copyfile(REPO_ROOT / "hack/images/base.Dockerfile", context / "Dockerfile")
    buildah.bud(context / "Dockerfile", ref, {}, context, "base image")
    shutil.rmtree(context)
    log(f"base {ref} ready in {time.monotonic() - started:.0f}s")
    return ref


def ensure_go_base(buildah: Buildah) -> str:
    ref = go_base_ref()
    if buildah.has_image(ref):
        return ref
    base = ensure_base(buildah)
    log(
        f"first build: a Go toolchain image (Debian's {', '.join(GO_BASE_PACKAGES)}) for pause, {EXPECTED['@go-base']}"
    )
    dockerfile_path = REPO_ROOT / "hack/images/base-go.Dockerfile"
    buildah.bud(dockerfile_path, ref, {"BASE": base}, dockerfile_path.parent, "Go base image")
    return ref


# --- cache keys and archives -----------------------------------------------------------------


def _context_files(source: str) -> Iterator[Path]:
    path = REPO_ROOT / source
    matches = sorted(REPO_ROOT.glob(source)) if any(c in source for c in "*?[") else [path]
    if not matches or not all(m.exists() for m in matches):
        raise FileNotFoundError(f"the build copies {source!r}, which is not in {REPO_ROOT}")
    for match in matches:
        candidates = [match] if match.is_file() else sorted(p for p in match.rglob("*") if p.is_file())
        for candidate in candidates:
            relative = candidate.relative_to(REPO_ROOT)
            if IGNORED_PARTS.intersection(relative.parts) or candidate.name.endswith(IGNORED_SUFFIXES):
                continue  # .dockerignore leaves these out of the context
            yield candidate


def image_key(name: str, args: dict[str, str]) -> str:
    """A digest of everything the image is built from: a different key means a different image."""
    path = names.dockerfile(name)
    parsed = dockerfile.load(str(path))
    digest = hashlib.sha256()
    digest.update(json.dumps([FORMAT, name, names.IMAGES[name], sorted(args.items())]).encode())
    digest.update(path.read_bytes())
    digest.update((REPO_ROOT / ".dockerignore").read_bytes())
    for source in parsed.context_sources():
        for file in _context_files(source):
            digest.update(str(file.relative_to(REPO_ROOT)).encode() + b"\0")
            digest.update(b"x" if os.access(file, os.X_OK) else b"-")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]


def resolved_args(name: str) -> dict[str, str]:
    """The build arguments with the local bases' references in place of @base/@go-base."""
    refs = {"@base": base_ref(), "@go-base": go_base_ref()}
    return {key: refs.get(value, value) for key, value in LOCAL_ARGS[name].items()}


@dataclass(frozen=True)
class Archive:
    name: str
    ref: str
    key: str
    path: Path

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")

    def exists(self) -> bool:
        return self.path.is_file() and self.meta_path.is_file()

    def meta(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.meta_path.read_text())
        return loaded


def archive_for(name: str) -> Archive:
    if name not in LOCAL_ARGS:
        raise SystemExit(f"[images] {name} is not built on this machine (local: {', '.join(LOCAL_ARGS)})")
    key = image_key(name, resolved_args(name))
    return Archive(name, names.IMAGES[name], key, cache_root() / "archives" / f"{name}-{key}.tar")


def archives() -> dict[str, Archive]:
    """Every locally built image's archive (it may not exist yet: see :meth:`Archive.exists`)."""
    return {name: archive_for(name) for name in names.LOCAL_IMAGES}


def build_one(buildah: Buildah, name: str, force: bool = False) -> Archive:
    archive = archive_for(name)
    if archive.exists() and not force:
        log(f"{name}: cached ({archive.path.name})")
        return archive
    args = resolved_args(name)
    if "@go-base" in LOCAL_ARGS[name].values():
        ensure_go_base(buildah)
    else:
        ensure_base(buildah)
    warm = buildah.has_image(archive.ref)
    log(f"{name}: building {archive.ref}" + ("" if warm else f" (first build: {EXPECTED[name]})"))
    started = time.monotonic()
    buildah.bud(names.dockerfile(name), archive.ref, args, REPO_ROOT, f"build {name}")
    built = time.monotonic() - started
    partial = archive.path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    run(
        buildah.cmd("push", "--quiet", archive.ref, f"docker-archive:{partial}:{archive.ref}"),
        f"save {name}",
        buildah.env(),
    )
    meta = {
        "name": name,
        "ref": archive.ref,
        "key": archive.key,
        "image_id": buildah.image_id(archive.ref),
        "archive_bytes": partial.stat().st_size,
        "build_seconds": round(built),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    os.replace(partial, archive.path)
    for stale in stale_archives(cache_root() / "archives", name, keep=archive.path):
        stale.unlink(missing_ok=True)
    archive.meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    log(f"{name}: built in {built:.0f}s, archive {_human(int(meta['archive_bytes']))} at {archive.path}")  # type: ignore[call-overload]
    return archive


KEPT_ARCHIVES = 2


def stale_archives(folder: Path, name: str, keep: Path) -> list[Path]:
    """Archives of ``name`` beyond the newest ``KEPT_ARCHIVES`` (``keep`` always stays).

    Archives are GBs, so old ones go; but two checkouts sharing the cache (a CI clone beside a
    working tree one commit apart) would evict each other's only archive on every run and rebuild.
    """
    pattern = re.compile(rf"{re.escape(name)}-[0-9a-f]{{16}}\.(tar|partial)")
    found = [path for path in folder.iterdir() if pattern.fullmatch(path.name) and path != keep]
    leftovers = [path for path in found if path.suffix == ".partial"]  # a killed save
    tars = sorted((path for path in found if path.suffix == ".tar"), key=lambda p: p.stat().st_mtime)
    stale = tars[: max(0, len(tars) - (KEPT_ARCHIVES - 1))]
    return [path for tar in stale for path in (tar, tar.with_suffix(".json"))] + leftovers


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    import fcntl

    cache_root().mkdir(parents=True, exist_ok=True)
    with open(cache_root() / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("another image build holds the lock; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def build(images: Sequence[str] = names.LOCAL_IMAGES, force: bool = False) -> dict[str, Archive]:
    started = time.monotonic()
    with build_lock():
        wanted = {name: archive_for(name) for name in images}
        if all(archive.exists() for archive in wanted.values()) and not force:
            for name, archive in wanted.items():
                log(f"{name}: cached ({archive.path.name})")
            return wanted
        ensure_tools()
        buildah = Buildah(cache_root())
        buildah.prepare()
        if not buildah.has_image(base_ref()):
            log(
                "first image build on this machine: about 8 minutes on 2 cores (a Debian base, then each image;"
                " runtime-cpu downloads torch and its CUDA wheels). Later builds reuse every unchanged layer."
            )
        result = {name: build_one(buildah, name, force) for name in images}
    log(f"done in {time.monotonic() - started:.0f}s")
    return result


# --- containerd ------------------------------------------------------------------------------


def ctr_command(address: str, namespace: str, *args: str) -> list[str]:
    ctr = shutil.which("ctr")
    if ctr is None:
        raise SystemExit("[images] ctr not found (Debian package containerd)")
    return [ctr, "--address", address, "--namespace", namespace, *args]


def imported_config_digest(address: str, namespace: str, ref: str) -> str | None:
    """The config digest of ``ref`` in containerd, or None when it has no such image."""
    listing = output(ctr_command(address, namespace, "images", "ls", f"name=={ref}"))
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[0] == ref:
            manifest = json.loads(output(ctr_command(address, namespace, "content", "get", fields[2])))
            config = manifest.get("config", {})
            return str(config.get("digest")) if config else None
    return None


def import_images(address: str, images: Sequence[str], namespace: str = "k8s.io") -> None:
    for name in images:
        archive = archive_for(name)
        if not archive.exists():
            raise SystemExit(
                f"[images] {name} is not built (or its sources changed): run `make images` first"
            )
        image_id = str(archive.meta()["image_id"])
        if imported_config_digest(address, namespace, archive.ref) == image_id:
            log(f"{name}: already in containerd ({archive.ref}, {image_id[:19]})")
            continue
        run(ctr_command(address, namespace, "images", "import", str(archive.path)), f"import {name}")
        found = imported_config_digest(address, namespace, archive.ref)
        if found != image_id:
            raise RuntimeError(f"{archive.ref}: containerd holds config {found}, the archive has {image_id}")
        log(f"{name}: imported {archive.ref}")


# --- smoke checks ----------------------------------------------------------------------------

CHECKS: dict[str, list[tuple[str, list[str]]]] = {
    "operator": [
        ("runs as uid 1000", ["sh", "-c", 'test "$(id -u):$(id -g)" = 1000:1000']),
        (
            "imports the operator, kopf and kubernetes",
            ["python", "-c", "import kubefactory.operator.run, kopf, kubernetes"],
        ),
        (
            "has no torch",
            ["python", "-c", "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"],
        ),
        ("--help", ["python", "-m", "kubefactory.operator", "--help"]),
    ],
    "runtime-cpu": [
        (
            "runs as uid 1000 with a writable HOME",
            ["sh", "-c", 'test "$(id -u)" = 1000 && touch "$HOME/.w" && rm "$HOME/.w"'],
        ),
        ("kubefactory --help", ["kubefactory", "--help"]),
        ("torchrun is on PATH", ["torchrun", "--help"]),
        (
            "imports torch, transformers, peft, trl",
            ["python", "-c", "import torch, transformers, peft, trl, fastapi"],
        ),
        ("builds the tiny model", ["kubefactory", "tiny-model"]),
    ],
    "pause": [
        ("prints its version", ["/pause", "-v"]),
    ],
}


def check(images: Sequence[str]) -> None:
    buildah = Buildah(cache_root())
    for name in images:
        archive = archive_for(name)
        if not buildah.has_image(archive.ref):
            raise SystemExit(f"[images] {name} is not built: run `make images` first")
        container = output(buildah.cmd("from", "--pull-never", archive.ref), buildah.env()).strip()
        try:
            for what, command in CHECKS[name]:
                run(
                    buildah.cmd("run", container, "--", *command),
                    f"{name}: {what}",
                    buildah.env(),
                    quiet=True,
                )
                log(f"{name}: ok: {what}")
        finally:
            subprocess.run(buildah.cmd("rm", container), env=buildah.env(), capture_output=True)


# --- CLI -------------------------------------------------------------------------------------


def _images(values: Sequence[str]) -> list[str]:
    chosen = list(values) or list(names.LOCAL_IMAGES)
    unknown = [value for value in chosen if value not in LOCAL_ARGS]
    if unknown:
        raise SystemExit(
            f"[images] cannot build {', '.join(unknown)} here (local images: {', '.join(LOCAL_ARGS)})"
        )
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hack/images/build.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="build the images (cached by content)")
    build_cmd.add_argument("images", nargs="*")
    build_cmd.add_argument("--force", action="store_true", help="rebuild even when the archive is cached")
    list_cmd = sub.add_parser("list", help="print name, reference and archive of each local image")
    list_cmd.add_argument("--json", action="store_true")
    import_cmd = sub.add_parser("import", help="import the archives into containerd (ctr images import)")
    import_cmd.add_argument("--address", required=True, help="containerd's socket")
    import_cmd.add_argument("--namespace", default="k8s.io", help="containerd namespace (the CRI's: k8s.io)")
    import_cmd.add_argument("images", nargs="*")
    check_cmd = sub.add_parser("check", help="run smoke checks inside each built image")
    check_cmd.add_argument("images", nargs="*")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            build(_images(args.images), args.force)
        elif args.command == "list":
            found = archives()
            if args.json:
                print(
                    json.dumps(
                        {
                            name: {"ref": a.ref, "archive": str(a.path), "built": a.exists()}
                            for name, a in found.items()
                        },
                        indent=2,
                    )
                )
            else:
                for name, archive in found.items():
                    print(f"{name}\t{archive.ref}\t{archive.path if archive.exists() else '(not built)'}")
        elif args.command == "import":
            import_images(args.address, _images(args.images), args.namespace)
        elif args.command == "check":
            check(_images(args.images))
    except (RuntimeError, FileNotFoundError) as err:
        print(f"[images] error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
