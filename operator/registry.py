"""The kind registry: one row per kind the operator reconciles, read by everything that used to
dispatch on the kind's name.

A row names the kind (its API half, :mod:`.api.kinds`: plural, schema, owner label), how it is
observed and decided (pure functions of :mod:`.reconcile`), the kinds of its children (what the
API client can address, what the handlers watch, what RBAC grants) and the kinds it refers to
(so an object hears at once when one it waits for changes). The controller, the handlers, the
periodic resync, the API client's resource table and the RBAC rules all read these rows: adding
a kind is adding a row and its modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .api import GROUP_VERSION
from .api.kinds import BY_NAME, Kind
from .builders.gang import PODGROUP_API_VERSION
from .reconcile.dataset_plan import observe_dataset, plan_dataset
from .reconcile.plan import Plan, Reader
from .reconcile.serving_plan import finetunejob_names, observe_serving, plan_serving
from .reconcile.training_plan import dataset_names, observe_training, plan_training
from .settings import OperatorSettings

READ = ("get", "list", "watch")
OWN = (*READ, "create", "patch", "update", "delete")


@dataclass(frozen=True)
class ChildKind:
    """A kind of object the operator creates (or only watches) for its custom resources."""

    api_version: str
    kind: str
    plural: str
    verbs: tuple[str, ...] = OWN  # what RBAC grants on it
    watched: bool = False  # its watch events reconcile the parent (kubefactory.io/parent)
    observed: bool = False  # reconciles read it: it is watched into the cache (watched implies it)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def cached(self) -> bool:
        return self.watched or self.observed


@dataclass(frozen=True)
class Reference:
    """Objects of another kind that an object of this kind waits for, named in its spec."""

    kind: str
    names: Callable[[dict[str, Any]], list[str]]  # spec (unvalidated) → the referenced names


CONFIG_MAP = ChildKind("v1", "ConfigMap", "configmaps", watched=True)
SERVICE = ChildKind("v1", "Service", "services")
CLAIM = ChildKind("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
SERVICE_ACCOUNT = ChildKind("v1", "ServiceAccount", "serviceaccounts")
# pods are the Job controller's: the operator only watches them (exit codes, scheduling)
POD = ChildKind("v1", "Pod", "pods", verbs=READ, watched=True)
JOB = ChildKind("batch/v1", "Job", "jobs", watched=True)
ROLE = ChildKind("rbac.authorization.k8s.io/v1", "Role", "roles")
ROLE_BINDING = ChildKind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings")
POD_GROUP = ChildKind(PODGROUP_API_VERSION, "PodGroup", "podgroups")
DEPLOYMENT = ChildKind("apps/v1", "Deployment", "deployments", watched=True)
AUTOSCALER = ChildKind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", observed=True)
BUDGET = ChildKind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", observed=True)


@dataclass(frozen=True)
class KindRow:
    api: Kind
    observe: Callable[[Reader, dict[str, Any], datetime], Any]  # reads what the decision depends on
    plan: Callable[[Any, OperatorSettings], Plan]  # the pure decision
    children: tuple[ChildKind, ...]
    references: tuple[Reference, ...] = ()

    @property
    def kind(self) -> str:
        return self.api.name

    @property
    def plural(self) -> str:
        return self.api.plural

    @property
    def api_version(self) -> str:
        return GROUP_VERSION


ROWS: tuple[KindRow, ...] = (
    KindRow(
        BY_NAME["FineTuneJob"],
        observe_training,
        plan_training,
        children=(CONFIG_MAP, SERVICE, CLAIM, SERVICE_ACCOUNT, ROLE, ROLE_BINDING, JOB, POD, POD_GROUP),
        references=(Reference("Dataset", dataset_names),),
    ),
    KindRow(BY_NAME["Dataset"], observe_dataset, plan_dataset, children=(CLAIM, JOB, POD)),
    KindRow(
        BY_NAME["ModelServer"],
        observe_serving,
        plan_serving,
        children=(CONFIG_MAP, CLAIM, JOB, DEPLOYMENT, SERVICE, AUTOSCALER, BUDGET),
        references=(Reference("FineTuneJob", finetunejob_names),),
    ),
)
REGISTRY: dict[str, KindRow] = {row.kind: row for row in ROWS}


def row_of(kind: str) -> KindRow:
    return REGISTRY[kind]


def child_kinds() -> list[ChildKind]:
    """Every kind of child, once, in the order the rows name them."""
    seen: dict[tuple[str, str], ChildKind] = {}
    for row in ROWS:
        for child in row.children:
            seen.setdefault((child.api_version, child.kind), child)
    return list(seen.values())


def watched_children() -> list[ChildKind]:
    return [child for child in child_kinds() if child.watched]


def cached_children() -> list[ChildKind]:
    """The children reconciles read: watched into the cache."""
    return [child for child in child_kinds() if child.cached]


def cached_kinds() -> list[tuple[str, str]]:
    """(apiVersion, kind) of everything the cache holds: the rows' kinds and their read children."""
    return [(row.api_version, row.kind) for row in ROWS] + [
        (c.api_version, c.kind) for c in cached_children()
    ]


def referrers(kind: str) -> list[tuple[KindRow, Reference]]:
    """The rows whose objects wait for objects of ``kind``."""
    return [(row, ref) for row in ROWS for ref in row.references if ref.kind == kind]
