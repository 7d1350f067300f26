"""`kubefactory env`: what a bug report needs to know about this machine."""

from __future__ import annotations

import importlib.metadata
import platform

from . import __version__

_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "datasets",
    "accelerate",
    "deepspeed",
    "kopf",
    "vllm",
    "sglang",
)


def _version_of(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def collect_env() -> dict[str, str]:
    info = {"kubefactory": __version__, "platform": platform.platform(), "python": platform.python_version()}
    info.update({name: _version_of(name) for name in _PACKAGES})
    from .launch.accelerators import detect_accelerator

    accel = detect_accelerator()
    info["accelerator"] = f"{accel.vendor} × {accel.count}" if accel.count else "cpu only"
    return info
