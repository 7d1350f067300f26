"""kopf wiring: which watch events lead to which reconcile, and the periodic resync.

Handlers only route, from the kind registry: an event of a registered kind reconciles that object; an
event of a watched child (a Job, pod, ConfigMap or Deployment carrying the ``kubefactory.io/parent``
annotation) reconciles its parent.
Only watch-event handlers are used, so kopf adds no finalizers and writes no annotations of its
own to the custom resources: deleting a FineTuneJob never waits for the operator.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from .api import API_GROUP, API_VERSION
from .controller import Controller
from .naming import LABEL_MANAGED_BY, MANAGER, parent_of
from .registry import ROWS, cached_children

log = logging.getLogger(__name__)
OWNED = {LABEL_MANAGED_BY: MANAGER}


def build_registry(controller: Controller) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    resync_task: dict[str, asyncio.Task[None]] = {}
    cache = controller.cache

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> Any:
        # the kubernetes client's view: in-cluster ServiceAccount, else $KUBECONFIG
        return kopf.login_via_client(**kwargs)

    async def index(body: Any, **_: Any) -> None:
        # kopf runs every index handler over its watch's initial listing before any event handler
        if cache is not None:
            cache.put(body)

    def remember(type: str | None, body: Any) -> None:
        if cache is None:
            return
        if type == "DELETED":
            cache.remove(body)
        else:
            cache.put(body)
        cache.ready.set()  # an event handler runs: every initial listing is in the cache

    def own(kind: str) -> Any:
        def handler(type: str | None, body: Any, **_: Any) -> None:
            remember(type, body)
            if type != "DELETED":
                controller.trigger(kind, body["metadata"]["namespace"], body["metadata"]["name"])

        return handler

    def child(watched: bool) -> Any:
        def handler(type: str | None, body: Any, **_: Any) -> None:
            remember(type, body)
            parent = parent_of(dict(body)) if watched else None
            if parent is not None:
                controller.trigger(*parent)

        return handler

    for row in ROWS:
        kopf.on.event(API_GROUP, API_VERSION, row.plural, registry=registry, id=row.api.singular)(
            own(row.kind)
        )
        if cache is not None:
            kopf.index(API_GROUP, API_VERSION, row.plural, registry=registry, id=f"{row.api.singular}-cache")(
                index
            )
    for kind in cached_children():
        what = (kind.group, kind.version, kind.plural)
        name = kind.kind.lower()
        kopf.on.event(*what, labels=OWNED, registry=registry, id=name)(child(kind.watched))
        if cache is not None:
            kopf.index(*what, labels=OWNED, registry=registry, id=f"{name}-cache")(index)

    async def resync_forever() -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(controller.settings.resync_seconds)
            try:
                await loop.run_in_executor(None, controller.resync)
            except Exception as err:  # a failed round is logged; the next one tries again
                log.error("periodic resync failed: %s", err)

    @kopf.on.startup(registry=registry)
    async def start_resync(**_: Any) -> None:
        resync_task["task"] = asyncio.create_task(resync_forever())

    @kopf.on.cleanup(registry=registry)
    async def stop_resync(**_: Any) -> None:
        if task := resync_task.pop("task", None):
            task.cancel()

    return registry
