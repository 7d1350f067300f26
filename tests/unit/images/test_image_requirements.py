"""images/requirements.py: requirement lines per extra, read from pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

import pytest
from image_helpers import REPO_ROOT, load_requirements_script

script = load_requirements_script()
PYPROJECT = {
    "project": {
        "dependencies": ["pydantic>=2", "pyyaml"],
        "optional-dependencies": {
            "runtime": ["torch>=2.4", "pyyaml"],
            "serve": ["fastapi", "kubefactory[runtime]"],
            "operator": ["kopf"],
        },
    }
}


@pytest.mark.parametrize(
    ("extras", "expected"),
    [
        ([], ["pydantic>=2", "pyyaml"]),
        (["operator"], ["pydantic>=2", "pyyaml", "kopf"]),
        (["runtime"], ["pydantic>=2", "pyyaml", "torch>=2.4"]),
        (["serve"], ["pydantic>=2", "pyyaml", "fastapi", "torch>=2.4"]),  # kubefactory[runtime] expanded
        (["runtime", "serve"], ["pydantic>=2", "pyyaml", "torch>=2.4", "fastapi"]),
    ],
)
def test_requirements_per_extra(extras: list[str], expected: list[str]) -> None:
    assert script.requirements(PYPROJECT, extras) == expected


def test_unknown_extra_fails_naming_it() -> None:
    with pytest.raises(SystemExit, match="no extra 'gpu'"):
        script.requirements(PYPROJECT, ["gpu"])


def test_installed_pins_the_installed_version() -> None:
    import pydantic

    assert script.installed(["pydantic"]) == [f"pydantic=={pydantic.VERSION}"]
    with pytest.raises(SystemExit, match="no 'not-a-package' installed"):
        script.installed(["not-a-package"])


def test_command_line_on_the_real_pyproject() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "images/requirements.py"), "extras", str(REPO_ROOT / "pyproject.toml"), "operator"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = result.stdout.split()
    assert any(line.startswith("kopf") for line in lines)
    assert not any(line.startswith("torch") for line in lines)
