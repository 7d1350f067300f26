"""The accelerator table: everything that differs between CUDA, ROCm, Ascend and CPU nodes, once.

The operator builds pods from it (extended resource, visibility variables it sets, backend,
default image, driver mounts, tolerations); the trainer's launcher and the serving launchers read
the same rows (backend, torch device type, which variables say how many devices are visible).
Adding a vendor is adding a row.

Visibility variables, and why AMD lists CUDA_VISIBLE_DEVICES only as *honoured*:
``visible_devices`` are what the operator sets in a pod (every device it was given, from 0);
``honoured_devices`` are further variables the vendor's libraries obey, which the runtime reads
when counting devices but the operator never sets. ROCm's HIP runtime accepts
``CUDA_VISIBLE_DEVICES`` as an alias of ``HIP_VISIBLE_DEVICES``, so a user (or a tool) may restrict
devices with it and the runtime must count that; but setting it on top of HIP_/ROCR_ would add a
third filter applied after the first two, and a stale value (e.g. from an image built for CUDA)
would then hide devices the pod was given. The operator therefore sets only the ROCm-native pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .. import __version__

IMAGE_REGISTRY = "ghcr.io/kubefactory"


class HostMount(BaseModel):
    """A driver path of the node, mounted read-only at the same path in the container."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    type: str = ""  # hostPath type: "" (no check), Directory, File


class Accelerator(BaseModel):
    model_config = ConfigDict(frozen=True)

    vendor: str
    resource: str | None  # the device plugin's extended resource; None: no devices (CPU)
    visible_devices: tuple[str, ...]  # set by the operator; read first by the runtime
    honoured_devices: tuple[str, ...] = ()  # also obeyed by the vendor's libraries; read, never set
    backend: str  # torch.distributed backend (RCCL answers to "nccl" on ROCm)
    device_type: str  # torch device type
    image: str  # the runtime image's name under IMAGE_REGISTRY
    host_mounts: tuple[HostMount, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)  # further variables a pod of this vendor needs

    @property
    def default_image(self) -> str:
        return f"{IMAGE_REGISTRY}/{self.image}:{__version__}"

    @property
    def tolerations(self) -> tuple[dict[str, Any], ...]:
        """Accelerator pools are commonly tainted with their resource name."""
        if self.resource is None:
            return ()
        return ({"key": self.resource, "operator": "Exists", "effect": "NoSchedule"},)

    @property
    def read_variables(self) -> tuple[str, ...]:
        """The variables the runtime reads to count visible devices, most specific first."""
        return (*self.visible_devices, *self.honoured_devices)

    def devices(self, count: int) -> str:
        return ",".join(str(index) for index in range(count))


ASCEND_DRIVER_MOUNTS = (
    HostMount(name="ascend-driver", path="/usr/local/Ascend/driver", type="Directory"),
    HostMount(name="ascend-add-ons", path="/usr/local/Ascend/add-ons"),
    HostMount(name="ascend-dcmi", path="/usr/local/dcmi"),
    HostMount(name="ascend-npu-smi", path="/usr/local/bin/npu-smi", type="File"),
    HostMount(name="ascend-install-info", path="/etc/ascend_install.info", type="File"),
    HostMount(name="ascend-hccn", path="/etc/hccn.conf"),  # the NPUs' network addresses, read by HCCL
)

# The Ascend row sets no LD_LIBRARY_PATH: the runtime-ascend image sets it to the CANN toolkit's
# and the driver's libraries (images/), and a value set in the pod would replace the image's.
ACCELERATORS: dict[str, Accelerator] = {
    "nvidia": Accelerator(
        vendor="nvidia",
        resource="nvidia.com/gpu",
        visible_devices=("CUDA_VISIBLE_DEVICES",),
        backend="nccl",
        device_type="cuda",
        image="runtime-cuda",
    ),
    # ROCm goes through torch's CUDA API; RCCL sits behind the nccl backend name
    "amd": Accelerator(
        vendor="amd",
        resource="amd.com/gpu",
        visible_devices=("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"),
        honoured_devices=("CUDA_VISIBLE_DEVICES",),
        backend="nccl",
        device_type="cuda",
        image="runtime-rocm",
    ),
    "ascend": Accelerator(
        vendor="ascend",
        resource="huawei.com/Ascend910",
        visible_devices=("ASCEND_RT_VISIBLE_DEVICES",),
        backend="hccl",
        device_type="npu",
        image="runtime-ascend",
        host_mounts=ASCEND_DRIVER_MOUNTS,
    ),
    "cpu": Accelerator(
        vendor="cpu",
        resource=None,
        visible_devices=(),
        backend="gloo",
        device_type="cpu",
        image="runtime-cpu",
    ),
}


def visibility_variables() -> tuple[str, ...]:
    """Every visibility variable of the table, in table order, each once (for a process that does
    not know its vendor, such as a serving launcher)."""
    seen: dict[str, None] = {}
    for row in ACCELERATORS.values():
        seen.update(dict.fromkeys(row.read_variables))
    return tuple(seen)


def visible_count(variables: tuple[str, ...], env: Mapping[str, str]) -> int | None:
    """Devices the first of ``variables`` present in ``env`` allows; None when none is set."""
    for name in variables:
        if name in env:
            return len([item for item in env[name].split(",") if item.strip() and item.strip() != "-1"])
    return None
