"""Children and referenced objects from memory: a cache fed by the watches the operator runs anyway.

Every kind the reconciles read (the custom resources, and the children a row observes) is
watched through kopf; each watch event updates this cache, so a steady-state reconcile reads its
Jobs, pods, progress ConfigMap, Deployment and referenced Datasets or FineTuneJobs from memory
instead of a GET and LISTs per event. The custom resource itself is still read fresh: its
``resourceVersion`` guards the status write.

The cache answers only once it is *ready*: kopf runs no event handler before every index
handler has seen its watch's initial listing, so the first event handler call marks it ready. A
watch that reconnects (an API server restart) re-lists without reporting what was deleted in
between; the periodic resync therefore replaces each kind from a LIST (:meth:`WatchCache.replace`),
keeping whichever copy of an object is newer, so a watch event that overtook the LIST is kept.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from .reconcile.plan import Reader

Kind = tuple[str, str]  # (apiVersion, kind)


def _version(body: Mapping[str, Any]) -> int | None:
    text = str((body.get("metadata") or {}).get("resourceVersion") or "")
    return int(text) if text.isdigit() else None


def _plain(value: Any) -> Any:
    """Mappings (kopf's views too) and lists as plain dicts and lists, copied."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _matches(body: Mapping[str, Any], selector: Mapping[str, str] | None) -> bool:
    labels = (body.get("metadata") or {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in (selector or {}).items())


class WatchCache:
    """Objects of the tracked kinds by namespace and name, as the watches last reported them."""

    def __init__(self, kinds: Iterable[Kind]) -> None:
        self.kinds = frozenset(kinds)
        self._objects: dict[Kind, dict[tuple[str, str], dict[str, Any]]] = {kind: {} for kind in self.kinds}
        self._lock = threading.Lock()
        self.ready = threading.Event()

    def tracks(self, api_version: str, kind: str) -> bool:
        return (api_version, kind) in self.kinds

    @staticmethod
    def _slim(body: Mapping[str, Any]) -> dict[str, Any]:
        """A plain deep copy without managedFields (the largest part of most objects; nothing reads it)."""
        out: dict[str, Any] = _plain(body)
        out.get("metadata", {}).pop("managedFields", None)
        return out

    def put(self, body: Mapping[str, Any]) -> None:
        kind = (body.get("apiVersion", ""), body.get("kind", ""))
        if kind not in self.kinds:
            return
        meta = body.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        slim = self._slim(body)
        with self._lock:
            old = self._objects[kind].get(key)
            old_version, new_version = (_version(old) if old else None), _version(slim)
            if old_version is not None and new_version is not None and new_version < old_version:
                return  # an older copy (a LIST overtaken by a watch event) never replaces a newer one
            self._objects[kind][key] = slim

    def remove(self, body: Mapping[str, Any]) -> None:
        kind = (body.get("apiVersion", ""), body.get("kind", ""))
        meta = body.get("metadata") or {}
        with self._lock:
            self._objects.get(kind, {}).pop((meta.get("namespace", ""), meta.get("name", "")), None)

    def replace(
        self,
        api_version: str,
        kind: str,
        items: list[dict[str, Any]],
        list_version: str,
        namespace: str | None,
    ) -> None:
        """Make the cache agree with a LIST (of ``namespace``, or all): objects the LIST lacks are
        dropped unless a watch event newer than the LIST brought them."""
        listed_at = int(list_version) if str(list_version).isdigit() else None
        listed = {
            ((item.get("metadata") or {}).get("namespace", ""), item["metadata"]["name"]) for item in items
        }
        with self._lock:
            store = self._objects[(api_version, kind)]
            for key in list(store):
                if namespace is not None and key[0] != namespace:
                    continue
                version = _version(store[key])
                newer = listed_at is not None and version is not None and version > listed_at
                if key not in listed and not newer:
                    del store[key]
        for item in items:
            self.put(item)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects[(api_version, kind)].get((namespace, name))

    def list(
        self, api_version: str, kind: str, namespace: str | None, selector: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            found = list(self._objects[(api_version, kind)].items())
        return [
            body
            for (ns, _), body in sorted(found, key=lambda item: item[0])
            if (namespace is None or ns == namespace) and _matches(body, selector)
        ]

    def size(self) -> int:
        with self._lock:
            return sum(len(store) for store in self._objects.values())


class CachedReader:
    """A Reader answering tracked kinds from the cache once it is ready, everything else from ``fallback``."""

    def __init__(self, cache: WatchCache, fallback: Reader) -> None:
        self.cache = cache
        self.fallback = fallback

    def _cached(self, api_version: str, kind: str) -> bool:
        return self.cache.ready.is_set() and self.cache.tracks(api_version, kind)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if not self._cached(api_version, kind):
            return self.fallback.get(api_version, kind, namespace, name)
        return copy.deepcopy(self.cache.get(api_version, kind, namespace, name))

    def list(
        self, api_version: str, kind: str, namespace: str | None, selector: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        if not self._cached(api_version, kind):
            return self.fallback.list(api_version, kind, namespace, selector)
        return copy.deepcopy(self.cache.list(api_version, kind, namespace, selector))
