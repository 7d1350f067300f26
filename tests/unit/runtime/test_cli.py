"""The command line as a user meets it: exit codes, messages, and no torch for --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

NO_TORCH_PROBE = """
import sys
from kubefactory.runtime.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "transformers", "peft", "trl", "datasets") if m in sys.modules)
print("HEAVY:", ",".join(heavy))
"""


def _kubefactory(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubefactory.runtime.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["train", "--help"], ["keys", "lora"], ["tiny-model", "--help"], ["version"]],
)
def test_help_and_light_commands_never_import_torch(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH_PROBE.format(argv=argv)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY: \n" in done.stdout, done.stdout


def test_config_validation_never_imports_torch(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("lora_rnak: 8\n")
    done = subprocess.run(
        [sys.executable, "-c", NO_TORCH_PROBE.format(argv=["train", str(config)])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "HEAVY: \n" in done.stdout, done.stdout + done.stderr
    assert "lora_rnak" in done.stderr


def test_misspelt_key_exits_non_zero_and_suggests(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("stage: sft\nlora_rnak: 8\n")
    done = _kubefactory("train", str(config))
    assert done.returncode == 2
    assert "lora_rnak: unknown key; did you mean 'lora_rank'?" in done.stderr


def test_wrong_type_names_field_and_expected_type(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("lora_rank: eight\n")
    done = _kubefactory("train", str(config))
    assert done.returncode == 2
    assert "lora_rank: expected an integer, got 'eight'" in done.stderr


def test_override_is_validated_too(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("lora_rank: 8\n")
    done = _kubefactory("train", str(config), "lora_rank=eight")
    assert done.returncode == 2
    assert "lora_rank: expected an integer, got 'eight'" in done.stderr


def test_missing_dataset_file_names_dataset_and_path(tmp_path: Path, tiny_model: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "dataset_info.json").write_text('{"mine": {"file_name": "mine.json"}}')
    config = tmp_path / "train.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_model}\nstage: sft\ndo_train: true\ndataset: mine\n"
        f"dataset_dir: {data}\ntemplate: qwen\noutput_dir: {tmp_path / 'out'}\n"
    )
    done = _kubefactory("train", str(config))
    assert done.returncode == 1
    assert f"dataset 'mine': file not found: {data / 'mine.json'}" in done.stderr


def test_unknown_dataset_name_suggests(tmp_path: Path, tiny_model: Path, demo_data: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_model}\ndo_train: true\ndataset: identiy\ndataset_dir: {demo_data}\n"
        f"template: qwen\noutput_dir: {tmp_path / 'out'}\n"
    )
    done = _kubefactory("train", str(config))
    assert done.returncode == 1
    assert "dataset 'identiy' (did you mean 'identity'?) not defined in" in done.stderr


def test_version_and_env() -> None:
    assert _kubefactory("version").stdout.startswith("kubefactory ")
    env = _kubefactory("env")
    assert env.returncode == 0
    for key in ("python", "torch", "transformers", "peft", "trl", "deepspeed", "accelerator"):
        assert f"- {key}: " in env.stdout


def test_every_command_registers_the_same_way() -> None:
    """One mechanism: each command module's register() adds its parser with a handler."""
    import argparse

    from kubefactory.runtime.cli import build_parser

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"train", "keys", "tiny-model", "env", "version", "dataset", "report-progress", "operator"} <= set(
        commands.choices
    )
    without = [name for name, sub in commands.choices.items() if not callable(sub.get_default("handler"))]
    without = [name for name in without if name != "dataset"]  # its actions carry the handlers
    assert not without, without
