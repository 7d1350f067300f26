"""The three kinds as the API server lists them: names, short names, printer columns, subresources.

Short names avoid every built-in one (``ds`` is DaemonSet); ``kubectl get kubefactory`` lists all
three through the shared category.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from .common import API_GROUP, GROUP_VERSION, Resource
from .dataset import Dataset
from .finetunejob import FineTuneJob
from .modelserver import ModelServer

CATEGORY = "kubefactory"


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    description: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    priority: int = 0  # 1: shown by `kubectl get -o wide` only

    def to_crd(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            out["priority"] = self.priority
        return out


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "Time since the object was created.", "date")


@dataclass(frozen=True)
class Kind:
    model: type[Resource]
    plural: str
    short_names: tuple[str, ...]
    columns: tuple[PrinterColumn, ...]
    scale: bool = False
    categories: tuple[str, ...] = field(default=(CATEGORY,))

    @property
    def name(self) -> str:
        return self.model.__name__

    @property
    def singular(self) -> str:
        return self.name.lower()

    @property
    def owner_label(self) -> str:
        """The label on every child of an object of this kind (its value: the object's name)."""
        return f"{API_GROUP}/{self.singular}"


DATASET = Kind(
    Dataset,
    plural="datasets",
    short_names=("kfds",),
    columns=(
        PrinterColumn("Samples", ".status.samples.kept", "Examples kept after validation.", "integer"),
        PrinterColumn("Format", ".spec.formatting", "alpaca, sharegpt or openai."),
        PrinterColumn("Phase", ".status.phase", "Pending, Preparing, Ready or Failed."),
        PrinterColumn("Skipped", ".status.samples.skipped", "Examples left out.", "integer", priority=1),
        AGE,
    ),
)
FINETUNEJOB = Kind(
    FineTuneJob,
    plural="finetunejobs",
    short_names=("ftjob", "ftjobs"),
    columns=(
        PrinterColumn("Phase", ".status.phase", "Where the job is in its life."),
        PrinterColumn("Progress", ".status.progress.summary", "Steps done of all, as the trainer reported."),
        PrinterColumn("Model", ".spec.model", "The base model."),
        PrinterColumn("Nodes", ".spec.resources.nodes", "Number of nodes.", "integer"),
        PrinterColumn(
            "Accel/Node", ".spec.resources.acceleratorsPerNode", "Accelerators per node.", "integer"
        ),
        PrinterColumn("Accelerator", ".spec.resources.accelerator", "Accelerator vendor.", priority=1),
        PrinterColumn("Loss", ".status.progress.loss", "Latest training loss.", "number", priority=1),
        AGE,
    ),
)
MODELSERVER = Kind(
    ModelServer,
    plural="modelservers",
    short_names=("msrv",),
    columns=(
        PrinterColumn("Engine", ".spec.engine", "sglang, vllm or huggingface."),
        PrinterColumn("Ready", ".status.readyReplicas", "Replicas ready to serve.", "integer"),
        PrinterColumn("Replicas", ".spec.replicas", "Desired replicas.", "integer"),
        PrinterColumn("URL", ".status.url", "OpenAI-compatible endpoint."),
        PrinterColumn("Phase", ".status.phase", "Pending, Merging, Deploying, Ready or Failed."),
        AGE,
    ),
    scale=True,
)
KINDS: tuple[Kind, ...] = (DATASET, FINETUNEJOB, MODELSERVER)
BY_NAME = {kind.name: kind for kind in KINDS}


class ManifestError(ValueError):
    """Every problem of one manifest, each with its field path, the way kubectl would print them."""

    def __init__(self, what: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        lines = [f"{what} is invalid:"] + [f"  {path}: {message}" for path, message in problems]
        super().__init__("\n".join(lines))


def field_path(loc: tuple[str | int, ...]) -> str:
    """('spec', 'datasets', 0, 'name') → spec.datasets[0].name"""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(manifest: dict[str, Any]) -> Resource:
    """Validate a kubefactory.io manifest of any of the three kinds; ManifestError lists every problem."""
    kind = BY_NAME.get(str(manifest.get("kind")))
    name = (manifest.get("metadata") or {}).get("name", "<unnamed>")
    if manifest.get("apiVersion") != GROUP_VERSION or kind is None:
        raise ManifestError(
            f"{manifest.get('kind')}/{name}",
            [
                (
                    "apiVersion/kind",
                    f"expected apiVersion {GROUP_VERSION} and kind one of {', '.join(BY_NAME)}",
                )
            ],
        )
    try:
        return kind.model.model_validate(manifest)
    except ValidationError as err:
        problems = [(field_path(tuple(e["loc"])), e["msg"]) for e in err.errors()]
        raise ManifestError(f"{kind.name}/{name}", problems) from None
