"""The accelerator profile table, vendor by vendor."""

from __future__ import annotations

import pytest
from kubefactory.operator.profiles import PROFILES, UnknownAccelerator, profile_for

# vendor, resource, visible-devices variables, backend, image name, has driver mounts
TABLE = [
    ("nvidia", "nvidia.com/gpu", ("CUDA_VISIBLE_DEVICES",), "nccl", "runtime-cuda", False),
    ("amd", "amd.com/gpu", ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"), "nccl", "runtime-rocm", False),
    ("ascend", "huawei.com/Ascend910", ("ASCEND_RT_VISIBLE_DEVICES",), "hccl", "runtime-ascend", True),
    ("cpu", None, (), "gloo", "runtime-cpu", False),
]


@pytest.mark.parametrize(("vendor", "resource", "visible", "backend", "image", "mounts"), TABLE)
def test_profile(
    vendor: str, resource: str | None, visible: tuple[str, ...], backend: str, image: str, mounts: bool
) -> None:
    profile = profile_for(vendor)
    assert (profile.resource, profile.visible_devices, profile.backend) == (resource, visible, backend)
    assert f"/{image}:" in profile.default_image
    assert bool(profile.host_mounts) is mounts
    if resource:  # accelerator pools are commonly tainted with their resource name
        assert {"key": resource, "operator": "Exists", "effect": "NoSchedule"} in profile.tolerations
    else:
        assert profile.tolerations == ()


def test_every_vendor_of_the_api_has_a_profile() -> None:
    from typing import get_args

    from kubefactory.operator.api.common import Accelerator

    assert set(get_args(Accelerator)) == set(PROFILES)


def test_ascend_mounts_its_driver_read_only_paths() -> None:
    paths = {mount.path for mount in profile_for("ascend").host_mounts}
    assert {"/usr/local/Ascend/driver", "/usr/local/dcmi", "/usr/local/bin/npu-smi"} <= paths


def test_devices_are_listed_from_zero() -> None:
    assert profile_for("nvidia").devices(4) == "0,1,2,3"


def test_an_unknown_vendor_is_named_with_the_known_ones() -> None:
    with pytest.raises(
        UnknownAccelerator,
        match="unknown accelerator vendor 'intel': expected one of nvidia, amd, ascend, cpu",
    ):
        profile_for("intel")
