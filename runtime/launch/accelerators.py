"""Which accelerators this process sees, and how each vendor is driven (data, not if-chains)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AcceleratorProfile:
    vendor: str  # nvidia | amd | ascend | cpu
    visible_devices_env: tuple[str, ...]
    backend: str  # torch.distributed backend


PROFILES: dict[str, AcceleratorProfile] = {
    "nvidia": AcceleratorProfile("nvidia", ("CUDA_VISIBLE_DEVICES",), "nccl"),
    "amd": AcceleratorProfile("amd", ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"), "nccl"),  # RCCL behind nccl
    "ascend": AcceleratorProfile("ascend", ("ASCEND_RT_VISIBLE_DEVICES",), "hccl"),
    "cpu": AcceleratorProfile("cpu", (), "gloo"),
}


@dataclass(frozen=True)
class Accelerator:
    vendor: str
    count: int

    @property
    def profile(self) -> AcceleratorProfile:
        return PROFILES[self.vendor]


def detect_accelerator() -> Accelerator:
    """Ascend first (torch_npu patches torch.cuda-like APIs), then ROCm/CUDA, else CPU."""
    import torch

    try:
        import torch_npu  # type: ignore[import-not-found]  # noqa: F401

        if torch.npu.is_available():  # type: ignore[attr-defined]
            return Accelerator("ascend", torch.npu.device_count())  # type: ignore[attr-defined]
    except ImportError:
        pass
    if torch.cuda.is_available():
        vendor = "amd" if getattr(torch.version, "hip", None) else "nvidia"
        return Accelerator(vendor, torch.cuda.device_count())
    return Accelerator("cpu", 0)
