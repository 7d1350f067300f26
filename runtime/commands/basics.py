"""The commands that belong to no one feature: train, keys, tiny-model, env and version.

Registered like every other command (``register(subparsers)``, each parser with
``set_defaults(handler=...)``); heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse

from .. import __version__
from ..config import TrainConfig, load_config
from .config_command import add_config_command


def register(sub: argparse._SubParsersAction) -> None:
    add_config_command(
        sub,
        "train",
        "fine-tune a model from a training config",
        config_optional=True,
        epilog="examples:\n"
        "  kubefactory train examples/train_lora/qwen_lora_sft.yaml\n"
        "  kubefactory train my_llamafactory.yaml learning_rate=5e-5 num_train_epochs=1\n\n"
        "Training resumes from the latest complete checkpoint in output_dir unless overwrite_output_dir: true.",
    ).set_defaults(handler=train)
    keys_parser = sub.add_parser("keys", help="list the training config keys with defaults and descriptions")
    keys_parser.add_argument("pattern", nargs="?", default="", help="show only keys containing this text")
    keys_parser.set_defaults(handler=keys)
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
    tiny.set_defaults(handler=tiny_model)
    sub.add_parser(
        "env", help="print versions of python, torch, transformers, peft, trl, deepspeed and accelerators"
    ).set_defaults(handler=env)
    sub.add_parser("version", help="print the KubeFactory version").set_defaults(handler=version)


def train(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    from ..train.run import run_training  # heavy: torch

    run_training(config, args.config, args.overrides)
    return 0


def keys(args: argparse.Namespace) -> int:
    for name, field in TrainConfig.model_fields.items():
        if args.pattern in name:
            print(f"{name} (default: {field.default!r})\n    {field.description}")
    return 0


def tiny_model(args: argparse.Namespace) -> int:
    from ..model.tiny import TinyModelSpec, build_tiny_model  # heavy: torch

    spec = TinyModelSpec(
        hidden_size=args.hidden_size, num_layers=args.layers, vocab_size=args.vocab_size, seed=args.seed
    )
    print(build_tiny_model(spec, corpus=args.corpus, output=args.output))
    return 0


def env(_: argparse.Namespace) -> int:
    from ..env import collect_env

    for key, value in collect_env().items():
        print(f"- {key}: {value}")
    return 0


def version(_: argparse.Namespace) -> int:
    print(f"kubefactory {__version__}")
    return 0
