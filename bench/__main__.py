"""Run every benchmark module of this package: `python -m bench [--smoke] [NAME ...]`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

HELPERS = {"__main__", "lf_env"}


def discover() -> list[str]:
    folder = Path(__file__).resolve().parent
    names = [info.name for info in pkgutil.iter_modules([str(folder)]) if info.name not in HELPERS]
    return sorted(name for name in names if not name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--smoke", action="store_true", help="the short versions, for CI (seconds, not minutes)"
    )
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(discover())})"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(discover()))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(discover())}")
    failed = []
    for name in args.names or discover():
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"== bench.{name}{' (smoke)' if args.smoke else ''}", flush=True)
        try:
            module.main(smoke=args.smoke)
        except Exception as err:  # one broken benchmark must not hide the others' numbers
            print(f"bench.{name} failed: {err!r}", file=sys.stderr)
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
