"""Suspend policy: what the operator wants the Job's ``spec.suspend`` to be.

- ``spec.suspend: true`` suspends the Job (the Job controller removes the pods; checkpoints stay).
- With a Kueue queue the Job is created suspended and Kueue admits it by un-suspending it: after
  creation the operator leaves the field to Kueue (``None``) unless the user suspends the job.
- Otherwise the Job runs.
"""

from __future__ import annotations

from ..api.finetunejob import FineTuneJobSpec


def desired_suspend(spec: FineTuneJobSpec, job_exists: bool) -> bool | None:
    """True or False to set the Job's spec.suspend, None to leave it as it is (Kueue decides)."""
    if spec.suspend:
        return True
    if spec.scheduling.queue_name:
        return None if job_exists else True
    return False


def suspended_by_queue(spec: FineTuneJobSpec, job_suspended: bool) -> bool:
    """A suspended Job that waits for Kueue rather than for the user."""
    return job_suspended and not spec.suspend and spec.scheduling.queue_name is not None
