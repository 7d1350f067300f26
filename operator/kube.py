"""The operator's only door to the API server: read, list, server-side apply, patch, delete, events.

Objects are plain dicts in and out. Every write carries one field manager; applies are forced,
since the operator owns the fields it sets on its own children.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .naming import MANAGER
from .reconcile.plan import Ref
from .registry import ROWS, child_kinds
from .status.conditions import timestamp

log = logging.getLogger(__name__)

# (apiVersion, kind) → (plural, namespaced): the registry's kinds and their children, and the
# operator's own Events and Lease
RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    **{(child.api_version, child.kind): (child.plural, True) for child in child_kinds()},
    ("v1", "Event"): ("events", True),
    ("coordination.k8s.io/v1", "Lease"): ("leases", True),
    **{(row.api_version, row.kind): (row.plural, True) for row in ROWS},
}
TIMEOUT_SECONDS = 30


class ApiError(RuntimeError):
    """A request the API server refused; ``status`` is the HTTP status."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        try:
            detail = json.loads(body).get("message", body)
        except (json.JSONDecodeError, AttributeError):
            detail = body
        super().__init__(f"{method} {path}: {status} {detail}")


def resource_path(
    api_version: str,
    kind: str,
    namespace: str | None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    plural, namespaced = RESOURCES[(api_version, kind)]
    path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if namespaced and namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{plural}"
    if name:
        path += f"/{name}"
    if subresource:
        path += f"/{subresource}"
    return path


class Kube:
    """A thin client over ``kubernetes.client.ApiClient`` (which brings kubeconfig and in-cluster auth)."""

    def __init__(self, api_client: Any, field_manager: str = MANAGER) -> None:
        self.client = api_client
        self.field_manager = field_manager

    def _call(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        _, url, headers, serialized, _ = self.client.param_serialize(
            method,
            path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self.client.call_api(
            method, url, header_params=headers, body=serialized, _request_timeout=TIMEOUT_SECONDS
        )
        data = response.read() or b""
        text = data.decode() if isinstance(data, bytes) else str(data)
        if response.status >= 400:
            raise ApiError(method, path, response.status, text)
        return json.loads(text) if text else None

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._call("GET", resource_path(api_version, kind, namespace, name))
        except ApiError as err:
            if err.status == 404:
                return None
            raise
        return found

    def list(
        self, api_version: str, kind: str, namespace: str | None, selector: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        return self.list_versioned(api_version, kind, namespace, selector)[0]

    def list_versioned(
        self, api_version: str, kind: str, namespace: str | None, selector: dict[str, str] | None = None
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """The items, and the list's resourceVersion (what a cache refreshed from it is as new as)."""
        query = [("labelSelector", ",".join(f"{k}={v}" for k, v in selector.items()))] if selector else []
        found = self._call("GET", resource_path(api_version, kind, namespace), query)
        # list items carry no apiVersion/kind; put them back so items can be referred to
        items = [{"apiVersion": api_version, "kind": kind, **item} for item in found.get("items", [])]
        return items, str((found.get("metadata") or {}).get("resourceVersion") or "")

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        path = resource_path(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        query = [("fieldManager", self.field_manager), ("force", "true")]
        applied: dict[str, Any] = self._call("PATCH", path, query, obj, "application/apply-patch+yaml")
        return applied

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """POST: fails with 409 when the object exists (what taking a free Lease relies on)."""
        path = resource_path(obj["apiVersion"], obj["kind"], obj["metadata"].get("namespace"))
        query = [("fieldManager", self.field_manager)]
        created: dict[str, Any] = self._call("POST", path, query, obj, "application/json")
        return created

    def merge_patch(
        self, ref: Ref, patch: dict[str, Any], subresource: str | None = None
    ) -> dict[str, Any] | None:
        path = resource_path(ref.api_version, ref.kind, ref.namespace, ref.name, subresource)
        query = [("fieldManager", self.field_manager)]
        try:
            patched: dict[str, Any] = self._call("PATCH", path, query, patch, "application/merge-patch+json")
        except ApiError as err:
            if err.status == 404:
                return None
            raise
        return patched

    def delete(self, ref: Ref, propagation: str = "Foreground") -> None:
        """Delete and let the garbage collector remove what it owns; Foreground keeps the object
        until its pods are gone, so "no Job left" means "no pod left"."""
        path = resource_path(ref.api_version, ref.kind, ref.namespace, ref.name)
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        try:
            self._call("DELETE", path, body=body, content_type="application/json")
        except ApiError as err:
            if err.status != 404:
                raise

    def event(self, regarding: dict[str, Any], type_: str, reason: str, message: str, now: datetime) -> None:
        """A core/v1 Event about ``regarding`` (what ``kubectl describe`` shows)."""
        meta = regarding["metadata"]
        stamp = timestamp(now)
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name'][:200]}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": regarding["apiVersion"],
                "kind": regarding["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": self.field_manager},
            "reportingComponent": self.field_manager,
            "reportingInstance": self.field_manager,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            self._call(
                "POST",
                resource_path("v1", "Event", meta["namespace"]),
                body=event,
                content_type="application/json",
            )
        except ApiError as err:  # an event is worth a log line, never a failed reconcile
            log.warning(
                "could not record event %s on %s/%s: %s", reason, regarding["kind"], meta["name"], err
            )


def connect(kubeconfig: str | None = None) -> Any:
    """An ApiClient for the kubeconfig (or $KUBECONFIG), else the in-cluster ServiceAccount."""
    from kubernetes import client, config

    try:
        config.load_kube_config(config_file=kubeconfig)
    except config.ConfigException:
        config.load_incluster_config()
    return client.ApiClient()
