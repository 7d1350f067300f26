"""hack/images/build.py without building: cache keys, the warm path, the containerd import decision."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from image_helpers import REPO_ROOT, names

build = importlib.import_module("hack.images.build")
COPIED = (
    "images",
    "runtime",
    "operator",
    "hack/images",
    ".dockerignore",
    "pyproject.toml",
    "setup.py",
    "README.md",
)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of what the images are built from, standing in for the repository root."""
    for item in COPIED:
        source, target = REPO_ROOT / item, tmp_path / item
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    monkeypatch.setattr(names, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(build, "REPO_ROOT", tmp_path)
    monkeypatch.setenv("KUBEFACTORY_CACHE", str(tmp_path / "cache"))
    return tmp_path


def key(name: str) -> str:
    return build.image_key(name, build.resolved_args(name))


def test_key_follows_what_the_image_copies(tree: Path) -> None:
    before = {name: key(name) for name in names.LOCAL_IMAGES}
    assert before == {name: key(name) for name in names.LOCAL_IMAGES}, "keys must be stable"
    with (tree / "runtime" / "cli.py").open("a") as handle:
        handle.write("# edited\n")
    after = {name: key(name) for name in names.LOCAL_IMAGES}
    assert after["operator"] != before["operator"] and after["runtime-cpu"] != before["runtime-cpu"]
    assert after["pause"] == before["pause"], "pause copies no Python"


def test_readme_edits_rebuild_no_image(tree: Path) -> None:
    """The images install a stub README: the real one changes often and is GBs of rebuild away."""
    before = {name: key(name) for name in names.LOCAL_IMAGES}
    with (tree / "README.md").open("a") as handle:
        handle.write("\nedited\n")
    assert {name: key(name) for name in names.LOCAL_IMAGES} == before


def test_two_archives_per_image_are_kept(tmp_path: Path) -> None:
    """A checkout one commit apart (CI's clone) keeps its archive; older ones and killed saves go."""
    made = []
    for age, digest in enumerate(["a" * 16, "b" * 16, "c" * 16]):
        tar = tmp_path / f"runtime-cpu-{digest}.tar"
        tar.write_bytes(b"")
        tar.with_suffix(".json").write_text("{}")
        os.utime(tar, (1000 + age, 1000 + age))
        made.append(tar)
    other = tmp_path / ("operator-" + "d" * 16 + ".tar")
    other.write_bytes(b"")
    partial = tmp_path / ("runtime-cpu-" + "e" * 16 + ".partial")
    partial.write_bytes(b"")
    new = tmp_path / ("runtime-cpu-" + "f" * 16 + ".tar")
    new.write_bytes(b"")
    stale = set(build.stale_archives(tmp_path, "runtime-cpu", keep=new))
    oldest, older, newest = made
    assert stale == {oldest, oldest.with_suffix(".json"), older, older.with_suffix(".json"), partial}
    assert newest not in stale and other not in stale and new not in stale


def test_key_ignores_what_dockerignore_leaves_out(tree: Path) -> None:
    before = key("operator")
    (tree / "operator" / "__pycache__").mkdir(exist_ok=True)
    (tree / "operator" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (tree / "tests").mkdir()
    (tree / "tests" / "test_new.py").write_text("")
    assert key("operator") == before


def test_key_follows_the_dockerfile_and_the_base(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = key("pause")
    dockerfile = tree / "images" / "pause" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "LABEL x=y\n")
    edited = key("pause")
    assert edited != before
    monkeypatch.setattr(build, "GO_BASE_PACKAGES", ("golang-go", "git"))
    assert key("pause") != edited


def test_key_follows_the_executable_bit(tree: Path) -> None:
    before = key("pause")
    source = tree / "images" / "pause" / "pause.go"
    source.chmod(source.stat().st_mode | stat.S_IXUSR)
    assert key("pause") != before


def test_warm_build_touches_no_tool(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for archive in build.archives().values():
        archive.path.parent.mkdir(parents=True, exist_ok=True)
        archive.path.write_bytes(b"")
        archive.meta_path.write_text("{}")

    def no_tools() -> None:
        raise AssertionError("a warm build must not install or run anything")

    monkeypatch.setattr(build, "ensure_tools", no_tools)
    result = build.build()
    assert set(result) == set(names.LOCAL_IMAGES)


def test_unknown_image_is_refused() -> None:
    with pytest.raises(SystemExit, match="cannot build runtime-cuda here"):
        build._images(["runtime-cuda"])


FAKE_CTR = """#!/bin/sh
# A stand-in for ctr: serves one image listing and its manifest, records imports.
echo "$@" >> "{log}"
case "$*" in
  *"images ls"*) printf 'REF TYPE DIGEST SIZE PLATFORMS LABELS\\n{ref} application/vnd.docker.distribution.manifest.v2+json sha256:m 1.0 MiB linux/amd64 -\\n' ;;
  *"content get sha256:m"*) printf '{{"config": {{"digest": "%s"}}}}' "$(cat "{config}")" ;;
  *"images import"*) echo "{image_id}" > "{config}" ;;
esac
"""


@pytest.mark.parametrize("already", [True, False])
def test_import_skips_an_image_containerd_already_has(
    tree: Path, monkeypatch: pytest.MonkeyPatch, already: bool
) -> None:
    archive = build.archive_for("pause")
    archive.path.parent.mkdir(parents=True, exist_ok=True)
    archive.path.write_bytes(b"")
    archive.meta_path.write_text(json.dumps({"image_id": "sha256:new"}))
    bin_dir, log, config = tree / "bin", tree / "ctr.log", tree / "config"
    bin_dir.mkdir()
    config.write_text("sha256:new" if already else "sha256:old")
    ctr = bin_dir / "ctr"
    ctr.write_text(FAKE_CTR.format(log=log, ref=archive.ref, config=config, image_id="sha256:new"))
    ctr.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    build.import_images("/run/x.sock", ["pause"])
    calls = log.read_text().splitlines()
    assert all(call.startswith("--address /run/x.sock --namespace k8s.io") for call in calls)
    assert any("images import" in call for call in calls) is (not already)
