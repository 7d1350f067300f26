"""Which accelerators this process sees, and how each vendor is driven (data, not if-chains).

`choose_accelerator` is a pure function of what the drivers report, so the choice for every
vendor is tested on a CPU machine; `detect_accelerator` only gathers those facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..contract.accelerators import ACCELERATORS, visible_count
from ..contract.accelerators import Accelerator as AcceleratorProfile

# the one table, shared with the operator's pod builders (kubefactory.runtime.contract.accelerators)
PROFILES: dict[str, AcceleratorProfile] = ACCELERATORS


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
    return visible_count(PROFILES[vendor].read_variables, env)


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
