"""The device and backend choice for each vendor, from what the drivers report (no accelerator needed)."""

from __future__ import annotations

import pytest
from kubefactory.runtime.launch.accelerators import (
    Accelerator,
    DriverFacts,
    choose_accelerator,
    visible_device_count,
)


@pytest.mark.parametrize(
    ("facts", "vendor", "count", "backend", "device_type"),
    [
        (DriverFacts(), "cpu", 0, "gloo", "cpu"),
        (DriverFacts(cuda_count=8), "nvidia", 8, "nccl", "cuda"),
        (
            DriverFacts(cuda_count=4, hip_version="6.2.41133"),
            "amd",
            4,
            "nccl",
            "cuda",
        ),  # ROCm via torch.cuda, RCCL
        (DriverFacts(npu_count=8), "ascend", 8, "hccl", "npu"),
        (DriverFacts(npu_count=2, cuda_count=2), "ascend", 2, "hccl", "npu"),  # torch_npu wins
        (DriverFacts(cuda_count=0, hip_version="6.2"), "cpu", 0, "gloo", "cpu"),  # ROCm torch, no GPU
    ],
)
def test_choice_per_vendor(
    facts: DriverFacts, vendor: str, count: int, backend: str, device_type: str
) -> None:
    chosen = choose_accelerator(facts)
    assert chosen == Accelerator(vendor, count)
    assert (chosen.backend, chosen.profile.device_type) == (backend, device_type)


@pytest.mark.parametrize(
    ("vendor", "env", "expected"),
    [
        ("nvidia", {"CUDA_VISIBLE_DEVICES": "0,1,2"}, 3),
        ("nvidia", {"CUDA_VISIBLE_DEVICES": ""}, 0),
        ("nvidia", {"CUDA_VISIBLE_DEVICES": "-1"}, 0),
        ("nvidia", {}, None),
        ("amd", {"HIP_VISIBLE_DEVICES": "0,1"}, 2),
        ("amd", {"ROCR_VISIBLE_DEVICES": "3"}, 1),
        ("amd", {"CUDA_VISIBLE_DEVICES": "0,1,2"}, 3),  # honoured by HIP, never set by the operator
        ("amd", {"HIP_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES": "0,1,2"}, 1),  # the native one first
        ("ascend", {"ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3"}, 4),
        ("ascend", {"CUDA_VISIBLE_DEVICES": "0"}, None),
        ("cpu", {"CUDA_VISIBLE_DEVICES": "0"}, None),
    ],
)
def test_visible_devices_per_vendor(vendor: str, env: dict[str, str], expected: int | None) -> None:
    assert visible_device_count(vendor, env) == expected
