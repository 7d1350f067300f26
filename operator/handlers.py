"""kopf wiring: which watch events lead to which reconcile, and the periodic resync.

Handlers only route: a FineTuneJob, Dataset or ModelServer event reconciles that object; an event of a child
(a Job, pod, ConfigMap or Deployment carrying the ``kubefactory.io/parent`` annotation) reconciles its parent.
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

log = logging.getLogger(__name__)
OWNED = {LABEL_MANAGED_BY: MANAGER}


def build_registry(controller: Controller) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    resync_task: dict[str, asyncio.Task[None]] = {}

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> Any:
        # the kubernetes client's view: in-cluster ServiceAccount, else $KUBECONFIG
        return kopf.login_via_client(**kwargs)

    def own(kind: str) -> Any:
        def handler(type: str | None, body: Any, **_: Any) -> None:
            if type != "DELETED":
                controller.trigger(kind, body["metadata"]["namespace"], body["metadata"]["name"])

        return handler

    def child(type: str | None, body: Any, **_: Any) -> None:
        parent = parent_of(dict(body))
        if parent is not None:
            controller.trigger(*parent)

    kopf.on.event(API_GROUP, API_VERSION, "finetunejobs", registry=registry, id="finetunejob")(
        own("FineTuneJob")
    )
    kopf.on.event(API_GROUP, API_VERSION, "datasets", registry=registry, id="dataset")(own("Dataset"))
    kopf.on.event(API_GROUP, API_VERSION, "modelservers", registry=registry, id="modelserver")(
        own("ModelServer")
    )
    kopf.on.event("batch", "v1", "jobs", labels=OWNED, registry=registry, id="job")(child)
    kopf.on.event("", "v1", "pods", labels=OWNED, registry=registry, id="pod")(child)
    kopf.on.event("", "v1", "configmaps", labels=OWNED, registry=registry, id="configmap")(child)
    kopf.on.event("apps", "v1", "deployments", labels=OWNED, registry=registry, id="deployment")(child)

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
