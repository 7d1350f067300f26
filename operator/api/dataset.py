"""Dataset: where training data lives and how to read it, in the vocabulary of dataset_info.json.

The fields mirror one ``dataset_info.json`` entry (formatting, ranking, columns, tags, subset,
split, num_samples), spelled in camelCase; the source is one of a URI, a PVC path or a ConfigMap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import Field

from .common import (
    ApiModel,
    CelRule,
    Condition,
    ObjectName,
    Resource,
    SecretReference,
    conditions_field,
    count_set,
    observed_generation_field,
)

DatasetPhase = Literal["Pending", "Preparing", "Ready", "Failed"]


class PreparationPhase:
    """The values of ``status.phase`` (``DatasetPhase``, the schema's enum)."""

    PENDING: Final = "Pending"
    PREPARING: Final = "Preparing"
    READY: Final = "Ready"
    FAILED: Final = "Failed"


class DatasetCondition:
    """The types of ``status.conditions``."""

    READY: Final = "Ready"


class DatasetReason:
    """The reasons of the conditions and events of a Dataset."""

    INVALID_SPEC: Final = "InvalidSpec"
    PENDING: Final = "Pending"
    PREPARING: Final = "Preparing"
    PREPARED: Final = "Prepared"
    PREPARATION_FAILED: Final = "PreparationFailed"
    PREPARE_JOB_CREATED: Final = "PrepareJobCreated"


DATA_URI = r"^(hf|s3|gs|https?)://\S+$"


class PvcSource(ApiModel):
    """Data on a PersistentVolumeClaim in the Dataset's namespace."""

    claim_name: ObjectName = Field(description="Name of the PersistentVolumeClaim.")
    path: str = Field(
        min_length=1,
        max_length=4096,
        pattern=r"^[^/]",
        description="A file, or a folder of files of one type, relative to the volume's root.",
    )


class ConfigMapSource(ApiModel):
    """Small data held in a ConfigMap (at most 1 MiB), handy for demos and tests."""

    name: ObjectName = Field(description="Name of the ConfigMap.")
    key: str | None = Field(
        None,
        max_length=253,
        description="The key holding the data, a file name such as identity.json; default: every key.",
    )


class DatasetSource(ApiModel):
    """Where the data is: exactly one of uri, pvc or configMap."""

    uri: str | None = Field(
        None,
        max_length=4096,
        pattern=DATA_URI,
        description="hf://owner/name (a hub dataset), s3://bucket/key or gs://bucket/key (a file or a "
        "folder of files), or an https:// URL of one file.",
    )
    secret_ref: SecretReference | None = Field(
        None, description="Credentials for uri (e.g. HF_TOKEN or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)."
    )
    pvc: PvcSource | None = Field(None, description="A file or folder on a PersistentVolumeClaim.")
    config_map: ConfigMapSource | None = Field(None, description="Data held in a ConfigMap.")

    cel_rules = (
        CelRule(
            "(has(self.uri) ? 1 : 0) + (has(self.pvc) ? 1 : 0) + (has(self.configMap) ? 1 : 0) == 1",
            "set exactly one of uri, pvc or configMap",
            check=lambda s: count_set(s.uri, s.pvc, s.config_map) == 1,
        ),
        CelRule(
            "!has(self.secretRef) || has(self.uri)",
            "secretRef holds credentials for uri; pvc and configMap need none",
            field_path=".secretRef",
            reason="FieldValueForbidden",
            check=lambda s: s.secret_ref is None or s.uri is not None,
        ),
    )


class Columns(ApiModel):
    """Which column of the data holds what (dataset_info.json ``columns``); unset keeps the default."""

    prompt: str | None = Field(None, description="alpaca: the instruction column. Default: instruction.")
    query: str | None = Field(None, description="alpaca: the input column. Default: input.")
    response: str | None = Field(None, description="alpaca: the output column. Default: output.")
    history: str | None = Field(
        None, description="alpaca: earlier turns, a list of [instruction, output] pairs."
    )
    messages: str | None = Field(
        None, description="sharegpt and openai: the conversation column. Default: conversations."
    )
    system: str | None = Field(None, description="The system prompt column.")
    tools: str | None = Field(None, description="The tool description column.")
    images: str | None = Field(None, description="The image column.")
    videos: str | None = Field(None, description="The video column.")
    audios: str | None = Field(None, description="The audio column.")
    chosen: str | None = Field(None, description="Ranking data: the preferred response column.")
    rejected: str | None = Field(None, description="Ranking data: the dispreferred response column.")
    kto_tag: str | None = Field(None, description="KTO: the column telling whether a response is desirable.")


class Tags(ApiModel):
    """How sharegpt messages name their roles (dataset_info.json ``tags``); unset keeps the default."""

    role_tag: str | None = Field(None, description="Key of a message's role. Default: from.")
    content_tag: str | None = Field(None, description="Key of a message's text. Default: value.")
    user_tag: str | None = Field(None, description="Role value of the user. Default: human.")
    assistant_tag: str | None = Field(None, description="Role value of the assistant. Default: gpt.")
    observation_tag: str | None = Field(None, description="Role value of tool results. Default: observation.")
    function_tag: str | None = Field(None, description="Role value of tool calls. Default: function_call.")
    system_tag: str | None = Field(None, description="Role value of the system prompt. Default: system.")


class DatasetSpec(ApiModel):
    """Where the data is and how to read it."""

    source: DatasetSource = Field(description="Where the data is: exactly one of uri, pvc or configMap.")
    formatting: Literal["alpaca", "sharegpt", "openai"] = Field(
        "alpaca", description="Layout of each example: alpaca (the default), sharegpt or openai."
    )
    ranking: bool = Field(
        False, description="Preference data (chosen and rejected responses) for rm and dpo."
    )
    file_type: Literal["json", "jsonl", "csv", "parquet", "arrow", "txt"] | None = Field(
        None, description="File type of the data; default: from the file extension."
    )
    subset: str | None = Field(
        None, max_length=253, description="hf:// only: the dataset's subset (configuration)."
    )
    split: str = Field("train", max_length=253, description="Split to read. Default: train.")
    num_samples: int | None = Field(
        None, ge=1, description="Sample this many examples (with replacement when there are fewer)."
    )
    columns: Columns | None = Field(
        None, description="Column names, when they differ from the defaults of the formatting."
    )
    tags: Tags | None = Field(None, description="sharegpt only: how messages name their roles.")


class SkipReason(ApiModel):
    """Why some examples were left out, and how many."""

    reason: str = Field(
        max_length=1024, description="What was wrong with the examples, e.g. an empty response."
    )
    count: int = Field(ge=0, description="How many examples were skipped for this reason.")
    example: str | None = Field(
        None, max_length=1024, description="Where the first such example is, e.g. row 17."
    )


class SampleCounts(ApiModel):
    """How many examples were kept and skipped."""

    kept: int = Field(ge=0, description="Examples that passed validation and are used for training.")
    skipped: int = Field(0, ge=0, description="Examples left out; skipReasons says why.")


class DatasetStatus(ApiModel):
    """What the operator found when it prepared the data."""

    phase: DatasetPhase | None = Field(None, description="Pending, Preparing, Ready or Failed.")
    observed_generation: int | None = observed_generation_field()
    conditions: list[Condition] | None = conditions_field(
        "Ready (the data is prepared and can be trained on)"
    )
    samples: SampleCounts | None = Field(None, description="How many examples were kept and skipped.")
    skip_reasons: list[SkipReason] | None = Field(
        None, max_length=10, description="The most common reasons examples were skipped, most common first."
    )
    size_bytes: int | None = Field(None, ge=0, description="Size of the prepared data, in bytes.")
    fingerprint: str | None = Field(
        None, max_length=256, description="Hash of the source data and spec; changes when either does."
    )
    location: str | None = Field(
        None, max_length=4096, description="Where the prepared data is, e.g. pvc://claim/path."
    )
    prepared_time: datetime | None = Field(None, description="When the data was last prepared.")


class Dataset(Resource):
    """Training data: where it lives and how to read it. The operator prepares it and reports what it found."""

    kind: Literal["Dataset"] = Field("Dataset", description="Dataset.")
    spec: DatasetSpec = Field(description="Where the data is and how to read it.")
    status: DatasetStatus | None = Field(
        None, description="What the operator found when it prepared the data."
    )


__all__ = ["Dataset", "DatasetPhase", "DatasetSpec", "DatasetStatus"]
