"""What a ModelServer serves, resolved from its spec and the FineTuneJobs it names: pure.

A FineTuneJob's result is usable once it Succeeded: its ``outputLocation`` (``pvc://claim/path``)
holds a LoRA adapter (served next to the FineTuneJob's base model, or merged into it) or, for full
and freeze fine-tuning, the whole model. Until then the ModelServer waits; a failed FineTuneJob
fails it. Names: the served model is ``servedModelName`` (default: the ModelServer's name); when
it is a FineTuneJob's adapter, the base alone answers to ``<name>-base``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..api.finetunejob import TrainingCondition, TrainingPhase
from ..api.modelserver import ModelServerSpec
from ..api.modelserver import ServingReason as Reason
from ..builders.serving_inputs import MergeInputs, ServingInputs, digest, pod_path
from ..naming import Owner, serving_names
from ..status.conditions import find


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str
    failed: bool  # True: nothing changes until the spec or the FineTuneJob does


@dataclass(frozen=True)
class Result:
    """A Succeeded FineTuneJob's result."""

    base_uri: str  # the model it trained on
    output_uri: str  # where the result is
    lora: bool  # the result is an adapter (else a whole model)
    template: str | None
    identity: str  # changes when the FineTuneJob is run anew


def finetunejob_result(name: str, body: dict[str, Any] | None, namespace: str) -> Result | Problem:
    if body is None:
        return Problem(
            Reason.FINETUNEJOB_NOT_FOUND,
            f"FineTuneJob {name} not found in namespace {namespace}",
            failed=False,
        )
    status = body.get("status") or {}
    phase = status.get("phase")
    if phase == TrainingPhase.FAILED:
        detail = (find(status.get("conditions"), TrainingCondition.FAILED) or {}).get(
            "message"
        ) or "see its status"
        return Problem(Reason.FINETUNEJOB_FAILED, f"FineTuneJob {name} failed: {detail}", failed=True)
    if phase != TrainingPhase.SUCCEEDED:
        return Problem(
            Reason.WAITING_FOR_FINETUNEJOB,
            f"FineTuneJob {name} is {phase or 'Pending'}; serving starts when it has Succeeded",
            failed=False,
        )
    location = str(status.get("outputLocation") or "")
    if not location.startswith("pvc://"):
        return Problem(
            Reason.FINETUNEJOB_RESULT_UNSUPPORTED,
            f"FineTuneJob {name} left its result at {location or 'no recorded location'}; "
            "a server reads results on a claim (pvc://)",
            failed=True,
        )
    spec = body.get("spec") or {}
    training = spec.get("training") or {}
    template = training.get("template")
    return Result(
        base_uri=str(spec.get("model") or ""),
        output_uri=location,
        lora=training.get("finetuning_type", "lora") == "lora",
        template=template if isinstance(template, str) else None,
        identity=f"{body['metadata'].get('uid', '')}/{status.get('completionTime', '')}",
    )


def resolve(
    owner: Owner, spec: ModelServerSpec, finetunejobs: dict[str, dict[str, Any] | None]
) -> ServingInputs | list[Problem]:
    """The ServingInputs, or every reason they cannot be built yet (or at all)."""
    served = spec.served_model_name or owner.name
    problems: list[Problem] = []
    identities: list[str] = []
    template: str | None = None
    merge: MergeInputs | None = None
    adapters: list[tuple[str, str]] = []
    model_uri, base_name = spec.model or "", served
    if spec.fine_tune_job is not None:
        name = spec.fine_tune_job.name
        found = finetunejob_result(name, finetunejobs.get(name), owner.namespace)
        if isinstance(found, Problem):
            problems.append(found)
        else:
            identities.append(found.identity)
            template = found.template
            if not found.lora:
                model_uri = found.output_uri
            elif spec.merge:
                key = digest(found.base_uri, found.output_uri, found.identity, template)
                merge = MergeInputs(found.base_uri, found.output_uri, key)
                model_uri = f"pvc://{serving_names(owner.name).merged}/{key}"
            else:
                model_uri, base_name = found.base_uri, f"{served}-base"
                adapters.append((served, found.output_uri))
    for index, adapter in enumerate(spec.adapters or []):
        if adapter.uri is not None:
            adapters.append((adapter.name, adapter.uri))
            continue
        name = adapter.fine_tune_job.name if adapter.fine_tune_job else ""
        found = finetunejob_result(name, finetunejobs.get(name), owner.namespace)
        if isinstance(found, Problem):
            problems.append(found)
        elif not found.lora:
            message = f"spec.adapters[{index}]: FineTuneJob {name} trained whole weights, not a LoRA adapter"
            problems.append(Problem(Reason.ADAPTER_NOT_LORA, message, failed=True))
        else:
            identities.append(found.identity)
            adapters.append((adapter.name, found.output_uri))
    if problems:
        return problems
    names = [base_name, *(name for name, _ in adapters)]
    if len(set(names)) != len(names):
        message = (
            f"served model names must differ; got {', '.join(names)} (set servedModelName or rename adapters)"
        )
        return [Problem(Reason.DUPLICATE_MODEL_NAME, message, failed=True)]
    for uri in [model_uri, *(uri for _, uri in adapters)]:
        try:
            pod_path(uri)
        except ValueError as err:
            return [Problem(Reason.UNSUPPORTED_MODEL_LOCATION, str(err), failed=True)]
    return ServingInputs(
        owner,
        spec,
        model_uri=model_uri,
        base_name=base_name,
        adapters=tuple(adapters),
        template=template,
        revision=digest(model_uri, adapters, identities),
        merge=merge,
    )
