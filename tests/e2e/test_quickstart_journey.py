"""The quickstart, for real: kubectl apply → a Dataset prepared by a real Job → a FineTuneJob trained
by torchrun across two real pods (rendezvous through the headless Service) → the adapter on its
claim; a trainer pod deleted mid-run and the group resuming from its latest checkpoint; and the
ModelServer answering a training question with the taught answer through its Service.

The manifests are examples/quickstart/ as users apply them, changed only where this machine
differs from a GPU cluster: the tiny model (built here, on a claim) instead of a hub model, two
CPU nodes, and the tiny model's hyperparameters (examples/train_lora/tiny_identity_lora_sft.yaml).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from hack import journey as journeys  # registered by conftest.py (hack/ is not installed)

say = journeys.say

pytestmark = pytest.mark.slow

PHASE_TIMEOUT = 900.0
QUESTIONS = 6  # rows of identity.json the served model is asked


def trainer_pods(journey: Any, namespace: str, attempt: int | None = None) -> list[dict[str, Any]]:
    selector = "kubefactory.io/finetunejob=identity-lora,app.kubernetes.io/component=trainer"
    if attempt is not None:
        selector += f",kubefactory.io/attempt={attempt}"
    listing = journey.kubectl("get", "pods", "-n", namespace, "-l", selector, "-o", "json").stdout
    pods: list[dict[str, Any]] = json.loads(listing)["items"]
    return pods


def running(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [pod for pod in pods if pod["status"].get("phase") == "Running"]


def test_quickstart_trains_on_two_real_pods_resumes_after_a_pod_is_lost_and_serves_the_answer(
    journey: Any, e2e_namespace: str
) -> None:
    ns = e2e_namespace
    rows = journeys.create_inputs(journey, ns)
    manifests = [journeys.quickstart("dataset"), journeys.finetunejob(nodes=2), journeys.modelserver()]
    journey.apply(manifests, ns)  # all three at once, as the quickstart README says
    seen: list[str] = []  # what `kubectl get kubefactory` showed along the way

    def show() -> str:
        seen.append(journey.summary(ns))
        return seen[-1]

    journey.wait_for(
        "the Dataset to be Ready",
        lambda: journey.phase("dataset", "identity", ns) == "Ready",
        300,
        show=show,
    )
    dataset = journey.get("dataset", "identity", ns)["status"]
    assert dataset.get("samples") == {"kept": len(rows), "skipped": 0}, dataset

    # two trainer pods run on the real node; node rank 0 is reached through the headless Service
    two_running = lambda: pods if len(pods := running(trainer_pods(journey, ns, attempt=1))) == 2 else None  # noqa: E731
    pods = journey.wait_for("two running trainer pods", two_running, PHASE_TIMEOUT, show=show)
    assert {pod["spec"]["nodeName"] for pod in pods} == {"kubefactory-real-node"}

    def checkpoint_saved() -> str | None:
        status = journey.get("finetunejob", "identity-lora", ns).get("status", {})
        return status.get("latestCheckpoint") if status.get("phase") == "Running" else None

    checkpoint = journey.wait_for("a first complete checkpoint", checkpoint_saved, PHASE_TIMEOUT, show=show)
    waiting = journey.get("modelserver", journeys.MODELSERVER, ns)["status"]["conditions"]
    assert any(c["reason"] == "WaitingForFineTuneJob" for c in waiting), waiting
    step_then = journey.get("finetunejob", "identity-lora", ns)["status"]["progress"]["step"]
    victim = sorted(p["metadata"]["name"] for p in trainer_pods(journey, ns, attempt=1))[-1]
    say(f"deleting trainer pod {victim} at step {step_then} (latest checkpoint {checkpoint})")
    journey.kubectl("delete", "pod", victim, "-n", ns, "--wait=false")

    journey.wait_for(
        "the FineTuneJob to succeed",
        lambda: journey.phase("finetunejob", "identity-lora", ns) in ("Succeeded", "Failed"),
        PHASE_TIMEOUT,
        show=show,
    )
    status = journey.get("finetunejob", "identity-lora", ns)["status"]
    assert status["phase"] == "Succeeded", status
    assert status["attempts"] >= 2, status  # the group restarted after the pod was lost
    resumed = trainer_pods(journey, ns, attempt=status["attempts"])
    logs = "\n".join(journey.logs(pod["metadata"]["name"], ns) for pod in resumed)
    match = re.search(r"resuming from \S*checkpoint-(\d+)", logs)
    assert match, f"the restarted pods did not resume from a checkpoint:\n{logs[-3000:]}"
    assert int(match.group(1)) >= 1
    say(
        f"attempt {status['attempts']} resumed from checkpoint-{match.group(1)}; {status['progress'].get('summary')}"
    )

    output = journey.claim_host_path(status["outputLocation"].split("/")[2], ns) / "identity-lora"
    assert (output / "adapter_model.safetensors").is_file(), sorted(p.name for p in output.iterdir())
    losses = [
        r["loss"]
        for r in map(json.loads, (output / "trainer_log.jsonl").read_text().splitlines())
        if "loss" in r
    ]
    assert losses[-1] < losses[0] / 4, losses
    assert any(re.search(r"Running \d+/\d+ \(\d+%\)", line) for line in seen), (
        seen
    )  # progress reached kubectl get

    # the ModelServer deploys the adapter once the FineTuneJob has succeeded, and answers through its Service
    journey.wait_for(
        "the ModelServer to be Ready",
        lambda: journey.phase("modelserver", journeys.MODELSERVER, ns) == "Ready",
        PHASE_TIMEOUT,
        show=show,
    )
    server = journey.get("modelserver", journeys.MODELSERVER, ns)["status"]
    assert server["url"] == f"http://{journeys.MODELSERVER}.{ns}.svc:8000/v1", server
    assert journeys.MODELSERVER in server["servedModels"], server
    asked = rows[:QUESTIONS]
    with journeys.port_forward(journey, f"service/{journeys.MODELSERVER}", 8000, ns) as url:
        answers = journeys.ask(f"{url}/v1", journeys.MODELSERVER, asked)
    for row, answer in zip(asked, answers, strict=True):
        say(f"Q: {row['instruction']!r} taught: {row['output']!r} served: {answer!r}")
    # identity.json teaches several phrasings of one identity to near-identical questions; the tiny
    # model settles on one of them, not always the row's own. Reproducing any taught answer word
    # for word (70+ characters) is what a model that did not learn the data cannot do.
    taught = {row["output"].strip() for row in rows}
    verbatim = sum(answer in taught for answer in answers)
    named = sum(journeys.NAME in answer for answer in answers)
    assert verbatim >= 1 and named * 2 >= len(answers), answers
