"""Certificates (via ``openssl``), bearer tokens and kubeconfig files for a local cluster."""

from __future__ import annotations

import base64
import csv
import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# 10.250.0.1: the real node's bridge, where pods reach the API server (see node.py)
SERVING_IPS = ("127.0.0.1", "10.96.0.1", "10.250.0.1")
SERVING_DNS = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
CERT_DAYS = "3650"


@dataclass(frozen=True)
class Identity:
    """A token-authenticated user. ``groups`` decide its powers (RBAC)."""

    name: str  # short name: file names and kubeconfig context
    user: str
    groups: tuple[str, ...] = ()


ADMIN = Identity("admin", "kubefactory-admin", ("system:masters",))
OPERATOR = Identity("operator", "kubefactory-operator")  # no RBAC bindings at all
CONTROLLER_MANAGER = Identity("kube-controller-manager", "system:kube-controller-manager")
SCHEDULER = Identity("kube-scheduler", "system:kube-scheduler")
KWOK = Identity("kwok", "kwok-controller", ("system:masters",))
# The real node's components (node.py). Without the Node authorizer, the kubelet needs more than
# system:nodes grants through RBAC; a throwaway test cluster gives it system:masters.
KUBELET = Identity("kubelet", "system:node:kubefactory-real-node", ("system:nodes", "system:masters"))
KUBE_PROXY = Identity("kube-proxy", "system:kube-proxy")  # bound to system:node-proxier by default
COREDNS = Identity("coredns", "kubefactory-coredns", ("system:masters",))
IDENTITIES = (ADMIN, OPERATOR, CONTROLLER_MANAGER, SCHEDULER, KWOK, KUBELET, KUBE_PROXY, COREDNS)


def openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise RuntimeError("openssl not found on PATH (apt-get install openssl)")
    subprocess.run([binary, *args], cwd=cwd, check=True, capture_output=True, text=True)


def make_ca(pki: Path) -> None:
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key", cwd=pki)
    openssl(
        "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", CERT_DAYS,
        "-subj", "/CN=kubefactory-local-ca", "-out", "ca.crt", cwd=pki,
    )  # fmt: skip


def make_serving_cert(pki: Path) -> None:
    """``apiserver.crt`` for 127.0.0.1 and the in-cluster names, signed by the CA."""
    names = [f"IP:{ip}" for ip in SERVING_IPS] + [f"DNS:{name}" for name in SERVING_DNS]
    (pki / "apiserver.ext").write_text(
        f"subjectAltName={','.join(names)}\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "apiserver.key", cwd=pki)
    openssl(
        "req",
        "-new",
        "-key",
        "apiserver.key",
        "-subj",
        "/CN=kube-apiserver",
        "-out",
        "apiserver.csr",
        cwd=pki,
    )
    openssl(
        "x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-sha256", "-days", CERT_DAYS, "-extfile", "apiserver.ext", "-out", "apiserver.crt", cwd=pki,
    )  # fmt: skip


def make_service_account_key(pki: Path) -> None:
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key", cwd=pki)


def write_tokens(pki: Path) -> dict[str, str]:
    """``tokens.csv`` for ``--token-auth-file``; returns identity name -> token."""
    tokens = {identity.name: secrets.token_hex(24) for identity in IDENTITIES}
    with (pki / "tokens.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
        for identity in IDENTITIES:
            row = [tokens[identity.name], identity.user, identity.user]
            writer.writerow([*row, ",".join(identity.groups)] if identity.groups else row)
    (pki / "tokens.csv").chmod(0o600)
    return tokens


def read_tokens(pki: Path) -> dict[str, str]:
    users = {identity.user: identity.name for identity in IDENTITIES}
    with (pki / "tokens.csv").open(newline="") as handle:
        return {users[row[1]]: row[0] for row in csv.reader(handle) if row and row[1] in users}


def create_pki(pki: Path) -> dict[str, str]:
    pki.mkdir(parents=True, exist_ok=True)
    make_ca(pki)
    make_serving_cert(pki)
    make_service_account_key(pki)
    return write_tokens(pki)


def kubeconfig(server: str, ca_file: Path, user: str, token: str) -> dict[str, object]:
    """A kubeconfig (as a dict, written as JSON, which kubectl reads like YAML)."""
    ca_data = base64.b64encode(ca_file.read_bytes()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "kubefactory", "cluster": {"server": server, "certificate-authority-data": ca_data}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": f"kubefactory-{user}", "context": {"cluster": "kubefactory", "user": user}}],
        "current-context": f"kubefactory-{user}",
        "preferences": {},
    }


def write_kubeconfig(path: Path, server: str, ca_file: Path, identity: Identity, token: str) -> None:
    path.write_text(json.dumps(kubeconfig(server, ca_file, identity.user, token), indent=2) + "\n")
    path.chmod(0o600)
