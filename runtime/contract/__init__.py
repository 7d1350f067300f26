"""What crosses the operator ↔ pod boundary, defined once.

Both sides import these names: the operator (which builds the pods and reads what they report)
and the runtime (which runs in the pods and writes the reports). Pydantic and the standard
library only, so the operator can import it without torch, like :mod:`kubefactory.runtime.config`.
"""

from .accelerators import ACCELERATORS, Accelerator, HostMount, visibility_variables, visible_count
from .names import (
    DATASET_INFO_FILE,
    DISTRIBUTED_BACKEND_ENV,
    PREPARED_FILE,
    PROGRESS_CONFIGMAP_ENV,
    PROGRESS_FILE,
    PROGRESS_KEY,
    REPORT_FILE,
    TERMINATION_LIMIT,
)
from .prepare import PrepareReport, SkipReason
from .progress import ProgressRecord

__all__ = [
    "ACCELERATORS",
    "DATASET_INFO_FILE",
    "DISTRIBUTED_BACKEND_ENV",
    "PREPARED_FILE",
    "PROGRESS_CONFIGMAP_ENV",
    "PROGRESS_FILE",
    "PROGRESS_KEY",
    "REPORT_FILE",
    "TERMINATION_LIMIT",
    "Accelerator",
    "HostMount",
    "PrepareReport",
    "ProgressRecord",
    "SkipReason",
    "visibility_variables",
    "visible_count",
]
