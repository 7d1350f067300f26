"""The watch cache: what the watches report, answered from memory; a LIST never undoes a newer event."""

from __future__ import annotations

from typing import Any

from kubefactory.operator.cache import CachedReader, WatchCache
from kubefactory.operator.registry import cached_kinds

JOB = ("batch/v1", "Job")


def job(name: str, version: int, namespace: str = "team-a", **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "resourceVersion": str(version),
            "labels": labels,
            "managedFields": [{"manager": "x"}],
        },
        "status": {"active": version},
    }


class CountingReader:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(f"GET {kind}")
        return None

    def list(
        self, api_version: str, kind: str, namespace: str | None, selector: Any = None
    ) -> list[dict[str, Any]]:
        self.calls.append(f"LIST {kind}")
        return []


def test_every_kind_a_reconcile_reads_is_cached() -> None:
    kinds = {kind for _, kind in cached_kinds()}
    assert {"FineTuneJob", "Dataset", "ModelServer", "Job", "Pod", "ConfigMap", "Deployment"} <= kinds
    assert {"HorizontalPodAutoscaler", "PodDisruptionBudget"} <= kinds


def test_put_get_list_by_namespace_and_selector() -> None:
    cache = WatchCache([JOB])
    cache.put(job("a", 1, app="x"))
    cache.put(job("b", 2, app="y"))
    cache.put(job("c", 3, namespace="team-b", app="x"))
    cache.put({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "team-a"}})
    assert [j["metadata"]["name"] for j in cache.list(*JOB, "team-a")] == ["a", "b"]
    assert [j["metadata"]["name"] for j in cache.list(*JOB, "team-a", {"app": "x"})] == ["a"]
    assert [j["metadata"]["name"] for j in cache.list(*JOB, None, {"app": "x"})] == ["a", "c"]
    found = cache.get(*JOB, "team-a", "a")
    assert found is not None and "managedFields" not in found["metadata"]
    assert cache.size() == 3  # the untracked Secret is not kept


def test_an_older_copy_never_replaces_a_newer_one() -> None:
    cache = WatchCache([JOB])
    cache.put(job("a", 5))
    cache.put(job("a", 4))
    assert cache.get(*JOB, "team-a", "a")["status"] == {"active": 5}  # type: ignore[index]
    cache.remove(job("a", 5))
    assert cache.get(*JOB, "team-a", "a") is None


def test_a_list_drops_what_was_deleted_unseen_but_keeps_newer_events() -> None:
    cache = WatchCache([JOB])
    cache.put(job("ghost", 3))  # deleted while a watch was away: no DELETED event came
    cache.put(job("fresh", 12))  # created after the LIST's snapshot, heard from the watch
    cache.put(job("kept", 9))  # the watch is ahead of the LIST for this one
    cache.put(job("elsewhere", 2, namespace="team-b"))
    cache.replace(*JOB, [job("kept", 7), job("listed", 8)], "10", "team-a")
    names = [j["metadata"]["name"] for j in cache.list(*JOB, None)]
    assert names == ["fresh", "kept", "listed", "elsewhere"]
    assert cache.get(*JOB, "team-a", "kept")["status"] == {"active": 9}  # type: ignore[index]


def test_the_reader_uses_the_cache_only_once_it_is_ready() -> None:
    cache = WatchCache([JOB])
    cache.put(job("a", 1))
    fallback = CountingReader()
    reader = CachedReader(cache, fallback)
    assert reader.list(*JOB, "team-a") == [] and fallback.calls == ["LIST Job"]
    cache.ready.set()
    listed = reader.list(*JOB, "team-a")
    assert [j["metadata"]["name"] for j in listed] == ["a"]
    assert reader.get(*JOB, "team-a", "a") is not None
    assert reader.get("v1", "Secret", "team-a", "s") is None  # not tracked: asked of the API server
    assert fallback.calls == ["LIST Job", "GET Secret"]
    listed[0]["status"]["active"] = 99  # a reader's copy: the cache is not changed through it
    assert cache.get(*JOB, "team-a", "a")["status"] == {"active": 1}  # type: ignore[index]


class RecordingKube(CountingReader):
    """Answers GETs of the custom resource; records every read and write."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__()
        self.body = body

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(f"GET {kind}")
        return self.body if kind == self.body["kind"] else None

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("APPLY")
        return obj

    def merge_patch(self, ref: Any, patch: dict[str, Any], subresource: str | None = None) -> dict[str, Any]:
        self.calls.append(f"PATCH {subresource or ref.kind}")
        return {}

    def event(self, *args: Any) -> None:
        self.calls.append("EVENT")


def test_a_steady_reconcile_reads_only_the_custom_resource(make_finetunejob: Any, make_dataset: Any) -> None:
    from kubefactory.operator.controller import Controller
    from kubefactory.operator.registry import REGISTRY
    from kubefactory.operator.settings import OperatorSettings

    body = make_finetunejob()
    kube = RecordingKube(body)
    cache = WatchCache(cached_kinds())
    cache.put(make_dataset())
    cache.ready.set()
    controller = Controller(kube, OperatorSettings(), cache=cache)  # type: ignore[arg-type]
    controller.reconcile(REGISTRY["FineTuneJob"], "team-a", "sft")
    reads = [call for call in kube.calls if call.startswith(("GET", "LIST"))]
    assert reads == ["GET FineTuneJob"]  # the CR fresh; its Dataset, Jobs, pods, progress from memory
    assert "APPLY" in kube.calls and "PATCH status" in kube.calls  # the decision was made on them

    uncached = RecordingKube(body)
    Controller(uncached, OperatorSettings()).reconcile(REGISTRY["FineTuneJob"], "team-a", "sft")  # type: ignore[arg-type]
    assert [c for c in uncached.calls if c.startswith(("GET", "LIST"))] == [
        "GET FineTuneJob", "GET Dataset", "LIST Job", "LIST Pod", "GET ConfigMap",
        "LIST ModelServer",  # its phase changed: which servers wait for it?
    ]  # fmt: skip


def test_the_cache_is_relisted_every_tenth_resync_only() -> None:
    from kubefactory.operator.controller import Controller
    from kubefactory.operator.settings import OperatorSettings

    class ListingKube(CountingReader):
        def list_versioned(
            self, api_version: str, kind: str, namespace: str | None, selector: Any = None
        ) -> Any:
            self.calls.append(f"LIST {kind}")
            return [], "1"

    kube = ListingKube()
    cache = WatchCache(cached_kinds())
    cache.put(job("ghost", 1))
    cache.ready.set()
    controller = Controller(kube, OperatorSettings(), cache=cache)  # type: ignore[arg-type]
    for _ in range(Controller.REFRESH_EVERY - 1):
        controller.resync()
    assert kube.calls == [] and cache.get(*JOB, "team-a", "ghost") is not None  # CRs come from memory
    controller.resync()
    assert len(kube.calls) == len(cached_kinds())  # one LIST per cached kind
    assert cache.get(*JOB, "team-a", "ghost") is None
