"""The operator's settings: a YAML file and ``KUBEFACTORY_OPERATOR_*`` variables, validated at start-up.

Precedence: defaults < the config file (``--config`` or ``$KUBEFACTORY_OPERATOR_CONFIG``) < one
variable per field (``KUBEFACTORY_OPERATOR_RESYNC_SECONDS=10``; values are YAML, and list fields
also take ``a,b``). Every problem is reported at once, with the key and where it came from.
A settings object is passed to the builders; nothing reads the environment later.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .api.common import Quantity, Toleration
from .naming import MANAGER
from .profiles import ENGINE_IMAGES, PROFILES, profile_for

ENV_PREFIX = "KUBEFACTORY_OPERATOR_"
CONFIG_ENV = f"{ENV_PREFIX}CONFIG"
AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
RWX: tuple[AccessMode, ...] = ("ReadWriteMany",)  # many nodes read and write one claim


class SettingsError(ValueError):
    """Settings that cannot be used; the message lists every problem."""


class OperatorSettings(BaseModel):
    """What the operator needs to know that no custom resource says."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    namespaces: list[str] = Field(
        default_factory=list, description="Namespaces to watch; empty: every namespace."
    )
    images: dict[str, str] = Field(
        default_factory=dict,
        description="Trainer image per accelerator vendor (nvidia, amd, ascend, cpu); unset: the profile's.",
    )
    engine_images: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Server image per engine (vllm, sglang) and accelerator vendor; unset: the upstream image.",
    )
    runtime_image: str | None = Field(
        None, description="Image that prepares Datasets; default: the cpu trainer image."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_secrets: list[str] = Field(default_factory=list, description="Secrets for private registries.")
    default_tolerations: list[Toleration] = Field(
        default_factory=list, description="Tolerations every pod the operator creates gets."
    )
    node_selectors: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="Node labels per accelerator vendor, added to each pod's."
    )
    default_shared_memory: Quantity = Field(
        "8Gi", description="/dev/shm size when a FineTuneJob sets neither sharedMemory nor memory."
    )
    output_size: Quantity = Field("100Gi", description="Size of the output claims the operator creates.")
    output_access_modes: list[AccessMode] = Field(default_factory=lambda: list(RWX))
    dataset_size: Quantity = Field("10Gi", description="Size of the claim holding a prepared Dataset.")
    dataset_access_modes: list[AccessMode] = Field(default_factory=lambda: list(RWX))
    storage_class_name: str | None = Field(
        None, description="StorageClass of the claims the operator creates; unset: the cluster default."
    )
    run_as_user: Annotated[int, Field(ge=1)] = 1000
    run_as_group: Annotated[int, Field(ge=1)] = 1000
    fs_group: Annotated[int, Field(ge=1)] = 1000
    resync_seconds: Annotated[float, Field(ge=0.5)] = Field(
        30.0, description="Every object is reconciled at least this often, events or not."
    )
    field_manager: str = Field(MANAGER, min_length=1, description="Server-side apply field manager.")
    # running several replicas, probes and metrics (the Helm chart sets these; see docs/operations.md)
    leader_election: bool = Field(
        False,
        description="Act only while holding a coordination.k8s.io Lease, so replicas never act on one object together.",
    )
    lease_name: str = Field(MANAGER, min_length=1, max_length=253, description="Name of the Lease.")
    lease_namespace: str | None = Field(
        None, description="Namespace of the Lease; required with leaderElection (the chart: its namespace)."
    )
    lease_duration_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        15, description="How long a standby waits after the leader's last renewal before taking over."
    )
    renew_deadline_seconds: Annotated[float, Field(gt=0)] = Field(
        10.0, description="The leader stops when it could not renew the Lease for this long."
    )
    retry_period_seconds: Annotated[float, Field(gt=0)] = Field(
        2.0, description="How often the leader renews and a standby tries to take over."
    )
    health_port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        None, description="Serve /healthz and /readyz on this port; unset: no probe endpoint."
    )
    metrics_port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        None, description="Serve Prometheus metrics on /metrics at this port; unset: no metrics endpoint."
    )
    bind_address: str = Field("0.0.0.0", description="Address the probe and metrics endpoints listen on.")

    @field_validator("images", "node_selectors")
    @classmethod
    def _known_vendors(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(PROFILES))
        if unknown:
            raise ValueError(
                f"unknown accelerator vendor(s) {unknown}: expected keys among {', '.join(PROFILES)}"
            )
        return value

    @field_validator("engine_images")
    @classmethod
    def _known_engines(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = sorted(set(value) - set(ENGINE_IMAGES))
        if unknown:
            raise ValueError(f"unknown engine(s) {unknown}: expected keys among {', '.join(ENGINE_IMAGES)}")
        for images in value.values():
            cls._known_vendors(images)
        return value

    def engine_image(self, engine: str, vendor: str) -> str | None:
        """The server image of an engine on a vendor's nodes; the built-in engine runs in the runtime image."""
        if engine not in ENGINE_IMAGES:
            return self.image_for(vendor)
        return self.engine_images.get(engine, {}).get(vendor) or ENGINE_IMAGES[engine].get(vendor)

    def image_for(self, vendor: str) -> str:
        return self.images.get(vendor) or profile_for(vendor).default_image

    @property
    def prepare_image(self) -> str:
        return self.runtime_image or self.image_for("cpu")

    def tolerations(self) -> list[dict[str, Any]]:
        return [t.model_dump(by_alias=True, exclude_none=True) for t in self.default_tolerations]

    @model_validator(mode="after")
    def _leader_election_timing(self) -> OperatorSettings:
        if self.leader_election and not self.lease_namespace:
            raise ValueError("leaseNamespace is required when leaderElection is true")
        if not self.retry_period_seconds < self.renew_deadline_seconds < self.lease_duration_seconds:
            # the leader must give up before a standby may take over, and retry before giving up
            raise ValueError(
                "leader election needs retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds, got "
                f"{self.retry_period_seconds} < {self.renew_deadline_seconds} < {self.lease_duration_seconds}"
            )
        if self.health_port is not None and self.health_port == self.metrics_port:
            raise ValueError(f"healthPort and metricsPort are both {self.health_port}: use two ports")
        return self


# lists of plain strings, which a variable may also give as "a,b"
COMMA_LISTS = frozenset({"namespaces", "image_pull_secrets", "output_access_modes", "dataset_access_modes"})


def _env_values(environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Field values from ``KUBEFACTORY_OPERATOR_<FIELD>`` variables, and which variable set which."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name in OperatorSettings.model_fields:
        variable = ENV_PREFIX + name.upper()
        if variable not in environ:
            continue
        raw = environ[variable]
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if name in COMMA_LISTS and isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        values[name] = [] if value is None and name in COMMA_LISTS else value
        origin[name] = variable
    return values, origin


def _file_values(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"operator config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise SettingsError(f"operator config file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"operator config file {path} must be a mapping of setting names to values")
    aliases = {str(field.alias or name): name for name, field in OperatorSettings.model_fields.items()}
    return {aliases.get(str(key), str(key)): value for key, value in data.items()}


def load_settings(environ: Mapping[str, str], config_file: str | Path | None = None) -> OperatorSettings:
    """Defaults, then the file, then the variables; SettingsError names each bad key and its source."""
    file = config_file or environ.get(CONFIG_ENV)
    from_file = _file_values(Path(file)) if file else {}
    from_env, origin = _env_values(environ)
    try:
        return OperatorSettings.model_validate({**from_file, **from_env})
    except ValidationError as err:
        lines = []
        for error in err.errors():
            loc = [str(part) for part in error["loc"]]
            field = loc[0] if loc else ""
            alias = (
                OperatorSettings.model_fields[field].alias if field in OperatorSettings.model_fields else None
            )
            if not field:  # a rule across fields: its message names them
                lines.append(f"  {error['msg']}")
                continue
            where = origin.get(field) or (f"config file {file}" if file else "defaults")
            path = ".".join([alias or field, *loc[1:]])
            lines.append(f"  {path} (from {where}): {error['msg']}")
        raise SettingsError("invalid operator settings:\n" + "\n".join(lines)) from None
