"""A local HTTP server speaking the part of the Hugging Face Hub's API that downloads use.

The real hub is unreachable from the machines these tests run on, so ``huggingface_hub`` is
pointed at this one (its ``endpoint``): repo info by revision, the file tree (of a model or, under
``/api/datasets`` and ``/datasets/``, a dataset repository), and
``/resolve/<commit>/<file>`` with HEAD and ranged GET, gated repos answering 401 ``GatedRepo``
without the right token. Every request is recorded, so tests can count downloads and see ranges.
A file can be made to break off midway once (``cut_once``) or to hang midway until released
(``hold``), to interrupt a download.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]]  # commit sha → file name → content
    refs: dict[str, str]  # branch or tag → commit sha
    gated_token: str | None = None  # set: only this token may read


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    token: str | None


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    cut_once: set[str] = field(default_factory=set)  # file names whose next GET breaks off midway
    hold: dict[str, threading.Event] = field(default_factory=dict)  # file name → released when set
    url: str = ""

    def downloads(self, name: str) -> list[Request]:
        """The GETs of a file's content."""
        return [
            r
            for r in self.requests
            if r.method == "GET" and "/resolve/" in r.path and r.path.endswith("/" + name)
        ]


def commit_of(files: dict[str, bytes]) -> str:
    return hashlib.sha1(
        json.dumps(sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items())).encode()
    ).hexdigest()


def _entry(name: str, content: bytes) -> dict[str, object]:
    sha = hashlib.sha256(content).hexdigest()
    return {"size": len(content), "oid": hashlib.sha1(content).hexdigest(), "sha256": sha}


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub

    def log_message(self, *args: object) -> None:
        pass

    def _token(self) -> str | None:
        value = self.headers.get("Authorization") or ""
        return value.removeprefix("Bearer ") or None

    def _error(self, status: int, code: str, message: str) -> None:
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        body = json.dumps({"error": message}).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: object) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _repo(self, name: str) -> Repo | None:
        repo = self.hub.repos.get(name)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository {name} not found")
            return None
        if repo.gated_token is not None and self._token() != repo.gated_token:
            self._error(401, "GatedRepo", f"Access to model {name} is restricted")
            return None
        return repo

    def _commit(self, repo: Repo, revision: str) -> str | None:
        commit = repo.refs.get(revision, revision if revision in repo.commits else None)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.hub.requests.append(Request(self.command, path, self.headers.get("Range"), self._token()))
        parts = path.strip("/").split("/")
        if parts[:1] == ["datasets"]:
            parts = parts[1:]  # a dataset repo: the same routes under /datasets/
        if parts[:2] in (["api", "models"], ["api", "datasets"]):
            self._api(parts[2:])
        elif len(parts) >= 5 and parts[2] == "resolve":
            self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
        else:
            self._error(404, "EntryNotFound", f"no route {path}")

    def _api(self, parts: list[str]) -> None:
        name = "/".join(parts[:2])
        if (repo := self._repo(name)) is None:
            return
        rest = parts[2:]
        revision = rest[1] if len(rest) >= 2 else "main"
        if (commit := self._commit(repo, revision)) is None:
            return
        files = repo.commits[commit]
        if rest[:1] == ["tree"]:
            tree = []
            for file, content in sorted(files.items()):
                e = _entry(file, content)
                lfs = {"oid": e["sha256"], "size": e["size"], "pointerSize": 134}
                tree.append({"type": "file", "path": file, "size": e["size"], "oid": e["oid"], "lfs": lfs})
            self._json(tree)
            return
        siblings = []
        for file, content in sorted(files.items()):
            e = _entry(file, content)
            lfs = {"sha256": e["sha256"], "size": e["size"], "pointerSize": 134}
            siblings.append({"rfilename": file, "size": e["size"], "blobId": e["oid"], "lfs": lfs})
        self._json({"id": name, "modelId": name, "sha": commit, "private": False, "siblings": siblings,
                    "gated": "manual" if repo.gated_token else False})  # fmt: skip

    def _resolve(self, name: str, revision: str, file: str, body: bool) -> None:
        if (repo := self._repo(name)) is None or (commit := self._commit(repo, revision)) is None:
            return
        content = repo.commits[commit].get(file)
        if content is None:
            self._error(404, "EntryNotFound", f"{file} not in {name}@{revision}")
            return
        start = 0
        if body and (asked := self.headers.get("Range")):
            start = int(asked.removeprefix("bytes=").split("-")[0])
        sha = hashlib.sha256(content).hexdigest()
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{sha}"')
        self.send_header("Content-Length", str(len(content) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        self.end_headers()
        if not body:
            return
        piece = content[start:]
        if file in self.hub.cut_once:
            self.hub.cut_once.discard(file)
            self.wfile.write(piece[: len(piece) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if (event := self.hub.hold.get(file)) is not None and not event.is_set():
            self.wfile.write(piece[: len(piece) // 2])
            self.wfile.flush()
            event.wait(60)
            self.close_connection = True
            return
        self.wfile.write(piece)


def start_hub(hub: FakeHub) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"hub": hub})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
