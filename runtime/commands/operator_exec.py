"""`kubefactory operator ...`: run the operator (``python -m kubefactory.operator ...``).

The runtime never imports the operator: this command replaces the process with the operator's
own entry point, passing every argument through (``kubefactory operator --help`` is the
operator's help). It needs the ``operator`` extra installed (kopf, kubernetes).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys

SUMMARY = (
    "run the Kubernetes operator (Dataset and FineTuneJob); arguments go to python -m kubefactory.operator"
)


def register(subparsers: argparse._SubParsersAction) -> None:
    # prefix_chars="+": every "-..." argument is left for the operator's own parser
    parser = subparsers.add_parser(
        "operator", help=SUMMARY, description=SUMMARY, add_help=False, prefix_chars="+"
    )
    parser.add_argument(
        "arguments", nargs=argparse.REMAINDER, help="arguments of python -m kubefactory.operator"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("kopf") is None:
        print(
            "kubefactory operator: kopf is not installed; install the operator extra: pip install 'kubefactory[operator]'",
            file=sys.stderr,
        )
        return 1
    argv = [sys.executable, "-m", "kubefactory.operator", *args.arguments]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return 0  # not reached: execv replaces the process
