"""Deterministic names, labels and owner references of the objects the operator creates.

A FineTuneJob or Dataset name may be a DNS subdomain of up to 253 characters; the names of its
children must also be DNS labels (Services, pod hostnames) of at most 63. Names that do not fit
are shortened with a hash of the full name, so they stay unique and the same on every reconcile.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .api import GROUP_VERSION
from .api.kinds import BY_NAME, DATASET, FINETUNEJOB, MODELSERVER

MANAGER = "kubefactory-operator"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
# the label that selects every child of a kind's object: kubefactory.io/<kind, lower case>
LABEL_FINETUNEJOB = FINETUNEJOB.owner_label
LABEL_DATASET = DATASET.owner_label
LABEL_MODELSERVER = MODELSERVER.owner_label
LABEL_ATTEMPT = "kubefactory.io/attempt"
# The full name of the object a child belongs to ("FineTuneJob/name"): labels may be shortened,
# this annotation never is, so a child's event leads back to its parent.
PARENT_ANNOTATION = "kubefactory.io/parent"
LABEL_MAX = 63
JOB_NAME_MAX = 52  # an Indexed Job's pod hostnames are "<job>-<index>" and must fit in 63


def _digest(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def dns_label(base: str, suffix: str = "", limit: int = LABEL_MAX) -> str:
    """``base`` + ``suffix`` as a DNS label of at most ``limit`` characters, starting with a letter.

    Dots become dashes; a name that is too long keeps its start and gains a hash of the whole.
    """
    cleaned = re.sub(r"[^a-z0-9-]", "-", base.lower())
    if not cleaned[:1].isalpha():
        cleaned = f"kf-{cleaned}"
    name = f"{cleaned}{suffix}"
    if cleaned == base and len(name) <= limit:
        return name
    # changed or too long: a hash of the original keeps "a.b" and "a-b" apart
    keep = limit - len(suffix) - 7
    return f"{cleaned[:keep].rstrip('-')}-{_digest(base)}{suffix}"


def label_value(name: str) -> str:
    """An object name as a label value (at most 63 characters)."""
    if len(name) <= LABEL_MAX:
        return name
    return f"{name[: LABEL_MAX - 7].rstrip('-.')}-{_digest(name)}"


@dataclass(frozen=True)
class Owner:
    """The custom resource whose children are being built: what names, labels and owner references need."""

    kind: str  # a kind of the registry (kubefactory.operator.api.kinds)
    name: str
    namespace: str
    uid: str

    @property
    def parent(self) -> str:
        return f"{self.kind}/{self.name}"

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": GROUP_VERSION,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    @property
    def label(self) -> str:
        """The label every child of this owner carries (its value: the owner's name)."""
        return BY_NAME[self.kind].owner_label

    def selector(self) -> dict[str, str]:
        """Labels that select every child of this owner."""
        return {self.label: label_value(self.name)}

    def labels(self, component: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            LABEL_NAME: "kubefactory",
            LABEL_INSTANCE: label_value(self.name),
            LABEL_COMPONENT: component,
            LABEL_MANAGED_BY: MANAGER,
            LABEL_PART_OF: "kubefactory",
            **self.selector(),
            **(extra or {}),
        }

    def metadata(
        self, name: str, component: str, owned: bool = True, labels: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """metadata of a child; ``owned=False`` leaves out the owner reference (kept on deletion)."""
        out: dict[str, Any] = {
            "name": name,
            "namespace": self.namespace,
            "labels": self.labels(component, labels),
            "annotations": {PARENT_ANNOTATION: self.parent},
        }
        if owned:
            out["ownerReferences"] = [self.reference()]
        return out


def owner_of(body: dict[str, Any]) -> Owner:
    meta = body["metadata"]
    return Owner(body["kind"], meta["name"], meta["namespace"], meta.get("uid", ""))


def parent_of(child: dict[str, Any]) -> tuple[str, str, str] | None:
    """(kind, namespace, name) of the custom resource a child belongs to, from its annotation."""
    meta = child.get("metadata") or {}
    parent = (meta.get("annotations") or {}).get(PARENT_ANNOTATION, "")
    kind, _, name = parent.partition("/")
    if kind not in BY_NAME or not name or not meta.get("namespace"):
        return None
    return kind, meta["namespace"], name


# --- the children's names -----------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingNames:
    """Names of a FineTuneJob's children; the Job's name carries the attempt number."""

    base: str  # the FineTuneJob's name

    @property
    def config(self) -> str:
        return dns_label(self.base, "-config")

    @property
    def progress(self) -> str:
        return dns_label(self.base, "-progress")

    @property
    def service(self) -> str:
        return dns_label(self.base, "-workers")

    @property
    def output(self) -> str:
        return dns_label(self.base, "-output")

    @property
    def trainer(self) -> str:
        """ServiceAccount, Role and RoleBinding of the training pods."""
        return dns_label(self.base, "-trainer")

    def attempt_job(self, attempt: int) -> str:
        return dns_label(self.base, f"-a{attempt}", JOB_NAME_MAX)


def training_names(name: str) -> TrainingNames:
    return TrainingNames(name)


def dataset_claim(name: str) -> str:
    return dns_label(name, "-data")


def prepare_job(name: str, spec_hash: str) -> str:
    return dns_label(name, f"-prepare-{spec_hash[:8]}", JOB_NAME_MAX)


@dataclass(frozen=True)
class ServingNames:
    """Names of a ModelServer's children. None ends like a FineTuneJob's child, so a ModelServer may
    share its name with the FineTuneJob it serves."""

    base: str  # the ModelServer's name

    @property
    def server(self) -> str:
        """Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget."""
        return dns_label(self.base)

    @property
    def config(self) -> str:
        return dns_label(self.base, "-serve")

    @property
    def merged(self) -> str:
        """The claim the merge Job writes the merged model to."""
        return dns_label(self.base, "-merged")

    def merge_job(self, digest: str) -> str:
        return dns_label(self.base, f"-merge-{digest[:8]}", JOB_NAME_MAX)


def serving_names(name: str) -> ServingNames:
    return ServingNames(name)
