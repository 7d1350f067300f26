"""The progress record: what the trainer writes and the operator mirrors into ``status.progress``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ProgressRecord(BaseModel):
    """One snapshot of a training run, written as JSON with these (camelCase) keys.

    The operator reads it leniently (a bad value drops that value only), so every field is
    optional on the reading side; the trainer fills them all, with null where a value is unknown.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    step: int | None = None
    total_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    eta_seconds: int | None = None
    latest_checkpoint: str | None = Field(
        default=None, description="folder name of the newest complete checkpoint"
    )
    updated_at: str | None = Field(default=None, description="RFC 3339, UTC")

    def record(self) -> dict[str, object]:
        """The JSON object as written (every key, null for unknown values)."""
        return self.model_dump(by_alias=True)

    @classmethod
    def record_keys(cls) -> list[str]:
        """The record's keys, as written."""
        return [field.alias or name for name, field in cls.model_fields.items()]
