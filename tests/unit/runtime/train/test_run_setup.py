"""Hugging Face arguments from a config, and where a run resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.train.checkpoints import mark_complete
from kubefactory.runtime.train.run_setup import OutputDirError, resume_point, training_values


def _config(**values: Any) -> Any:
    return validate_config({"model_name_or_path": "m", "output_dir": "out", "do_train": True, **values})


@pytest.mark.parametrize(
    ("values", "vendor", "distributed", "expected"),
    [
        ({}, "cpu", False, {"use_cpu": True, "save_total_limit": None, "remove_unused_columns": False,
                            "include_num_input_tokens_seen": "non_padding", "ddp_backend": None}),
        ({"save_total_limit": 2}, "nvidia", True, {"save_total_limit": None, "ddp_backend": "nccl"}),
        ({}, "ascend", True, {"ddp_backend": "hccl"}),
        ({}, "cpu", True, {"ddp_backend": "gloo", "use_cpu": True}),
        ({"ddp_backend": "gloo"}, "nvidia", True, {"ddp_backend": "gloo"}),
        ({"disable_shuffling": True}, "cpu", False, {"train_sampling_strategy": "sequential"}),
        ({"group_by_length": True}, "cpu", False, {"train_sampling_strategy": "group_by_length"}),
        ({"warmup_ratio": 0.1, "neftune_noise_alpha": 5}, "cpu", False, {"warmup_steps": 0.1, "neftune_noise_alpha": 5}),
        ({"output_dir": None}, "cpu", False, {"output_dir": "saves/kubefactory"}),
        (
            {"fsdp": "full_shard auto_wrap", "fsdp_config": {"transformer_layer_cls_to_wrap": "Qwen2DecoderLayer"}},
            "nvidia",
            True,
            {"fsdp": "full_shard auto_wrap", "deepspeed": None},
        ),
    ],
)  # fmt: skip
def test_training_values(
    values: dict[str, Any], vendor: str, distributed: bool, expected: dict[str, Any]
) -> None:
    result = training_values(_config(**values), vendor, distributed)
    assert {key: result[key] for key in expected} == expected
    if vendor != "cpu":
        assert "use_cpu" not in values and result["use_cpu"] is False


def test_deepspeed_names_become_configs() -> None:
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="deepspeed: the deepspeed package is not installed"):
            training_values(_config(deepspeed="ds_z3"))
    else:
        assert training_values(_config(deepspeed="ds_z3"))["deepspeed"]["zero_optimization"]["stage"] == 3


def test_generation_data_cannot_be_evaluated_during_training() -> None:
    with pytest.raises(UserError, match="eval_strategy: evaluation during training measures the loss"):
        training_values(_config(predict_with_generate=True, eval_strategy="steps", eval_dataset="x"))


def test_resume_point(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert resume_point(_config(), str(out)) is None  # nothing there yet
    out.mkdir()
    for step in (5, 10):
        (out / f"checkpoint-{step}").mkdir()
    mark_complete(out / "checkpoint-5", 5, 1)
    assert resume_point(_config(), str(out)) == str(out / "checkpoint-5")
    assert resume_point(_config(overwrite_output_dir=True), str(out)) is None
    assert resume_point(_config(do_train=False), str(out)) is None
    explicit = str(out / "checkpoint-10")  # a checkpoint from elsewhere, chosen by the user
    assert resume_point(_config(resume_from_checkpoint=explicit), str(out)) == explicit
    with pytest.raises(OutputDirError, match="resume_from_checkpoint: .*nowhere is not a folder"):
        resume_point(_config(resume_from_checkpoint=str(tmp_path / "nowhere")), str(out))
