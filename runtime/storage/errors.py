"""Why a fetch failed, as a reason a condition can carry and a message that says what to do."""

from __future__ import annotations

from typing import Literal

from ..errors import UserError

Reason = Literal["InvalidURI", "NotFound", "Unauthorized", "Gated", "OutOfSpace", "Unreachable"]


class StorageError(UserError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason
