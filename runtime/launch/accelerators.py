"""Which accelerators this process sees, and how each vendor is driven (data, not if-chains).

`choose_accelerator` is a pure function of what the drivers report, so the choice for every
vendor is tested on a CPU machine; `detect_accelerator` only gathers those facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class AcceleratorProfile:
    vendor: str  # nvidia | amd | ascend | cpu
    visible_devices_env: tuple[str, ...]
    backend: str  # torch.distributed backend
    device_type: str  # torch device type


PROFILES: dict[str, AcceleratorProfile] = {
    "nvidia": AcceleratorProfile("nvidia", ("CUDA_VISIBLE_DEVICES",), "nccl", "cuda"),
    # ROCm goes through torch's CUDA API; RCCL sits behind the nccl backend name
    "amd": AcceleratorProfile(
        "amd", ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"), "nccl", "cuda"
    ),
    "ascend": AcceleratorProfile("ascend", ("ASCEND_RT_VISIBLE_DEVICES",), "hccl", "npu"),
    "cpu": AcceleratorProfile("cpu", (), "gloo", "cpu"),
}


@dataclass(frozen=True)
class Accelerator:
    vendor: str
    count: int

    @property
    def profile(self) -> AcceleratorProfile:
        return PROFILES[self.vendor]

    @property
    def backend(self) -> str:
        return self.profile.backend


@dataclass(frozen=True)
class DriverFacts:
    """What the installed drivers say, gathered by `driver_facts` (the only impure part)."""

    npu_count: int = 0  # torch_npu importable and torch.npu.device_count()
    cuda_count: int = 0  # torch.cuda.device_count() when available
    hip_version: str | None = None  # torch.version.hip: set on ROCm builds of torch


def choose_accelerator(facts: DriverFacts) -> Accelerator:
    """Ascend first (torch_npu also patches CUDA-like APIs), then ROCm/CUDA, else the CPU."""
    if facts.npu_count > 0:
        return Accelerator("ascend", facts.npu_count)
    if facts.cuda_count > 0:
        return Accelerator("amd" if facts.hip_version else "nvidia", facts.cuda_count)
    return Accelerator("cpu", 0)


def visible_device_count(vendor: str, env: Mapping[str, str]) -> int | None:
    """Devices the vendor's visibility variable allows; None when it is not set."""
    for name in PROFILES[vendor].visible_devices_env:
        if name in env:
            return len([item for item in env[name].split(",") if item.strip() and item.strip() != "-1"])
    return None


def driver_facts() -> DriverFacts:
    import torch

    npu_count = 0
    try:
        import torch_npu  # type: ignore[import-not-found]  # noqa: F401

        if torch.npu.is_available():  # type: ignore[attr-defined]
            npu_count = int(torch.npu.device_count())  # type: ignore[attr-defined]
    except ImportError:
        pass
    cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return DriverFacts(npu_count, cuda_count, getattr(torch.version, "hip", None))


def detect_accelerator() -> Accelerator:
    return choose_accelerator(driver_facts())
