"""What an image installs, read from pyproject.toml, so the Dockerfiles never repeat a version.

Run inside an image build (any Python >= 3.8 with pip; standard library otherwise)::

    python3 requirements.py extras pyproject.toml runtime serve   # requirement lines, one a line
    python3 requirements.py installed torch torch-npu              # NAME==VERSION of what is installed

``extras`` prints the base dependencies plus those of each extra; an extra that pyproject.toml does
not define is an error (a typo must fail the build, not install less). The image installs these
lines in a layer of its own, before the source is copied, so a source change reuses that layer.
``installed`` pins what a vendor base image already carries (its CUDA/ROCm/NPU build of torch) as
a pip constraint, so that resolving the requirements can never replace it with another build.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11 (some vendor bases): pip carries the same parser
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

PROJECT = "kubefactory"


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a project name in requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def requirements(pyproject: dict[str, Any], extras: list[str]) -> list[str]:
    """The base dependencies and each extra's, in order, each once; self-references expanded."""
    project = pyproject["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise SystemExit(
            f"requirements.py: pyproject.toml defines no extra {', '.join(map(repr, unknown))}"
            f" (it has: {', '.join(sorted(optional))})"
        )
    out: list[str] = []
    pending = list(project.get("dependencies", []))
    for extra in extras:
        pending += optional[extra]
    seen_extras = set(extras)
    while pending:
        requirement = pending.pop(0)
        if _name(requirement) == PROJECT:  # "kubefactory[other]" inside an extra
            for extra in re.findall(r"\[([^\]]*)\]", requirement)[0].split(","):
                extra = extra.strip()
                if extra and extra not in seen_extras:
                    seen_extras.add(extra)
                    pending += optional[extra]
            continue
        if requirement not in out:
            out.append(requirement)
    return out


def installed(names: list[str]) -> list[str]:
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            raise SystemExit(
                f"requirements.py: the base image has no {name!r} installed; "
                "a vendor base must bring its own build of it"
            ) from None
    return pins


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "extras":
        with open(argv[1], "rb") as handle:
            lines = requirements(tomllib.load(handle), argv[2:])
    elif len(argv) >= 2 and argv[0] == "installed":
        lines = installed(argv[1:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
