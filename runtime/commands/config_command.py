"""The parser every config-driven command shares: CONFIG.yaml, then key=value overrides."""

from __future__ import annotations

import argparse

CONFIG_HELP = (
    "a LLaMA-Factory training YAML or JSON file; `key=value` (or `--key value`) arguments after it "
    "override its keys. `kubefactory keys` lists every key."
)


def add_config_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    summary: str,
    *,
    description: str | None = None,
    epilog: str = "",
    config_help: str = CONFIG_HELP,
    config_optional: bool = False,
) -> argparse.ArgumentParser:
    """A subcommand taking `CONFIG [key=value ...]`, with help that keeps its line breaks."""
    parser = subparsers.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", nargs="?" if config_optional else None, help=config_help)
    parser.add_argument(
        "overrides", nargs=argparse.REMAINDER, help="key=value overrides, e.g. cutoff_len=1024"
    )
    return parser
