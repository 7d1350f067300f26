"""A real S3-compatible server for tests: moto's standalone server, in its own cached virtualenv.

``moto_server`` is a separate HTTP server process speaking the S3 wire protocol (ListObjectsV2,
ranged GetObject, PutObject, SigV4 authentication with IAM access keys); the code under test talks
to it over HTTP exactly as to MinIO or AWS, so nothing in the client is mocked. It lives in its
own virtualenv, ``${KUBEFACTORY_CACHE:-~/.cache/kubefactory}/s3-server/moto-<version>``, built
once from PyPI (about half a minute) and reused: moto needs botocore, whose python-dateutil pin
conflicts with the Kubernetes client of the project's own environment.

Authentication is on: the first requests (the bootstrap below) create an IAM user with an access
key allowed every S3 action; every later request must be signed with that key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MOTO_VERSION = "5.2.5"
BOOTSTRAP_REQUESTS = 3  # CreateUser, PutUserPolicy, CreateAccessKey: unauthenticated, then auth is on
REGION = "us-east-1"
BOOTSTRAP = """
import json, sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="kubefactory")
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
iam.put_user_policy(UserName="kubefactory", PolicyName="s3", PolicyDocument=json.dumps(policy))
key = iam.create_access_key(UserName="kubefactory")["AccessKey"]
print(json.dumps({"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}))
"""


def cache_dir() -> Path:
    base = os.environ.get("KUBEFACTORY_CACHE") or "~/.cache/kubefactory"
    return Path(base).expanduser() / "s3-server"


def ensure_moto(version: str = MOTO_VERSION) -> Path:
    """The virtualenv holding moto's server, built on first use.

    A virtualenv records its own path, so it is built in place; its stamp is written last, and a
    folder without the stamp (an interrupted build) is built anew.
    """
    root = cache_dir()
    venv = root / f"moto-{version}"
    stamp = venv / ".complete"
    if stamp.exists():
        return venv
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"moto-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        python = shutil.which("python3") or sys.executable
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"moto[server]=={version}"]
        subprocess.run(pip, check=True, timeout=900)
        stamp.write_text(version)
        return venv


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    region: str = REGION

    def environment(self) -> dict[str, str]:
        """What a Secret would give a pod."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
        }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def s3_server(log: Path) -> Iterator[S3Server]:
    """A fresh server with authentication on; stopped (and its data gone) on exit."""
    venv = ensure_moto()
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_REQUESTS),
        "MOTO_CALL_RESET_API": "false",
    }
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(venv / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server did not start; its log: {log.read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-c", BOOTSTRAP, endpoint],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"creating the S3 user failed: {done.stderr[-2000:]}")
        keys = json.loads(done.stdout)
        yield S3Server(endpoint, keys["access_key"], keys["secret_key"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
