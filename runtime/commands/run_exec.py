"""`kubefactory run -f FILE|DIR ...`: run Dataset, FineTuneJob and ModelServer manifests on this machine.

What a cluster would run for the manifests is rendered by the operator's own builders, so the
runtime config and the output layout are the ones a cluster run gets. The runtime never imports
the operator: like ``kubefactory operator``, this command replaces the process with
``python -m kubefactory.operator.local``, passing every argument through (``kubefactory run
--help`` is its help). That module imports no kopf and no Kubernetes client; it runs each pod's
command (``kubefactory dataset prepare``, ``kubefactory train``, ``kubefactory api``) as a process.
"""

from __future__ import annotations

import argparse
import os
import sys

SUMMARY = "run Dataset, FineTuneJob and ModelServer manifests on this machine, without a cluster"


def register(subparsers: argparse._SubParsersAction) -> None:
    # prefix_chars="+": every "-..." argument is left for the local runner's own parser
    parser = subparsers.add_parser("run", help=SUMMARY, description=SUMMARY, add_help=False, prefix_chars="+")
    parser.add_argument(
        "arguments", nargs=argparse.REMAINDER, help="-f FILE|DIR ... (see kubefactory run --help)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    argv = [sys.executable, "-m", "kubefactory.operator.local", *args.arguments]
    sys.stdout.flush()
    os.execv(sys.executable, argv)
    return 0  # not reached: execv replaces the process
