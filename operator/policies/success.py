"""Success policy: a FineTuneJob succeeds when its Job is Complete, i.e. every node's pod exited 0.

Node rank 0 finishing alone is not success: a rank that has not finished may still be writing
its shard of the checkpoint or of the result. The result's location is recorded on success.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..status.attempt import AttemptState


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    message: str = ""


def judge_success(state: AttemptState, attempt: int, output_location: str) -> Outcome:
    if state.phase != "Succeeded":
        return Outcome(False)
    return Outcome(True, f"attempt {attempt} completed on every node; the result is in {output_location}")
