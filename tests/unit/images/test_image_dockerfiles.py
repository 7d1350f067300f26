"""Static checks of images/*/Dockerfile: what a platform team builds must be right before any build."""

from __future__ import annotations

import re
from typing import Any

import pytest
import tomllib
from image_helpers import REPO_ROOT, dockerfile, load_requirements_script, names
from kubefactory.operator.profiles import IMAGE_REGISTRY, PROFILES
from kubefactory.runtime import __version__

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
PYTHON_IMAGES = [name for name in names.IMAGES if name != "pause"]
RUNTIME_IMAGES = [name for name in names.IMAGES if name.startswith("runtime-")]
HEAVY = {"torch", "transformers", "peft", "trl", "accelerate", "deepspeed", "datasets", "torch-npu"}
requirements_script = load_requirements_script()


def load(name: str) -> Any:
    return dockerfile.load(str(names.dockerfile(name)))


def installed_extras(name: str) -> list[str]:
    """The extras named in the image's ``requirements.py extras <pyproject> EXTRA...`` step."""
    for run in load(name).of("RUN"):
        match = re.search(r"requirements\.py extras \S+ ([a-z ,-]+?)\s*>", run.arguments)
        if match:
            return match.group(1).split()
    raise AssertionError(f"{name}: no `requirements.py extras` step")


def test_every_image_folder_is_named() -> None:
    folders = {path.parent.name for path in (REPO_ROOT / "images").glob("*/Dockerfile")}
    assert folders == set(names.IMAGES)


@pytest.mark.parametrize("name", names.IMAGES)
def test_dockerfile_parses_and_takes_its_base_as_an_argument(name: str) -> None:
    parsed = load(name)
    base_arg = "GO_BASE" if name == "pause" else "BASE"
    assert parsed.global_args()[base_arg], f"{name}: ARG {base_arg} needs a default (a real base image)"
    first_from = parsed.of("FROM")[0].words()[0]
    assert first_from == f"${{{base_arg}}}", (
        f"{name}: FROM must use ${{{base_arg}}} so local builds can substitute it"
    )


@pytest.mark.parametrize("name", names.IMAGES)
def test_image_ends_as_a_non_root_numeric_user(name: str) -> None:
    user = load(name).final_user()
    assert user is not None, f"{name}: no USER in the final stage"
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, f"{name}: USER {user!r} must be a numeric non-root uid"
    assert gid.isdigit() and int(gid) != 0, f"{name}: USER {user!r} must name a non-root gid"


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_python_images_run_as_the_operators_pod_user(name: str) -> None:
    from kubefactory.operator.settings import OperatorSettings

    settings = OperatorSettings()
    assert load(name).final_user() == f"{settings.run_as_user}:{settings.run_as_group}"


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_image_installs_extras_that_pyproject_defines(name: str) -> None:
    extras = installed_extras(name)
    assert extras
    assert set(extras) <= set(EXTRAS), f"{name}: unknown extras {set(extras) - set(EXTRAS)}"


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_dependencies_are_installed_before_the_source_is_copied(name: str) -> None:
    """The dependency layer (torch) must not depend on the source, or every edit reinstalls it."""
    stage = load(name).final_stage()
    install = next(
        i for i, item in enumerate(stage) if item.command == "RUN" and "requirements.txt" in item.arguments
    )
    source = next(
        i for i, item in enumerate(stage) if item.command == "COPY" and item.words()[0] == "runtime"
    )
    assert install < source
    copied_before = [
        item.words()[:-1] for item in stage[:install] if item.command == "COPY" and "from" not in item.flags
    ]
    assert all(path == "images/requirements.py" for paths in copied_before for path in paths), (
        f"{name}: only the requirement lines may feed the dependency layer, not {copied_before}"
    )


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_pip_steps_use_the_shared_cache_mount(name: str) -> None:
    """hack/images/build.py lends the host's pip cache under this id; no pip cache lands in a layer."""
    for run in load(name).of("RUN"):
        if "pip install" in run.arguments:
            assert "type=cache,id=kubefactory-pip,target=/root/.cache/pip" in run.flags.get("mount", ""), (
                run.arguments
            )


def test_operator_image_has_no_torch() -> None:
    assert installed_extras("operator") == ["operator"]
    lines = requirements_script.requirements(PYPROJECT, ["operator"])
    assert {requirements_script._name(line) for line in lines} & HEAVY == set()
    entrypoint = load("operator").of("ENTRYPOINT")[-1].words()
    assert entrypoint == ["python", "-m", "kubefactory.operator"]


