"""What a pod's model fetch reports, as status fields and a ``ModelFetched`` condition (pure).

The init container ``fetch-model`` (see :mod:`..builders.model_fetch`) ends with a termination
message: the fetch report (``uri``, ``digest``, ``files``, ``bytes``, ``seconds``, ``revision``,
``downloaded``) or a failure (``reason``: NotFound, Unauthorized, Gated, OutOfSpace, Unreachable,
InvalidURI; ``message``). Until it ends, the fetch is in progress.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..builders.model_fetch import FETCH_CONTAINER
from .conditions import Want

CONDITION = "ModelFetched"
REPORTED = ("uri", "digest", "files", "bytes", "seconds", "revision", "downloaded")
FAILURE_REASONS = {
    "NotFound": "ModelNotFound",
    "Unauthorized": "ModelUnauthorized",
    "Gated": "ModelGated",
    "OutOfSpace": "ModelCacheFull",
    "Unreachable": "ModelUnreachable",
    "InvalidURI": "ModelURIInvalid",
}


@dataclass(frozen=True)
class FetchOutcome:
    want: Want
    fields: dict[str, Any]  # for status: what came down (empty unless it succeeded)
    failed: bool = False  # True: retrying will not help until the spec or the Secret changes


def _terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    for status in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if status.get("name") == FETCH_CONTAINER:
            terminated = (status.get("state") or {}).get("terminated")
            if terminated is None:
                terminated = (status.get("lastState") or {}).get("terminated")
            return dict(terminated) if terminated else None
    return None


def fetch_outcome(pod: dict[str, Any]) -> FetchOutcome | None:
    """None when the pod has no fetch; else in progress, done (with its fields), or failed (with why)."""
    spec_inits = (pod.get("spec") or {}).get("initContainers") or []
    if not any(c.get("name") == FETCH_CONTAINER for c in spec_inits):
        return None
    ended = _terminated(pod)
    if ended is None:
        return FetchOutcome(Want(CONDITION, None, "Fetching", "downloading the model into the cache"), {})
    try:
        report = json.loads(ended.get("message") or "")
    except ValueError:
        report = {}
    if ended.get("exitCode") == 0 and isinstance(report, dict) and "digest" in report:
        fields = {key: report[key] for key in REPORTED if report.get(key) is not None}
        how = "downloaded" if report.get("downloaded") else "found in the cache"
        message = f"{report.get('uri')}: {report.get('files')} files, {report.get('bytes')} bytes, {how}"
        return FetchOutcome(Want(CONDITION, True, "Fetched", message), fields)
    reason = str(report.get("reason") or "") if isinstance(report, dict) else ""
    message = str(report.get("message") or "") if isinstance(report, dict) else ""
    message = (
        message or (ended.get("message") or f"the fetch exited with code {ended.get('exitCode')}")[-1000:]
    )
    failed = reason in ("NotFound", "Unauthorized", "Gated", "InvalidURI")
    return FetchOutcome(
        Want(CONDITION, False, FAILURE_REASONS.get(reason, "ModelFetchFailed"), message), {}, failed
    )
