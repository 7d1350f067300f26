"""`kubefactory export`: merge adapters into the base, in order, and write a self-contained model.

The merge runs in float32 and the result is rounded once to the target dtype, so the exported
weights are as close to base + adapter as the dtype allows. The folder is written under a staging
name and renamed into place when complete: a failed export never leaves a folder that looks
finished (the marker file is the last thing written).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import UserError
from ..model.inference import check_not_quantized, plan_adapters

if TYPE_CHECKING:
    from ..config import TrainConfig

log = logging.getLogger(__name__)

EXPORT_MARKER = "kubefactory_export.json"  # written last; its presence means the export is complete


class ExportError(UserError):
    pass


def is_complete_export(folder: str | Path) -> bool:
    return (Path(folder) / EXPORT_MARKER).is_file()


def check_export_config(config: TrainConfig) -> None:
    """Everything that can be judged before loading a model; each message names its key."""
    if not config.export_dir:
        raise ExportError("export_dir: required; the folder the merged model is written to")
    if not config.model_name_or_path:
        raise ExportError("model_name_or_path: required; the base model the adapters were trained on")
    if plan_adapters(config.adapter_name_or_path).named:
        raise ExportError(
            "adapter_name_or_path: export merges adapters in order; write plain paths (name=path is for serving)"
        )
    if config.export_quantization_bit is not None:
        raise ExportError(
            "export_quantization_bit: quantized (GPTQ) export is not supported by this version yet"
        )
    if config.export_legacy_format:
        raise ExportError(
            "export_legacy_format: only safetensors is written (transformers 5 has no .bin output)"
        )
    if config.export_hub_model_id:
        raise ExportError(
            "export_hub_model_id: pushing to a hub is not supported; upload export_dir yourself"
        )
    check_not_quantized(config, "merge adapters")
    target = Path(config.export_dir)
    if target.exists() and (
        not target.is_dir() or (any(target.iterdir()) and not is_complete_export(target))
    ):
        raise ExportError(
            f"export_dir: {target} exists and is not an earlier KubeFactory export; choose a new or empty folder "
            "(an earlier export is replaced, anything else is left alone)"
        )


def export_model(config: TrainConfig) -> Path:
    """Load base + adapters, merge, and write export_dir atomically. Returns the folder."""
    import torch

    from ..data.templates.resolve import resolve_template
    from ..model.inference import checkpoint_dtype, load_base_model, merge_adapters
    from ..model.loader import load_tokenizer

    check_export_config(config)
    assert config.export_dir is not None and config.model_name_or_path is not None  # checked above
    adapters = plan_adapters(config.adapter_name_or_path).merged
    tokenizer = load_tokenizer(config)
    template = resolve_template(config, tokenizer)  # eos and chat template as the model was trained
    device = "cuda" if config.export_device == "auto" and torch.cuda.is_available() else "cpu"
    saved_dtype = checkpoint_dtype(config)
    model = load_base_model(config, torch.float32, device)
    model = merge_adapters(model, adapters)
    dtype = saved_dtype if config.infer_dtype == "auto" else getattr(torch, config.infer_dtype)
    model = model.to(dtype=dtype, device="cpu")
    _align_generation_config(model, tokenizer)
    metadata = {
        "base_model": config.model_name_or_path,
        "adapters": list(adapters),
        "template": template.name,
        "dtype": str(dtype).removeprefix("torch."),
        "kubefactory_version": __version__,
    }
    return write_export(model, tokenizer, Path(config.export_dir), f"{config.export_size}GB", metadata)


def write_export(
    model: Any, tokenizer: Any, target: Path, max_shard_size: str | int, metadata: dict[str, Any]
) -> Path:
    """Save under a staging name, mark complete, then move into place (replacing an earlier export)."""
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        model.save_pretrained(staging, max_shard_size=max_shard_size)
        tokenizer.save_pretrained(staging)
        (staging / EXPORT_MARKER).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_into_place(staging, target)
    log.info("exported the merged model to %s", target)
    return target


def _swap_into_place(staging: Path, target: Path) -> None:
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)


def _align_generation_config(model: Any, tokenizer: Any) -> None:
    """Engines stop on the generation config's eos ids: include the eos the template set."""
    config = getattr(model, "generation_config", None)
    if config is None or tokenizer.eos_token_id is None:
        return
    current = config.eos_token_id
    ids = [current] if isinstance(current, int) else list(current or [])
    if tokenizer.eos_token_id not in ids:
        config.eos_token_id = [*ids, tokenizer.eos_token_id] if ids else tokenizer.eos_token_id
    if config.pad_token_id is None and tokenizer.pad_token_id is not None:
        config.pad_token_id = tokenizer.pad_token_id
