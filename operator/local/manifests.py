"""Reading the manifests of ``kubefactory run -f``: files and folders of YAML documents, and overrides.

``--set KIND/NAME:path.to.field=VALUE`` changes one field before validation (the value is YAML);
``--config-map NAME=PATH`` stands in for ``kubectl create configmap NAME --from-file=PATH``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..api.common import Resource
from ..api.kinds import BY_NAME, ManifestError, parse

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
CONFIG_KINDS = ("ConfigMap", "Secret")


class LocalRunError(ValueError):
    """A manifest or an option ``kubefactory run`` cannot use; the message names the field."""


@dataclass
class Manifests:
    """The resources to run, and the ConfigMaps and Secrets they read, by name."""

    resources: list[Resource] = field(default_factory=list)
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)  # name → key → text
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # name → key → value

    def of_kind(self, kind: str) -> list[Resource]:
        return [resource for resource in self.resources if kind_of(resource) == kind]

    def find(self, kind: str, name: str) -> Resource | None:
        return next((r for r in self.of_kind(kind) if r.metadata.get("name") == name), None)


def kind_of(resource: Resource) -> str:
    return str(getattr(resource, "kind", type(resource).__name__))


def manifest_files(paths: list[str]) -> list[Path]:
    """Each FILE, and every manifest file in each DIR (sorted, not recursive, as ``kubectl apply -f``)."""
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise LocalRunError(f"-f {item}: no such file or folder")
    return files


def read_documents(files: list[Path]) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for file in files:
        for document in yaml.safe_load_all(file.read_text(encoding="utf-8")):
            if document is None:
                continue
            if not isinstance(document, dict):
                raise LocalRunError(f"{file}: a manifest is a mapping, got {type(document).__name__}")
            items = document.get("items") if document.get("kind") == "List" else [document]
            documents += [dict(item) for item in items or []]
    return documents


@dataclass(frozen=True)
class Override:
    kind: str
    name: str
    path: tuple[str, ...]
    value: Any


def parse_override(text: str) -> Override:
    """``FineTuneJob/identity-lora:spec.model=/models/tiny`` → an Override (the value is YAML)."""
    target, sep, rest = text.partition(":")
    kind, slash, name = target.partition("/")
    dotted, equals, value = rest.partition("=")
    if not (sep and slash and equals and kind and name and dotted):
        raise LocalRunError(f"--set {text}: write KIND/NAME:path.to.field=VALUE")
    if kind not in BY_NAME:
        raise LocalRunError(f"--set {text}: {kind} is not one of {', '.join(BY_NAME)}")
    return Override(kind, name, tuple(dotted.split(".")), yaml.safe_load(value) if value else "")


def apply_overrides(documents: list[dict[str, Any]], overrides: list[Override]) -> None:
    for override in overrides:
        targets = [
            d
            for d in documents
            if d.get("kind") == override.kind and (d.get("metadata") or {}).get("name") == override.name
        ]
        if not targets:
            raise LocalRunError(f"--set: no {override.kind}/{override.name} among the manifests")
        for document in targets:
            node = document
            for key in override.path[:-1]:
                child = node.get(key)
                if not isinstance(child, dict):
                    child = node[key] = {}
                node = child
            node[override.path[-1]] = override.value


def config_map_from_path(text: str) -> tuple[str, dict[str, str]]:
    """``NAME=FILE`` (key: the file's name), ``NAME=KEY=FILE`` or ``NAME=DIR`` (a key per file)."""
    name, sep, rest = text.partition("=")
    if not sep or not name or not rest:
        raise LocalRunError(f"--config-map {text}: write NAME=FILE, NAME=KEY=FILE or NAME=DIR")
    key, sep, file = rest.partition("=")
    if sep:
        return name, {key: Path(file).read_text(encoding="utf-8")}
    path = Path(rest)
    if path.is_dir():
        return name, {p.name: p.read_text(encoding="utf-8") for p in sorted(path.iterdir()) if p.is_file()}
    if path.is_file():
        return name, {path.name: path.read_text(encoding="utf-8")}
    raise LocalRunError(f"--config-map {text}: no such file or folder {rest}")


def load(paths: list[str], overrides: list[str], config_maps: list[str], namespace: str) -> Manifests:
    """Every manifest validated (all problems of each at once), with ``namespace`` where none is set."""
    documents = read_documents(manifest_files(paths))
    apply_overrides(documents, [parse_override(text) for text in overrides])
    found = Manifests()
    problems: list[str] = []
    for document in documents:
        kind = document.get("kind")
        metadata = document.setdefault("metadata", {})
        metadata.setdefault("namespace", namespace)
        metadata.setdefault("uid", f"local-{kind}-{metadata.get('name')}".lower())
        metadata.setdefault("generation", 1)
        if kind == "ConfigMap":
            found.config_maps[metadata["name"]] = {k: str(v) for k, v in (document.get("data") or {}).items()}
        elif kind == "Secret":
            found.secrets[metadata["name"]] = _secret_data(document)
        else:
            try:
                found.resources.append(parse(document))
            except ManifestError as err:
                problems.append(str(err))
    for text in config_maps:
        name, data = config_map_from_path(text)
        found.config_maps[name] = data
    if problems:
        raise LocalRunError("\n".join(problems))
    return found


def _secret_data(document: dict[str, Any]) -> dict[str, str]:
    import base64

    data = {k: base64.b64decode(v).decode() for k, v in (document.get("data") or {}).items()}
    data.update({k: str(v) for k, v in (document.get("stringData") or {}).items()})
    return data
