"""`kubefactory export CONFIG.yaml`: merge adapters into the base and write export_dir."""

from __future__ import annotations

import argparse
import logging
import os

from ..commands import add_config_command


def register(subparsers: argparse._SubParsersAction) -> None:
    summary = "merge LoRA adapters into the base model and write a self-contained model folder"
    parser = add_config_command(
        subparsers,
        "export",
        summary,
        description=summary + ". Merges adapter_name_or_path in order (in float32, rounded once to the "
        "target dtype), writes safetensors shards of at most export_size GB, the tokenizer with its chat "
        "template and the generation config to export_dir. The folder appears only when complete.",
        epilog="example:\n  kubefactory export my_lora_sft.yaml adapter_name_or_path=saves/tiny/lora/sft export_dir=saves/merged",
        config_help="a LLaMA-Factory YAML with model_name_or_path, adapter_name_or_path, export_dir",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from .merge import check_export_config

    config = load_config(args.config, args.overrides)
    check_export_config(config)  # before torch is imported: a bad config answers at once
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s|%(name)s] %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from .merge import export_model

    print(export_model(config))
    return 0
