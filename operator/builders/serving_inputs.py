"""What the ModelServer builders need, resolved once: the model and adapters to serve, and their names.

The reconcile resolves FineTuneJob references into URIs (``pvc://claim/path`` or ``hf://org/name``);
from here on nothing asks where a model came from. Every claim a server reads is mounted read-only
at ``/kubefactory/claims/<claim>``, once, however many models and adapters live on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..api.modelserver import ModelServerSpec
from ..naming import LABEL_COMPONENT, Owner, ServingNames, dns_label, serving_names
from ..profiles import AcceleratorProfile, profile_for
from .layout import CLAIMS_DIR, MERGED_DIR, SERVER_PORT

SERVER_COMPONENT = "server"
MERGE_COMPONENT = "model-merge"


@dataclass(frozen=True)
class PodPath:
    """How a pod reaches a model: the path (or hub id) the engine loads, and the claim to mount if any."""

    path: str
    claim: str | None = None


def pod_path(uri: str) -> PodPath:
    """``pvc://claim/dir`` → /kubefactory/claims/claim/dir; ``hf://org/name`` → org/name; a path as is."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return PodPath(uri)
    if scheme == "hf":
        return PodPath(rest)
    if scheme == "pvc":
        claim, _, folder = rest.partition("/")
        return PodPath(f"{CLAIMS_DIR}/{claim}/{folder}".rstrip("/"), claim)
    raise ValueError(f"{uri}: a server reads pvc:// and hf:// models, or a path in the image")


def server_selector(owner: Owner) -> dict[str, str]:
    """The labels that select a ModelServer's server pods (a Deployment's selector is immutable: keep it small)."""
    return {**owner.selector(), LABEL_COMPONENT: SERVER_COMPONENT}


def claim_volume_name(claim: str) -> str:
    return dns_label(f"claim-{claim}")


@dataclass(frozen=True)
class MergeInputs:
    """The merge Job's work: the FineTuneJob's adapter merged into its base, into the merged claim."""

    base_uri: str
    adapter_uri: str
    digest: str  # names the Job and the folder, so a new result is merged anew

    @property
    def export_dir(self) -> str:
        return f"{MERGED_DIR}/{self.digest}"


@dataclass(frozen=True)
class ServingInputs:
    owner: Owner
    spec: ModelServerSpec
    model_uri: str  # the base the engine loads (a merged model, once merged)
    base_name: str  # the name clients ask for to use the base without adapters
    adapters: tuple[tuple[str, str], ...] = ()  # (served name, uri), in order
    template: str | None = None  # the chat template the FineTuneJob trained with
    revision: str = ""  # identity of the resolved sources: a new FineTuneJob result rolls the server
    merge: MergeInputs | None = None

    @property
    def names(self) -> ServingNames:
        return serving_names(self.owner.name)

    @property
    def profile(self) -> AcceleratorProfile:
        return profile_for(self.spec.resources.accelerator)

    @property
    def accelerators(self) -> int:
        """Devices per replica; the CPU profile has none, and its engines run one process."""
        return self.spec.resources.accelerators if self.profile.resource else 1

    @property
    def model(self) -> PodPath:
        return pod_path(self.model_uri)

    @property
    def adapter_paths(self) -> dict[str, str]:
        return {name: pod_path(uri).path for name, uri in self.adapters}

    @property
    def claims(self) -> list[str]:
        """Every claim the server reads, each once."""
        found = [pod_path(uri).claim for uri in [self.model_uri, *(uri for _, uri in self.adapters)]]
        return sorted({claim for claim in found if claim})

    @property
    def served_models(self) -> list[str]:
        return [self.base_name, *(name for name, _ in self.adapters)]

    def labels(self) -> dict[str, str]:
        return self.owner.labels(SERVER_COMPONENT)

    def selector(self) -> dict[str, str]:
        return server_selector(self.owner)

    @property
    def url(self) -> str:
        return f"http://{self.names.server}.{self.owner.namespace}.svc:{SERVER_PORT}/v1"


def digest(*parts: object) -> str:
    canonical = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
