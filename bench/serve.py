"""Serving throughput: `kubefactory api` (huggingface engine) against LLaMA-Factory 0.9.5's `api`
(its huggingface engine) on the same tiny model, on the CPU.

Both servers run as subprocesses with the same environment and the same config; rounds alternate
between them. In each round a server is loaded by N concurrent clients asking for M new tokens
(sampling at temperature 1.0, top_p 1.0, so both do the same work), twice:

- non-streaming requests → total output tokens/s (from each response's `usage`) and latency;
- streaming requests → time to first token (the first chunk carrying text).

Both servers get OMP_NUM_THREADS=1 (see THREADS).

    python -m bench.serve            # 16 clients × 128 new tokens, 3 rounds (minutes: LLaMA-Factory is serial)
    python -m bench.serve --smoke    # 4 clients × 16 tokens, 1 round, KubeFactory only (for CI)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "llamafactory-demo"
QUESTION = [
    {"role": "user", "content": "Tell me a long story about a fox who learns to fine-tune language models."}
]
THREADS = "1"  # OMP_NUM_THREADS of both servers
OURS = "KubeFactory `api` (huggingface engine, continuous batching)"
BASELINE = "LLaMA-Factory 0.9.5 `api` (huggingface engine)"
LF_API_DEPENDENCIES = ("fastapi", "uvicorn", "sse-starlette")  # LLaMA-Factory's `api` needs them


@dataclass(frozen=True)
class Load:
    clients: int
    new_tokens: int


@dataclass(frozen=True)
class Round:
    output_tokens: int
    seconds: float
    latencies: list[float]
    ttfts: list[float]

    @property
    def tokens_per_second(self) -> float:
        return self.output_tokens / self.seconds


@dataclass(frozen=True)
class Result:
    """One server over several rounds: the median round's throughput, percentiles over all requests."""

    server: str
    rounds: list[Round]

    @property
    def tokens_per_second(self) -> float:
        return statistics.median(r.tokens_per_second for r in self.rounds)

    def row(self) -> str:
        p50, p95 = _percentiles([x for r in self.rounds for x in r.latencies])
        t50, t95 = _percentiles([x for r in self.rounds for x in r.ttfts])
        each = " / ".join(f"{r.tokens_per_second:,.0f}" for r in self.rounds)
        return f"| {self.server} | {self.tokens_per_second:,.0f} | {each} | {p50:.2f} | {p95:.2f} | {t50:.3f} | {t95:.3f} |"


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(
    argv: list[str], env: dict[str, str], port: int, workdir: Path, startup_s: float = 600
) -> Iterator[str]:
    """Start a server, wait until /v1/models answers, stop it afterwards."""
    import httpx

    url = f"http://127.0.0.1:{port}"
    with (workdir / f"server-{port}.log").open("w") as log:
        # cwd outside the repository: its operator/ folder would shadow the standard library's operator
        process = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + startup_s
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited with {process.returncode}; see {log.name}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/v1/models", timeout=5).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} did not start in {startup_s}s; see {log.name}")
                time.sleep(0.5)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _body(load: Load, stream: bool) -> dict[str, Any]:
    return {
        "model": "gpt-3.5-turbo",
        "messages": QUESTION,
        "max_tokens": load.new_tokens,
        "temperature": 1.0,
        "top_p": 1.0,
        "stream": stream,
    }


async def _one(client: Any, url: str, load: Load) -> tuple[float, int]:
    started = time.perf_counter()
    response = await client.post(url + "/v1/chat/completions", json=_body(load, stream=False))
    response.raise_for_status()
    return time.perf_counter() - started, int(response.json()["usage"]["completion_tokens"])


async def _first_token(client: Any, url: str, load: Load) -> float:
    import json

    started = time.perf_counter()
    async with client.stream("POST", url + "/v1/chat/completions", json=_body(load, stream=True)) as response:
        first = None
        async for line in response.aiter_lines():
            if first is None and line.startswith("data: {"):
                choices = json.loads(line[len("data: ") :]).get("choices") or [{}]
                if choices[0].get("delta", {}).get("content"):
                    first = time.perf_counter() - started
    return first if first is not None else float("nan")


