"""Shipped DeepSpeed configs by name, the example files users copy, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.launch.deepspeed import (
    DEEPSPEED_CONFIGS,
    check_parallelism,
    resolve_deepspeed,
    zero_stage,
)

EXAMPLES = Path(__file__).resolve().parents[4] / "examples" / "deepspeed"


@pytest.mark.parametrize(
    ("name", "stage", "offload_optimizer", "offload_param"),
    [
        ("ds_z0", 0, False, False),
        ("ds_z2", 2, False, False),
        ("ds_z2_offload", 2, True, False),
        ("ds_z3", 3, False, False),
        ("ds_z3_offload", 3, True, True),
    ],
)
def test_shipped_configs(name: str, stage: int, offload_optimizer: bool, offload_param: bool) -> None:
    for spelling in (name, f"{name}_config", f"{name}_config.json", f"examples/deepspeed/{name}_config.json"):
        config = resolve_deepspeed(
            spelling
            if spelling != f"examples/deepspeed/{name}_config.json"
            else f"/nowhere/{name}_config.json"
        )
        assert isinstance(config, dict)
        assert zero_stage(config) == stage
        zero = config["zero_optimization"]
        assert ("offload_optimizer" in zero, "offload_param" in zero) == (offload_optimizer, offload_param)
        assert config["train_micro_batch_size_per_gpu"] == "auto"  # the Trainer fills it in


def test_example_files_match_the_shipped_configs() -> None:
    files = sorted(EXAMPLES.glob("*.json"))
    assert [f.name for f in files] == sorted(f"{name}_config.json" for name in DEEPSPEED_CONFIGS)
    for file in files:
        assert json.loads(file.read_text()) == DEEPSPEED_CONFIGS[file.name.removesuffix("_config.json")], (
            file.name
        )


def test_a_path_is_kept_and_a_dict_passes(tmp_path: Path) -> None:
    own = tmp_path / "my_ds.json"
    own.write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    assert resolve_deepspeed(str(own)) == str(own)
    assert zero_stage(str(own)) == 2
    assert resolve_deepspeed({"zero_optimization": {"stage": 1}}) == {"zero_optimization": {"stage": 1}}
    assert resolve_deepspeed(None) is None and zero_stage(None) is None


def test_unknown_config_names_the_shipped_ones() -> None:
    with pytest.raises(
        UserError, match=r"deepspeed: ds_z4 is neither a file nor a shipped config; shipped: ds_z0, ds_z2"
    ):
        resolve_deepspeed("ds_z4")


def test_deepspeed_and_fsdp_exclude_each_other_and_need_the_extra() -> None:
    with pytest.raises(UserError, match="deepspeed and fsdp: both are set"):
        check_parallelism({"zero_optimization": {"stage": 3}}, "full_shard auto_wrap")
    check_parallelism(None, "full_shard auto_wrap")  # FSDP alone is fine
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match=r"pip install 'kubefactory\[deepspeed\]'"):
            check_parallelism({"zero_optimization": {"stage": 2}}, None)
