"""The `kubefactory` command line, modelled on `llamafactory-cli`.

Every command parses its arguments and validates its config before anything heavy is imported:
`--help` and a bad config answer in well under a second, without torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .commands import add_config_command
from .config import ConfigError, TrainConfig, load_config
from .errors import UserError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubefactory",
        description="Fine-tune and serve large language models, on a laptop or on Kubernetes. "
        "Reads LLaMA-Factory training YAMLs and dataset_info.json files as they are.",
        epilog="Run `kubefactory COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"kubefactory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_config_command(
        sub,
        "train",
        "fine-tune a model from a training config",
        config_optional=True,
        epilog="examples:\n"
        "  kubefactory train examples/train_lora/qwen_lora_sft.yaml\n"
        "  kubefactory train my_llamafactory.yaml learning_rate=5e-5 num_train_epochs=1\n\n"
        "Training resumes from the latest complete checkpoint in output_dir unless overwrite_output_dir: true.",
    )
    keys = sub.add_parser("keys", help="list the training config keys with defaults and descriptions")
    keys.add_argument("pattern", nargs="?", default="", help="show only keys containing this text")
    tiny = sub.add_parser(
        "tiny-model",
        help="write a tiny Qwen2-architecture model with a real BPE tokenizer (for tests and demos)",
        description="Write a seeded, tiny Qwen2-architecture model and a byte-level BPE tokenizer trained "
        "locally. Nothing is downloaded. The same arguments always write the same model; the result is "
        "cached and its folder printed.",
    )
    tiny.add_argument("--output", help="folder to write; default: a cache folder keyed by the build settings")
    tiny.add_argument(
        "--corpus", action="append", default=[], help="text/JSON files to train the tokenizer on"
    )
    tiny.add_argument("--hidden-size", type=int, default=64)
    tiny.add_argument("--layers", type=int, default=2)
    tiny.add_argument("--vocab-size", type=int, default=2048)
    tiny.add_argument("--seed", type=int, default=0)
    sub.add_parser(
        "env", help="print versions of python, torch, transformers, peft, trl, deepspeed and accelerators"
    )
    sub.add_parser("version", help="print the KubeFactory version")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name, __package__).register(sub)
    return parser


# Commands that live with their feature. Each module is light (heavy imports inside its run
# function) and offers register(subparsers), which adds a parser with set_defaults(handler=...).
_COMMAND_MODULES: tuple[str, ...] = (
    ".export.command",
    ".chat.command",
    ".serve.command",
    ".data.command",
    ".agents.dataset_prepare",
    ".agents.progress_report",
    ".commands.operator_exec",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "train": _train,
        "keys": _keys,
        "tiny-model": _tiny_model,
        "env": _env,
        "version": _version,
    }
    if args.command is None:
        build_parser().print_help()
        return 0
    handler = handlers.get(args.command) or args.handler
    try:
        return int(handler(args) or 0)
    except ConfigError as err:
        print(f"kubefactory {args.command}: {err}", file=sys.stderr)
        return 2
    except UserError as err:
        print(f"kubefactory {args.command}: error: {err}", file=sys.stderr)
        return 1


def _load(args: argparse.Namespace) -> TrainConfig:
    return load_config(args.config, args.overrides)


def _train(args: argparse.Namespace) -> int:
    config = _load(args)
    from .train.run import run_training  # heavy: torch

    run_training(config, args.config, args.overrides)
    return 0


def _keys(args: argparse.Namespace) -> int:
    for name, field in TrainConfig.model_fields.items():
        if args.pattern in name:
            print(f"{name} (default: {field.default!r})\n    {field.description}")
    return 0


def _tiny_model(args: argparse.Namespace) -> int:
    from .model.tiny import TinyModelSpec, build_tiny_model  # heavy: torch

    spec = TinyModelSpec(
        hidden_size=args.hidden_size, num_layers=args.layers, vocab_size=args.vocab_size, seed=args.seed
    )
    print(build_tiny_model(spec, corpus=args.corpus, output=args.output))
    return 0


def _env(_: argparse.Namespace) -> int:
    from .env import collect_env

    for key, value in collect_env().items():
        print(f"- {key}: {value}")
    return 0


def _version(_: argparse.Namespace) -> int:
    print(f"kubefactory {__version__}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
