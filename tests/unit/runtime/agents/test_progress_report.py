"""`kubefactory report-progress`: the trainer's progress record reaches the job's ConfigMap."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubefactory.runtime.agents.progress_report import Watcher, is_rank_zero
from kubefactory.runtime.cli import main


class FakeApiServer(HTTPServer):
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def do_PATCH(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(
            {"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(body)}
        )
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def api_server() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


TRAINER = """
import json, sys, time
for step in (10, 20):
    open(sys.argv[1], "w").write(json.dumps({"step": step, "totalSteps": 20, "latestCheckpoint": f"checkpoint-{step}"}))
    time.sleep(0.3)
sys.exit(int(sys.argv[2]))
"""


def run_wrapped(
    tmp_path: Path, api_server: FakeApiServer, exit_code: int, monkeypatch: pytest.MonkeyPatch, rank: str
) -> int:
    monkeypatch.setenv("POD_NAMESPACE", "team-a")
    monkeypatch.setenv("NODE_RANK", rank)
    (tmp_path / "trainer.py").write_text(TRAINER)
    progress = tmp_path / "progress.json"
    return main(
        [
            "report-progress", "--file", str(progress), "--config-map", "sft-progress", "--interval", "0.1",
            "--api-server", api_server.url, "--termination-log", str(tmp_path / "termination-log"),
            "--", sys.executable, str(tmp_path / "trainer.py"), str(progress), str(exit_code),
        ]
    )  # fmt: skip


def test_rank_zero_publishes_every_record_and_keeps_the_exit_code(
    tmp_path: Path, api_server: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_wrapped(tmp_path, api_server, 3, monkeypatch, rank="0") == 3
    paths = {request["path"] for request in api_server.requests}
    assert paths == {"/api/v1/namespaces/team-a/configmaps/sft-progress"}
    assert {request["type"] for request in api_server.requests} == {"application/merge-patch+json"}
    published = [json.loads(request["body"]["data"]["progress.json"]) for request in api_server.requests]
    assert published[-1] == {"step": 20, "totalSteps": 20, "latestCheckpoint": "checkpoint-20"}
    assert len(published) == len({json.dumps(p) for p in published})  # each change once
    last = json.loads((tmp_path / "termination-log").read_text())
    assert last["step"] == 20


def test_other_ranks_do_not_publish(
    tmp_path: Path, api_server: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_wrapped(tmp_path, api_server, 0, monkeypatch, rank="1") == 0
    assert api_server.requests == []


def test_a_failed_publish_is_retried_with_the_next_check(tmp_path: Path) -> None:
    sent: list[str] = []
    failures = iter([OSError("connection refused")])

    def send(text: str) -> None:
        error = next(failures, None)
        if error:
            raise error
        sent.append(text)

    record = tmp_path / "progress.json"
    record.write_text('{"step": 1}')
    watcher = Watcher(record, send)
    watcher.check()
    watcher.check()
    watcher.check()
    assert sent == ['{"step": 1}']


@pytest.mark.parametrize(
    ("env", "zero"),
    [
        ({}, True),
        ({"NODE_RANK": "0"}, True),
        ({"NODE_RANK": "2"}, False),
        ({"JOB_COMPLETION_INDEX": "1"}, False),
    ],
)
def test_is_rank_zero(env: dict[str, str], zero: bool) -> None:
    assert is_rank_zero(env) is zero


def test_a_command_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report-progress", "--file", "p.json"]) == 2
    assert "give the command to run after --" in capsys.readouterr().err
