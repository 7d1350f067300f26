"""Which parameters train under lora, freeze and full."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.model.adapters import attach_adapters, freeze_plan, lora_init, trainable_layer_ids

NAMES = [
    "model.embed_tokens.weight",
    *[f"model.layers.{i}.{part}" for i in range(4) for part in (
        "self_attn.q_proj.weight", "self_attn.q_proj.bias", "mlp.down_proj.weight", "input_layernorm.weight")],
    "model.norm.weight",
    "lm_head.weight",
]  # fmt: skip


@pytest.mark.parametrize(
    ("layers", "count", "expected"),
    [(4, 2, [2, 3]), (4, -1, [0]), (4, 10, [0, 1, 2, 3]), (4, -10, [0, 1, 2, 3]), (32, 1, [31])],
)
def test_trainable_layer_ids(layers: int, count: int, expected: list[int]) -> None:
    assert trainable_layer_ids(layers, count) == expected


@pytest.mark.parametrize(
    ("count", "modules", "extra", "expected"),
    [
        (1, ["all"], [], {f"model.layers.3.{p}" for p in (
            "self_attn.q_proj.weight", "self_attn.q_proj.bias", "mlp.down_proj.weight", "input_layernorm.weight")}),
        (2, ["mlp"], [], {"model.layers.2.mlp.down_proj.weight", "model.layers.3.mlp.down_proj.weight"}),
        (-1, ["self_attn"], ["embed_tokens", "norm"],
         {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.q_proj.bias", "model.embed_tokens.weight",
          "model.norm.weight"}),
    ],
)  # fmt: skip
def test_freeze_plan(count: int, modules: list[str], extra: list[str], expected: set[str]) -> None:
    assert freeze_plan(NAMES, 4, count, modules, extra) == expected


def test_freeze_plan_names_unknown_modules() -> None:
    with pytest.raises(
        UserError,
        match=r"freeze_trainable_modules: \['attn'\] are not modules of the layers; known: \['input_layernorm', 'mlp', 'self_attn'\]",
    ):
        freeze_plan(NAMES, 4, 1, ["attn"], [])
    with pytest.raises(
        UserError, match=r"freeze_extra_modules: \['wte'\] are not modules outside the layers"
    ):
        freeze_plan(NAMES, 4, 1, ["all"], ["wte"])


def test_pissa_initialisation() -> None:
    config = validate_config({"model_name_or_path": "m"})
    assert lora_init(config) is True
    assert lora_init(config.model_copy(update={"pissa_init": True})) == "pissa_niter_16"
    assert lora_init(config.model_copy(update={"pissa_init": True, "pissa_iter": -1})) == "pissa"


def _model(tiny_model: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model)


def test_freeze_trains_only_the_last_layer(tiny_model: Path) -> None:
    config = validate_config(
        {"model_name_or_path": str(tiny_model), "finetuning_type": "freeze", "freeze_trainable_layers": 1}
    )
    model = attach_adapters(_model(tiny_model), config)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("model.layers.1.") for name in trainable)
    assert "model.layers.1.mlp.down_proj.weight" in trainable


@pytest.mark.parametrize(
    ("values", "check"),
    [
        ({"use_dora": True}, lambda m: any("lora_magnitude_vector" in n for n, _ in m.named_parameters())),
        ({"use_rslora": True, "lora_rank": 4, "lora_alpha": 8},
         lambda m: m.base_model.model.model.layers[0].self_attn.q_proj.scaling["default"] == pytest.approx(8 / 2)),
        ({"lora_target": "q_proj,v_proj"},
         lambda m: {n.split(".")[-4] for n, p in m.named_parameters() if p.requires_grad} == {"q_proj", "v_proj"}),
        ({"additional_target": "embed_tokens"},
         lambda m: any("embed_tokens.modules_to_save" in n and p.requires_grad for n, p in m.named_parameters())),
        ({"pissa_init": True, "pissa_iter": 2},
         lambda m: any("lora_B" in n and p.abs().sum() > 0 for n, p in m.named_parameters())),  # PiSSA: B starts non-zero
    ],
)  # fmt: skip
def test_lora_options(tiny_model: Path, values: dict[str, Any], check: Any) -> None:
    config = validate_config({"model_name_or_path": str(tiny_model), "finetuning_type": "lora", **values})
    assert check(attach_adapters(_model(tiny_model), config))


def test_unknown_lora_target_lists_the_modules(tiny_model: Path) -> None:
    config = validate_config({"model_name_or_path": str(tiny_model), "lora_target": "qkv"})
    with pytest.raises(
        UserError, match=r"lora_target: no module named \['qkv'\] in the model; available: \['down_proj'"
    ):
        attach_adapters(_model(tiny_model), config)


def test_adapters_need_lora(tiny_model: Path) -> None:
    config = validate_config(
        {"model_name_or_path": str(tiny_model), "finetuning_type": "full", "adapter_name_or_path": "a"}
    )
    with pytest.raises(
        UserError,
        match="adapter_name_or_path: adapters can only be loaded with finetuning_type lora, not full",
    ):
        attach_adapters(_model(tiny_model), config)