async def _measure(url: str, load: Load) -> Round:
    import httpx

    limits = httpx.Limits(max_connections=load.clients * 2)
    async with httpx.AsyncClient(timeout=3600, limits=limits) as client:
        await _one(client, url, Load(1, 8))  # warm-up: first-call allocations are not serving speed
        started = time.perf_counter()
        done = await asyncio.gather(*[_one(client, url, load) for _ in range(load.clients)])
        seconds = time.perf_counter() - started
        ttfts = await asyncio.gather(*[_first_token(client, url, load) for _ in range(load.clients)])
    return Round(sum(tokens for _, tokens in done), seconds, [lat for lat, _ in done], list(ttfts))


def _tiny_model() -> Path:
    from kubefactory.runtime.model.tiny import TinyModelSpec, build_tiny_model

    return build_tiny_model(TinyModelSpec(), corpus=[DEMO_DATA] if DEMO_DATA.is_dir() else [])


def _lf_python(workdir: Path) -> Path:
    """LLaMA-Factory's python (built once, shared with the other benchmarks), with its `api` extras."""
    from bench import lf_env

    # lf_env probes with `python -c`, which puts the working directory on sys.path: run it outside
    # the repository, whose operator/ folder would shadow the standard library's operator module
    here = Path.cwd()
    os.chdir(workdir)
    try:
        python = lf_env.ensure()
        probe = [str(python), "-c", "import fastapi, uvicorn, sse_starlette"]
        if subprocess.run(probe, env=lf_env.lf_env(), capture_output=True).returncode != 0:
            subprocess.run([str(python), "-m", "pip", "install", "-q", *LF_API_DEPENDENCIES], check=True)
        return python
    finally:
        os.chdir(here)


def run(load: Load, rounds: int, with_baseline: bool) -> list[Result]:
    """Start both servers, then alternate rounds between them: load on a shared machine drifts,
    and alternating spreads the drift over both."""
    with (
        tempfile.TemporaryDirectory(prefix="kubefactory-bench-serve-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        config = workdir / "serve.yaml"
        config.write_text(f"model_name_or_path: {_tiny_model()}\ntemplate: qwen\n", encoding="utf-8")
        # One intra-op thread per server: on a small shared CPU, torch's default (one per core) makes
        # the threads of a tiny model's small matmuls wait on each other, and numbers swing 10×.
        common = {
            "API_HOST": "127.0.0.1",
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": THREADS,
            "API_NUM_THREADS": THREADS,  # KubeFactory's own setting (OMP_NUM_THREADS no longer decides)
        }
        servers: list[tuple[str, str]] = []

        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("API_")},
            **common,
            "API_PORT": str(port),
        }
        ours = [sys.executable, "-m", "kubefactory.runtime.cli", "api", str(config)]
        servers.append((OURS, stack.enter_context(_server(ours, env, port, workdir))))

        python = _lf_python(workdir) if with_baseline else None
        if python is not None:
            from bench import lf_env

            port = _free_port()
            env = {
                **{k: v for k, v in lf_env.lf_env().items() if not k.startswith("API_")},
                **common,
                "API_PORT": str(port),
            }
            theirs = [str(python.parent / "llamafactory-cli"), "api", str(config)]
            servers.append((BASELINE, stack.enter_context(_server(theirs, env, port, workdir))))

        measured: dict[str, list[Round]] = {name: [] for name, _ in servers}
        for _ in range(rounds):
            for name, url in servers:
                measured[name].append(asyncio.run(_measure(url, load)))
        return [Result(name, measured[name]) for name, _ in servers]


def table(load: Load, results: list[Result]) -> str:
    lines = [
        f"Serving: {load.clients} concurrent clients × {load.new_tokens} new tokens, tiny model, CPU, "
        f"{len(results[0].rounds)} round(s) per server",
        "",
        "| server | output tokens/s (median) | per round | p50 latency (s) | p95 latency (s) | p50 TTFT (s) | p95 TTFT (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[result.row() for result in results],
    ]
    if len(results) == 2:
        lines += [
            "",
            f"Speed-up in output tokens/s: {results[0].tokens_per_second / results[1].tokens_per_second:.1f}×",
        ]
    return "\n".join(lines)


def main(smoke: bool) -> list[Result]:
    load, rounds = (Load(4, 16), 1) if smoke else (Load(16, 128), 3)
    # the smoke run checks that the benchmark works, in seconds: LLaMA-Factory's startup alone takes longer
    results = run(load, rounds, with_baseline=not smoke)
    print(table(load, results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="a short run for CI")
    main(parser.parse_args().smoke)
