"""kubefactory.io/v1alpha1: Dataset, FineTuneJob and ModelServer, the single source of the CRD schemas.

``make crds`` writes ``crds/*.yaml`` from these models (see :mod:`.crd`); ``parse`` validates a
manifest of any of the three kinds with the same rules the API server applies.
"""

from .common import API_GROUP, API_VERSION, GROUP_VERSION, Condition
from .dataset import Dataset, DatasetSpec, DatasetStatus
from .finetunejob import FineTuneJob, FineTuneJobSpec, FineTuneJobStatus
from .kinds import KINDS, Kind, ManifestError, parse
from .modelserver import ModelServer, ModelServerSpec, ModelServerStatus

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "GROUP_VERSION",
    "KINDS",
    "Condition",
    "Dataset",
    "DatasetSpec",
    "DatasetStatus",
    "FineTuneJob",
    "FineTuneJobSpec",
    "FineTuneJobStatus",
    "Kind",
    "ManifestError",
    "ModelServer",
    "ModelServerSpec",
    "ModelServerStatus",
    "parse",
]
