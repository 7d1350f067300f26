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
from .config import ConfigError
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
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name, __package__).register(sub)
    return parser


# Every command lives with its feature, in a light module (heavy imports inside its handler) that
# offers register(subparsers): it adds its parser with set_defaults(handler=...). One mechanism.
COMMAND_MODULES: tuple[str, ...] = (
    ".commands.basics",
    ".export.command",
    ".chat.command",
    ".serve.command",
    ".data.command",
    ".agents.dataset_prepare",
    ".agents.progress_report",
    ".commands.operator_exec",
    ".commands.run_exec",
    ".storage.command",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return int(handler(args) or 0)
    except ConfigError as err:
        print(f"kubefactory {args.command}: {err}", file=sys.stderr)
        return 2
    except UserError as err:
        print(f"kubefactory {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    raise SystemExit(main())
