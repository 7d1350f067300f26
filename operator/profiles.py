"""Accelerator profiles, as the operator's builders see them.

The pod builder reads a profile and never asks which vendor it has. The table itself is part of
the pod contract (:mod:`kubefactory.runtime.contract.accelerators`), shared with the trainer's
launcher and the serving launchers: adding a vendor is adding a row there.
"""

from __future__ import annotations

from kubefactory.runtime.contract.accelerators import ACCELERATORS, IMAGE_REGISTRY, HostMount
from kubefactory.runtime.contract.accelerators import Accelerator as AcceleratorProfile

__all__ = [
    "ENGINE_IMAGES",
    "IMAGE_REGISTRY",
    "PROFILES",
    "AcceleratorProfile",
    "HostMount",
    "UnknownAccelerator",
    "profile_for",
]

# the one table, shared with the runtime (kubefactory.runtime.contract.accelerators)
PROFILES: dict[str, AcceleratorProfile] = ACCELERATORS


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
