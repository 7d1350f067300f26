"""What the FineTuneJob builders need, gathered once: the spec, the attempt, the prepared Datasets."""

from __future__ import annotations

from dataclasses import dataclass

from ..api.finetunejob import FineTuneJobSpec
from ..naming import Owner, TrainingNames, training_names
from ..profiles import AcceleratorProfile, profile_for
from .rendered_config import PreparedDataset


@dataclass(frozen=True)
class TrainingInputs:
    owner: Owner
    spec: FineTuneJobSpec
    attempt: int  # 1 for the first attempt
    datasets: tuple[PreparedDataset, ...]
    eval_datasets: tuple[PreparedDataset, ...] = ()
    resume_from: str | None = None  # a checkpoint path inside the pods

    @property
    def names(self) -> TrainingNames:
        return training_names(self.owner.name)

    @property
    def job_name(self) -> str:
        return self.names.attempt_job(self.attempt)

    @property
    def profile(self) -> AcceleratorProfile:
        return profile_for(self.spec.resources.accelerator)

    @property
    def output_claim(self) -> str:
        pvc = self.spec.output.pvc
        return pvc.claim_name if pvc is not None and pvc.claim_name else self.names.output

    @property
    def output_sub_path(self) -> str:
        pvc = self.spec.output.pvc
        return pvc.sub_path if pvc is not None and pvc.sub_path else self.owner.name

    @property
    def output_location(self) -> str:
        return f"pvc://{self.output_claim}/{self.output_sub_path}"

    @property
    def master_addr(self) -> str:
        """DNS name of node rank 0: "<job>-0" is its hostname, the headless Service its subdomain."""
        return f"{self.job_name}-0.{self.names.service}.{self.owner.namespace}.svc"

    @property
    def processes(self) -> int:
        return self.spec.resources.nodes * self.spec.resources.accelerators_per_node
