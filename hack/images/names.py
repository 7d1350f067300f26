"""The images' names, as the operator renders them (one place the node set-up and tests import).

Read from the sources rather than imported, so that standard-library Python (no kubefactory
installed) can use them: the registry from the accelerator table (``runtime/contract/accelerators.py``, ``IMAGE_REGISTRY``), the tag
from ``runtime/__init__.py`` (``__version__``). A unit test checks they agree with the profiles.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _string_constant(path: Path, name: str) -> str:
    for node in ast.parse(path.read_text(), str(path)).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise LookupError(f"{path}: no string constant {name}")


REGISTRY = _string_constant(REPO_ROOT / "runtime" / "contract" / "accelerators.py", "IMAGE_REGISTRY")
VERSION = _string_constant(REPO_ROOT / "runtime" / "__init__.py", "__version__")
PAUSE_TAG = "3.10"  # the Kubernetes pause release whose role it plays

# short name (= folder under images/) -> full reference
IMAGES: dict[str, str] = {
    "operator": f"{REGISTRY}/operator:{VERSION}",
    "runtime-cpu": f"{REGISTRY}/runtime-cpu:{VERSION}",
    "runtime-cuda": f"{REGISTRY}/runtime-cuda:{VERSION}",
    "runtime-rocm": f"{REGISTRY}/runtime-rocm:{VERSION}",
    "runtime-ascend": f"{REGISTRY}/runtime-ascend:{VERSION}",
    "pause": f"{REGISTRY}/pause:{PAUSE_TAG}",
}
# What this machine can build (the GPU images need their vendors' bases from registries).
LOCAL_IMAGES: tuple[str, ...] = ("operator", "runtime-cpu", "pause")

OPERATOR_IMAGE = IMAGES["operator"]
RUNTIME_CPU_IMAGE = IMAGES["runtime-cpu"]
PAUSE_IMAGE = IMAGES["pause"]  # containerd's sandbox_image on the local node


def dockerfile(name: str) -> Path:
    if name not in IMAGES:
        raise KeyError(f"unknown image {name!r}: expected one of {', '.join(IMAGES)}")
    return REPO_ROOT / "images" / name / "Dockerfile"
