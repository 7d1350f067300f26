"""Accelerator profiles: everything that differs between CUDA, ROCm, Ascend and CPU nodes, as one table.

The pod builder reads a profile and never asks which vendor it has: adding a vendor is adding a
row here (and, in the runtime, to ``kubefactory.runtime.launch.accelerators``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubefactory.runtime import __version__

IMAGE_REGISTRY = "ghcr.io/kubefactory"


@dataclass(frozen=True)
class HostMount:
    """A driver path of the node, mounted read-only at the same path in the container."""

    name: str
    path: str
    type: str = ""  # hostPath type: "" (no check), Directory, File


@dataclass(frozen=True)
class AcceleratorProfile:
    vendor: str
    resource: str | None  # the device plugin's extended resource; None: no devices (CPU)
    visible_devices: tuple[str, ...]  # variables that list the devices a process may use
    backend: str  # torch.distributed backend (RCCL answers to "nccl" on ROCm)
    default_image: str
    host_mounts: tuple[HostMount, ...] = ()
    tolerations: tuple[dict[str, Any], ...] = ()  # taints accelerator pools commonly carry
    env: dict[str, str] = field(default_factory=dict)

    def devices(self, count: int) -> str:
        return ",".join(str(index) for index in range(count))


def _taint_toleration(key: str) -> dict[str, Any]:
    return {"key": key, "operator": "Exists", "effect": "NoSchedule"}


ASCEND_DRIVER_MOUNTS = (
    HostMount("ascend-driver", "/usr/local/Ascend/driver", "Directory"),
    HostMount("ascend-add-ons", "/usr/local/Ascend/add-ons"),
    HostMount("ascend-dcmi", "/usr/local/dcmi"),
    HostMount("ascend-npu-smi", "/usr/local/bin/npu-smi", "File"),
    HostMount("ascend-install-info", "/etc/ascend_install.info", "File"),
    HostMount("ascend-hccn", "/etc/hccn.conf"),  # the NPUs' network addresses, read by HCCL
)

PROFILES: dict[str, AcceleratorProfile] = {
    "nvidia": AcceleratorProfile(
        vendor="nvidia",
        resource="nvidia.com/gpu",
        visible_devices=("CUDA_VISIBLE_DEVICES",),
        backend="nccl",
        default_image=f"{IMAGE_REGISTRY}/runtime-cuda:{__version__}",
        tolerations=(_taint_toleration("nvidia.com/gpu"),),
    ),
    "amd": AcceleratorProfile(
        vendor="amd",
        resource="amd.com/gpu",
        visible_devices=("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"),
        backend="nccl",
        default_image=f"{IMAGE_REGISTRY}/runtime-rocm:{__version__}",
        tolerations=(_taint_toleration("amd.com/gpu"),),
    ),
    "ascend": AcceleratorProfile(
        vendor="ascend",
        resource="huawei.com/Ascend910",
        visible_devices=("ASCEND_RT_VISIBLE_DEVICES",),
        backend="hccl",
        default_image=f"{IMAGE_REGISTRY}/runtime-ascend:{__version__}",
        host_mounts=ASCEND_DRIVER_MOUNTS,
        tolerations=(_taint_toleration("huawei.com/Ascend910"),),
        env={"LD_LIBRARY_PATH": "/usr/local/Ascend/driver/lib64:/usr/local/Ascend/driver/lib64/common"},
    ),
    "cpu": AcceleratorProfile(
        vendor="cpu",
        resource=None,
        visible_devices=(),
        backend="gloo",
        default_image=f"{IMAGE_REGISTRY}/runtime-cpu:{__version__}",
    ),
}


class UnknownAccelerator(ValueError):
    """A vendor with no profile."""


def profile_for(vendor: str) -> AcceleratorProfile:
    if vendor not in PROFILES:
        raise UnknownAccelerator(
            f"unknown accelerator vendor {vendor!r}: expected one of {', '.join(PROFILES)}"
        )
    return PROFILES[vendor]


# Upstream images of the external engines, by accelerator. The built-in engine runs in the runtime
# image above. These follow the engines' releases ("latest"): pin them with the operator's
# engineImages setting. A pair missing here has no default; a ModelServer then names its image.
ENGINE_IMAGES: dict[str, dict[str, str]] = {
    "vllm": {"nvidia": "vllm/vllm-openai:latest", "amd": "rocm/vllm:latest"},
    "sglang": {"nvidia": "lmsysorg/sglang:latest"},
}
