"""A hostile client of `kubefactory api`, run as its own process by test_robustness (so its own CPU
and GIL use do not count against the well-behaved client measured there):

    python serve_hostile_client.py URL KEY

Until terminated, a round every 2 seconds or so: a 20 MB body, a flood of stop strings, 16 long
requests abandoned after half a second. Prints one line per round."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time

import httpx


def main(url: str, key: str) -> None:
    with contextlib.suppress(OSError):
        os.nice(10)  # a remote attacker's CPU is not the server's
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    hi = [{"role": "user", "content": "Who are you?"}]
    big = json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "a " * 10_000_000}]})
    flood = json.dumps({"model": "tiny", "messages": hi, "stop": ["x" * 2300] * 201})
    long = json.dumps({"model": "tiny", "messages": hi, "max_tokens": 3000, "temperature": 0})
    client = httpx.Client(headers=headers, limits=httpx.Limits(max_connections=32))

    def post(body: str, timeout: float) -> str:
        try:
            return str(client.post(url + "/v1/chat/completions", content=body, timeout=timeout).status_code)
        except httpx.HTTPError as err:
            return type(err).__name__

    rounds = 0
    while True:
        outcomes = [post(big, 30), post(flood, 30)]
        threads = [threading.Thread(target=post, args=(long, 0.5)) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rounds += 1
        print(rounds, *outcomes, flush=True)
        time.sleep(1.5)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
