"""The prepare report: what `kubefactory dataset prepare` prints and the operator turns into status."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .names import PREPARED_FILE


class SkipReason(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str
    count: int
    example: str | None = None


class PrepareReport(BaseModel):
    """Rows read, kept and skipped (with the most common reasons), and what was written.

    It reaches the operator as the prepare pod's termination message, so ``to_json`` keeps it
    within a byte limit by dropping the rarest reasons first.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    rows: int = 0
    kept: int = 0
    skipped: int = 0
    skip_reasons: list[SkipReason] = Field(default_factory=list)
    size_bytes: int = 0
    fingerprint: str = ""
    file: str = PREPARED_FILE
    error: str | None = None

    def to_json(self, limit: int) -> str:
        """Compact JSON of at most ``limit`` bytes (fewer reasons until it fits, or none are left)."""
        report = self
        while True:
            text = report.model_dump_json(by_alias=True, exclude_none=True)
            if len(text.encode()) <= limit or not report.skip_reasons:
                return text
            report = report.model_copy(update={"skip_reasons": report.skip_reasons[:-1]})
