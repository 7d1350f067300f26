"""Building blocks the three kinds share: the base model, CEL rules, conditions, references.

A cross-field rule is written once, as a :class:`CelRule`: its CEL expression goes into the CRD
(``x-kubernetes-validations``) and its Python twin runs when pydantic validates a model, so the API
server and ``kubefactory.operator.api`` reject the same objects with the same message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

API_GROUP = "kubefactory.io"
API_VERSION = "v1alpha1"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class CelRule:
    """One cross-field rule: CEL for the API server, ``check`` for Python, one message for both.

    ``field_path`` is where the server reports a failure, relative to the object the rule sits on
    (``.pvc``); ``check`` returns True when the object is valid. Transition rules (``oldSelf``)
    have no Python twin: only the server sees the old object.
    """

    rule: str
    message: str
    field_path: str | None = None
    reason: Literal["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired"] | None = None
    check: Callable[[Any], bool] | None = None

    def to_schema(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        if self.field_path:
            out["fieldPath"] = self.field_path
        if self.reason:
            out["reason"] = self.reason
        return out

    @property
    def loc(self) -> Loc:
        return tuple(part for part in (self.field_path or "").split(".") if part)


def field_errors(title: str, errors: Iterable[tuple[Loc, str, Any]]) -> ValidationError:
    """A ValidationError whose entries carry their own field paths (relative to where it is raised).

    Raised inside a validator, pydantic prefixes each path with the validator's position, so a
    user reads ``spec.training.lora_rank`` rather than ``spec.training``.
    """
    details = [
        InitErrorDetails(type=PydanticCustomError("kubefactory", message), loc=loc, input=value)
        for loc, message, value in errors
    ]
    return ValidationError.from_exception_data(title, details)


def _add_cel_rules(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    rules: Sequence[CelRule] = getattr(cls, "cel_rules", ())
    if rules:
        schema["x-kubernetes-validations"] = [rule.to_schema() for rule in rules]


class ApiModel(BaseModel):
    """Kubernetes style: camelCase on the wire, unknown fields are errors, CEL rules checked here too."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        json_schema_extra=_add_cel_rules,
    )
    cel_rules: ClassVar[tuple[CelRule, ...]] = ()

    @model_validator(mode="after")
    def _check_cel_rules(self) -> ApiModel:
        failed = [rule for rule in type(self).cel_rules if rule.check is not None and not rule.check(self)]
        if failed:
            raise field_errors(type(self).__name__, [(rule.loc, rule.message, None) for rule in failed])
        return self


def section(model: type[BaseModel], description: str) -> Any:
    """An optional sub-object that defaults to empty, so the API server fills in its own defaults."""
    return Field(default_factory=model, description=description, json_schema_extra={"default": {}})


def count_set(*values: object) -> int:
    return sum(value is not None for value in values)


# --- value types ------------------------------------------------------------------------------

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUANTITY = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
# a hub id or path (no scheme), or one of the schemes KubeFactory fetches from
MODEL_URI = r"^((hf|pvc|s3|gs)://)?[^\s:]+$"
BUCKET_URI = r"^(s3|gs)://[a-z0-9][-a-z0-9._]*[a-z0-9](/\S*)?$"

ObjectName = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]


def _quantity(value: object) -> int | str:
    """A Kubernetes quantity as written: an integer or a string like 500m or 64Gi, kept as given."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(QUANTITY, value):
        return value
    raise PydanticCustomError(
        "quantity", "expected a quantity such as 8, 500m or 64Gi, got {value}", {"value": repr(value)}
    )


Quantity = Annotated[
    int | str,
    PlainValidator(_quantity),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": QUANTITY}]}),
]
ModelUri = Annotated[str, Field(min_length=1, max_length=1024, pattern=MODEL_URI)]
Accelerator = Literal["nvidia", "amd", "ascend", "cpu"]


class LocalObjectReference(ApiModel):
    """A reference to an object of a known kind in the same namespace."""

    name: ObjectName = Field(description="Name of the object, in this object's namespace.")


class SecretReference(ApiModel):
    """A Secret in the same namespace, mounted as environment variables for credentials."""

    name: ObjectName = Field(
        description="Name of the Secret. Its keys become environment variables, e.g. HF_TOKEN, "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
    )


class SecretKeyReference(ApiModel):
    """One key of a Secret in the same namespace."""

    name: ObjectName = Field(description="Name of the Secret.")
    key: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key in the Secret whose value is used.",
    )


class Toleration(ApiModel):
    """A Kubernetes toleration (core/v1 Toleration)."""

    key: str | None = Field(None, description="Taint key the toleration applies to; empty matches every key.")
    operator: Literal["Exists", "Equal"] = Field("Equal", description="Exists or Equal (the default).")
    value: str | None = Field(None, description="Taint value to match when operator is Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect to match; empty matches every effect."
    )
    toleration_seconds: int | None = Field(
        None, description="For NoExecute: how long the pod stays bound after the taint appears."
    )


class Placement(ApiModel):
    """Where pods may run."""

    priority_class_name: str | None = Field(None, description="PriorityClass of the pods.")
    node_selector: dict[str, str] | None = Field(
        None, description="Labels a node must have; added to the accelerator profile's own selector."
    )
    tolerations: list[Toleration] | None = Field(
        None,
        max_length=32,
        description="Tolerations added to the accelerator profile's own.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )
    affinity: dict[str, Any] | None = Field(
        None,
        description="A Kubernetes affinity (core/v1 Affinity: nodeAffinity, podAffinity, podAntiAffinity), "
        "passed to the pods as written.",
    )


# --- status -----------------------------------------------------------------------------------

CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(ApiModel):
    """One aspect of the object's state (metav1.Condition)."""

    type: str = Field(
        max_length=316,
        pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
        description="Condition type, in CamelCase.",
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(
        min_length=1,
        max_length=1024,
        pattern=CONDITION_REASON,
        description="Why the condition last changed, in CamelCase.",
    )
    message: str = Field("", max_length=32768, description="What happened, for humans.")
    last_transition_time: datetime = Field(description="When the status last changed.")
    observed_generation: int | None = Field(
        None, ge=0, description="The metadata.generation this condition was computed from."
    )


def conditions_field(types: str) -> Any:
    return Field(
        None,
        max_length=32,
        description=f"Latest observations of the object's state. Types: {types}.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


def observed_generation_field() -> Any:
    return Field(None, ge=0, description="The metadata.generation the status was computed from.")


# --- the resource envelope --------------------------------------------------------------------


class Resource(ApiModel):
    """apiVersion, kind, metadata: what every kubefactory.io object carries around its spec."""

    api_version: Literal["kubefactory.io/v1alpha1"] = Field(
        "kubefactory.io/v1alpha1", description="Versioned schema of this representation of an object."
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Standard object metadata.")
