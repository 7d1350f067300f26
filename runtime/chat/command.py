"""`kubefactory chat CONFIG.yaml`: talk to a model in the terminal, answers streamed as generated."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import TYPE_CHECKING

from ..commands import add_config_command
from ..errors import UserError

if TYPE_CHECKING:
    from .session import ChatSession

WELCOME = "KubeFactory chat. Type `clear` to forget the conversation, `exit` to quit."
CLEARED = "History cleared."


def register(subparsers: argparse._SubParsersAction) -> None:
    summary = "chat with a model (base, base + adapters, or a merged export) in the terminal"
    parser = add_config_command(
        subparsers,
        "chat",
        summary,
        description=summary + ". The system prompt is default_system; decoding follows the generation keys "
        "(do_sample, temperature, top_p, top_k, max_new_tokens, repetition_penalty).",
        epilog="example:\n  kubefactory chat my_lora_sft.yaml adapter_name_or_path=saves/tiny/lora/sft",
        config_help="a LLaMA-Factory YAML with model_name_or_path (and adapters, template)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config

    config = load_config(args.config, args.overrides)
    if config.infer_backend != "huggingface":
        raise UserError(
            f"infer_backend: chat runs the built-in huggingface engine; for {config.infer_backend}, start "
            "`kubefactory api` and use any OpenAI client"
        )
    from ..model.inference import plan_adapters

    if plan_adapters(config.adapter_name_or_path).named:
        raise UserError(
            "adapter_name_or_path: chat merges adapters; write plain paths (name=path is for `api`)"
        )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from ..model.inference import load_for_inference
    from ..serve.hf_engine import BatchingEngine
    from ..serve.sampling import params_from_config
    from .session import ChatSession

    loaded = load_for_inference(config)
    engine = BatchingEngine(loaded, max_batch_size=1, skip_special_tokens=config.skip_special_tokens)
    engine.start()
    try:
        converse(ChatSession(engine, loaded.template, loaded.tokenizer, params_from_config(config)))
    finally:
        engine.close()
    return 0


def converse(session: ChatSession) -> None:
    """The read–answer loop: `clear` resets the history, `exit` (or end of input) quits."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    print(WELCOME)
    while True:
        try:
            text = input("\nUser: ")
        except EOFError:
            print()
            return
        except KeyboardInterrupt:
            print()
            continue
        command = text.strip()
        if command == "exit":
            return
        if command == "clear":
            session.clear()
            print(CLEARED)
            continue
        if not command:
            continue
        print("Assistant: ", end="", flush=True)
        try:
            for piece in session.reply(text):
                print(piece, end="", flush=True)
        except KeyboardInterrupt:
            print(" [interrupted]", end="")
        except UserError as err:
            print(f"\n{err}", file=sys.stderr, end="")
        print()
