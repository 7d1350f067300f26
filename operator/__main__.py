"""``python -m kubefactory.operator``: run the KubeFactory operator (``kubefactory operator`` runs this)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .settings import CONFIG_ENV, ENV_PREFIX, SettingsError, load_settings


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="kubefactory operator",
        description="Reconcile Datasets and FineTuneJobs into prepare Jobs and multi-node torchrun Jobs.",
        epilog=f"Settings come from --config (or ${CONFIG_ENV}), then {ENV_PREFIX}<SETTING> variables, "
        "e.g. KUBEFACTORY_OPERATOR_NAMESPACES=team-a,team-b. See docs/operator.md.",
    )
    parser.add_argument("--config", help="YAML file of operator settings")
    parser.add_argument(
        "--kubeconfig", help="kubeconfig to use; default: $KUBECONFIG, ~/.kube/config, in-cluster"
    )
    parser.add_argument(
        "--namespace", action="append", default=[], help="watch this namespace (repeatable); default: all"
    )
    parser.add_argument("--check", action="store_true", help="validate the settings, print them and exit")
    parser.add_argument("--verbose", action="store_true", help="log every reconcile")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(os.environ, args.config)
    except SettingsError as err:
        print(f"kubefactory operator: {err}", file=sys.stderr)
        return 2
    if args.namespace:
        settings = settings.model_copy(update={"namespaces": args.namespace})
    if args.check:
        print(settings.model_dump_json(by_alias=True, indent=2))
        return 0
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.kubeconfig:
        os.environ["KUBECONFIG"] = args.kubeconfig  # kopf's own login reads it too
    from .run import run  # kopf and the kubernetes client load only when the operator runs

    return run(settings, args.kubeconfig, args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