@pytest.mark.parametrize("name", RUNTIME_IMAGES)
def test_runtime_images_have_what_pods_run(name: str) -> None:
    """Pods run `kubefactory ...` and `torchrun` (operator/builders): runtime brings torch, serve the API."""
    assert {"runtime", "serve"} <= set(installed_extras(name))


@pytest.mark.parametrize(
    ("name", "base_prefix"),
    [
        ("runtime-cuda", "pytorch/pytorch:"),
        ("runtime-rocm", "rocm/pytorch:"),
        ("runtime-ascend", "quay.io/ascend/cann:"),
    ],
)
def test_accelerator_images_keep_their_vendors_torch(name: str, base_prefix: str) -> None:
    parsed = load(name)
    assert parsed.global_args()["BASE"].startswith(base_prefix)
    assert "deepspeed" in installed_extras(name)
    install = next(
        run.arguments for run in parsed.of("RUN") if "-r /opt/kubefactory/requirements.txt" in run.arguments
    )
    assert "requirements.py installed torch" in install, f"{name}: the base's torch must be pinned"
    assert "-c /opt/kubefactory/constraints.txt" in install


def test_cuda_image_asks_the_container_toolkit_for_compute() -> None:
    env = " ".join(item.arguments for item in load("runtime-cuda").of("ENV"))
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility" in env


def test_ascend_image_has_torch_npu_and_the_cann_environment() -> None:
    parsed = load("runtime-ascend")
    runs = " ".join(run.arguments for run in parsed.of("RUN"))
    assert "torch-npu==${TORCH_NPU_VERSION}" in runs
    assert "requirements.py installed torch torch-npu" in runs
    assert "set_env.sh" in runs  # login shells source it
    env = " ".join(item.arguments for item in parsed.of("ENV"))
    for needed in ("ASCEND_TOOLKIT_HOME=", "ASCEND_HOME_PATH=", "ASCEND_OPP_PATH=", "ASCEND_AICPU_PATH="):
        assert needed in env
    library_path = re.search(r"LD_LIBRARY_PATH=(\S+)", env)
    assert library_path is not None
    for directory in (
        "/usr/local/Ascend/driver/lib64/driver",
        "/usr/local/Ascend/driver/lib64/common",
        "${ASCEND_TOOLKIT_HOME}/lib64",
    ):
        assert directory in library_path.group(1).split(":")


def test_runtime_cpu_takes_torch_from_a_cpu_index_unless_told_otherwise() -> None:
    parsed = load("runtime-cpu")
    args = {item.arguments.partition("=")[0]: item.arguments.partition("=")[2] for item in parsed.of("ARG")}
    assert args["TORCH_INDEX_URL"].endswith("/whl/cpu")


def test_pause_image_is_one_static_binary() -> None:
    parsed = load("pause")
    final = parsed.final_stage()
    assert final[0].words() == ["scratch"]
    build = " ".join(run.arguments for run in parsed.of("RUN"))
    assert "CGO_ENABLED=0" in build
    assert parsed.of("ENTRYPOINT")[-1].words() == ["/pause"]


def test_names_agree_with_the_operators_profiles() -> None:
    vendor_image = {
        "nvidia": "runtime-cuda",
        "amd": "runtime-rocm",
        "ascend": "runtime-ascend",
        "cpu": "runtime-cpu",
    }
    for vendor, profile in PROFILES.items():
        assert profile.default_image == names.IMAGES[vendor_image[vendor]]
    assert names.REGISTRY == IMAGE_REGISTRY
    assert f"{IMAGE_REGISTRY}/operator:{__version__}" == names.OPERATOR_IMAGE
    assert set(names.LOCAL_IMAGES) == {"operator", "runtime-cpu", "pause"}


def test_build_context_allows_every_copied_path() -> None:
    """.dockerignore is an allow-list: a COPY of a path it leaves out would fail on a real cluster."""
    allowed = {
        line[1:] for line in (REPO_ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    for name in names.IMAGES:
        for source in load(name).context_sources():
            assert source.split("/")[0] in allowed, f"{name} copies {source}, which .dockerignore leaves out"
            assert (REPO_ROOT / source).exists()
