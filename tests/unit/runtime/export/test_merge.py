"""Export: the merged model computes what base + adapters compute; the folder appears only whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from kubefactory.runtime.config import validate_config
from kubefactory.runtime.errors import UserError
from kubefactory.runtime.export.merge import EXPORT_MARKER, check_export_config, export_model, write_export

# Merging in float32 reorders a few additions; the logits of the tiny model then differ by ~1e-6.
LOGIT_TOLERANCE = 1e-4


def _adapter(base: Path, folder: Path, seed: int, targets: list[str]) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    lora = LoraConfig(
        r=4, lora_alpha=8, target_modules=targets, init_lora_weights=False
    )  # B ≠ 0: it changes logits
    get_peft_model(model, lora).save_pretrained(str(folder))
    return folder


def _config(base: Path, **values: Any) -> Any:
    return validate_config({"model_name_or_path": str(base), "template": "qwen", **values})


def _logits(model: Any, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(ids).logits


def test_merged_logits_equal_base_plus_adapters_in_order(tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    first = _adapter(tiny_model_dir, tmp_path / "first", 1, ["q_proj", "v_proj", "down_proj"])
    second = _adapter(tiny_model_dir, tmp_path / "second", 2, ["k_proj", "o_proj", "up_proj", "q_proj"])
    out = export_model(
        _config(tiny_model_dir, adapter_name_or_path=f"{first},{second}", export_dir=str(tmp_path / "merged"))
    )

    reference = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(tiny_model_dir), first
    ).merge_and_unload()
    reference = PeftModel.from_pretrained(reference, second)  # base + first, then second on top, unmerged
    merged = AutoModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    ids = torch.randint(0, 2000, (3, 40), generator=torch.Generator().manual_seed(0))
    expected = _logits(reference, ids)
    assert (expected - _logits(base, ids)).abs().max() > 0.1, (
        "the adapters must matter for this test to mean anything"
    )
    assert (expected - _logits(merged, ids)).abs().max() < LOGIT_TOLERANCE
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_export_folder_is_complete(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    adapter = _adapter(tiny_model_dir, tmp_path / "a", 1, ["q_proj"])
    out = export_model(
        _config(tiny_model_dir, adapter_name_or_path=str(adapter), export_dir=str(tmp_path / "out"))
    )
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        EXPORT_MARKER,
    } <= names
    tokenizer = AutoTokenizer.from_pretrained(out)
    rendered: Any = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert "<|im_start|>user\nhi<|im_end|>" in rendered and rendered.endswith("<|im_start|>assistant\n")
    generation = json.loads((out / "generation_config.json").read_text())
    eos = generation["eos_token_id"]
    assert tokenizer.eos_token_id in (eos if isinstance(eos, list) else [eos])
    marker = json.loads((out / EXPORT_MARKER).read_text())
    assert marker["adapters"] == [str(adapter)] and marker["base_model"] == str(tiny_model_dir)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")], "no staging folder may remain"


def test_shards_respect_the_size_limit(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    out = write_export(
        model, AutoTokenizer.from_pretrained(tiny_model_dir), tmp_path / "sharded", "600KB", {}
    )
    shards = sorted(out.glob("model-*.safetensors"))
    assert len(shards) > 1
    assert all(shard.stat().st_size <= 600_000 for shard in shards)
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {shard.name for shard in shards}
    reloaded = AutoModelForCausalLM.from_pretrained(out)
    ids = torch.tensor([[1, 2, 3, 4]])
    assert torch.equal(_logits(reloaded, ids), _logits(model, ids))


def test_a_failed_export_leaves_nothing_that_looks_complete(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    class BrokenTokenizer:
        def save_pretrained(self, folder: Path) -> None:
            raise OSError("disk full")

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(OSError, match="disk full"):
        write_export(model, BrokenTokenizer(), tmp_path / "out", "1GB", {})
    assert list(tmp_path.iterdir()) == []


def test_an_earlier_export_is_replaced(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = (
        AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        AutoTokenizer.from_pretrained(tiny_model_dir),
    )
    target = tmp_path / "out"
    write_export(model, tokenizer, target, "1GB", {"run": 1})
    (target / "stale.txt").write_text("from the first export")
    write_export(model, tokenizer, target, "1GB", {"run": 2})
    assert json.loads((target / EXPORT_MARKER).read_text()) == {"run": 2}
    assert not (target / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "export_dir: required"),
        (
            {"export_dir": "X", "quantization_bit": 4},
            "quantization_bit: cannot merge adapters into a model quantized to 4 bits",
        ),
        (
            {"export_dir": "X", "adapter_name_or_path": "a=/x"},
            "adapter_name_or_path: export merges adapters in order",
        ),
        (
            {"export_dir": "X", "export_quantization_bit": 4},
            "export_quantization_bit: quantized (GPTQ) export is not supported",
        ),
        (
            {"export_dir": "X", "export_legacy_format": True},
            "export_legacy_format: only safetensors is written",
        ),
        (
            {"export_dir": "X", "export_hub_model_id": "me/model"},
            "export_hub_model_id: pushing to a hub is not supported",
        ),
    ],
)
def test_config_problems_name_the_key(
    tiny_model_dir: Path, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    if "export_dir" in values:
        values["export_dir"] = str(tmp_path / "out")
    with pytest.raises(UserError) as caught:
        check_export_config(_config(tiny_model_dir, **values))
    assert str(caught.value).startswith(message)


def test_refuses_a_quantized_checkpoint(tiny_model_dir: Path, tmp_path: Path) -> None:
    quantized = tmp_path / "quantized"
    quantized.mkdir()
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (quantized / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        UserError, match=r"is a quantized checkpoint \(bitsandbytes\); cannot merge adapters into it"
    ):
        check_export_config(
            validate_config({"model_name_or_path": str(quantized), "export_dir": str(tmp_path / "out")})
        )


def test_refuses_to_overwrite_a_folder_that_is_not_an_export(tiny_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(UserError, match=r"export_dir: .* exists and is not an earlier KubeFactory export"):
        check_export_config(_config(tiny_model_dir, export_dir=str(tmp_path / "mine")))


def test_cli_exports_and_reports_config_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    adapter = _adapter(tiny_model_dir, tmp_path / "a", 3, ["v_proj"])
    config = tmp_path / "export.yaml"
    config.write_text(
        f"model_name_or_path: {tiny_model_dir}\nadapter_name_or_path: {adapter}\ntemplate: qwen\n"
    )
    cli = [sys.executable, "-m", "kubefactory.runtime.cli", "export", str(config)]
    missing = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1
    assert "kubefactory export: error: export_dir: required" in missing.stderr
    done = subprocess.run(
        [*cli, f"export_dir={tmp_path / 'merged'}"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "merged")
    assert (tmp_path / "merged" / EXPORT_MARKER).is_file()
