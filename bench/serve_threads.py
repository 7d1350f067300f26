"""Torch CPU threads of `kubefactory api`, quiet and beside a CPU-burning neighbour: the numbers
behind the server's default (API_NUM_THREADS unset: half the CPUs the process may use).

For each thread count (1, the default, and one per CPU, torch's own default) one server runs the
tiny model; each round loads it with N concurrent clients × M new tokens (as bench.serve), once
on a quiet machine and once while a neighbour process per CPU spins (as other pods on a node do).
Rounds alternate between the settings so drift on a shared machine hits all alike.

    python -m bench.serve_threads            # 8 clients × 64 tokens, 3 rounds per cell
    python -m bench.serve_threads --smoke    # 2 clients × 8 tokens, 1 round, default threads only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.serve import Load, Round, _free_port, _measure, _server, _tiny_model

BURN = "while True: pass"


@contextlib.contextmanager
def _neighbour(cpus: int) -> Iterator[None]:
    """One spinning process per CPU, as a busy neighbour."""
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(cpus)]
    try:
        yield
    finally:
        for burner in burners:
            burner.terminate()
        for burner in burners:
            burner.wait()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def run(load: Load, rounds: int, counts: list[int]) -> dict[tuple[int, str], list[Round]]:
    from kubefactory.runtime.serve.settings import available_cpus

    cpus = max(1, int(available_cpus()))
    measured: dict[tuple[int, str], list[Round]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="kubefactory-bench-threads-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        config = workdir / "serve.yaml"
        config.write_text(f"model_name_or_path: {_tiny_model()}\ntemplate: qwen\n", encoding="utf-8")
        servers = {}
        for count in counts:
            port = _free_port()
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("API_", "OMP_"))},
                "API_HOST": "127.0.0.1",
                "API_PORT": str(port),
                "API_NUM_THREADS": str(count),
                "TOKENIZERS_PARALLELISM": "false",
            }
            argv = [sys.executable, "-m", "kubefactory.runtime.cli", "api", str(config)]
            servers[count] = stack.enter_context(_server(argv, env, port, workdir))
        for _ in range(rounds):
            for condition in ("quiet", "neighbour"):
                with _neighbour(cpus) if condition == "neighbour" else contextlib.nullcontext():
                    for count, url in servers.items():
                        measured.setdefault((count, condition), []).append(asyncio.run(_measure(url, load)))
    return measured


def table(load: Load, measured: dict[tuple[int, str], list[Round]], default: int) -> str:
    lines = [
        f"{load.clients} concurrent clients × {load.new_tokens} new tokens, tiny model, CPU",
        "",
        "| torch threads | quiet: tokens/s | quiet: p50 / p99 latency (s) | neighbour: tokens/s | neighbour: p50 / p99 latency (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for count in sorted({count for count, _ in measured}):
        cells = []
        for condition in ("quiet", "neighbour"):
            rounds = measured[(count, condition)]
            latencies = [x for r in rounds for x in r.latencies]
            rate = statistics.median(r.tokens_per_second for r in rounds)
            cells += [f"{rate:,.0f}", f"{statistics.median(latencies):.2f} / {_p99(latencies):.2f}"]
        label = f"{count} (the default)" if count == default else str(count)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(smoke: bool) -> dict[tuple[int, str], list[Round]]:
    from kubefactory.runtime.serve.settings import available_cpus, default_threads

    cpus = max(1, int(available_cpus()))
    default = default_threads(available_cpus())
    counts = [default] if smoke else sorted({1, default, cpus})
    load, rounds = (Load(2, 8), 1) if smoke else (Load(8, 64), 3)
    measured = run(load, rounds, counts)
    print(table(load, measured, default))
    return measured


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    main(parser.parse_args().smoke)
