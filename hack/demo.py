"""`make demo`: the quickstart on a local cluster with a real node — kubectl apply → trained adapter →
served answer.

Steps: start the local control plane with a real node (containerd + kubelet on this host; the
images built from images/ are imported), install the operator with Helm, apply
examples/quickstart/ (the tiny model instead of a hub model, two CPU trainer pods), print
``kubectl get kubefactory`` whenever it changes, then ask the served model questions it was
trained on and print its answers next to the taught ones. The cluster keeps running afterwards
(`make cluster-down` removes it and undoes what it changed on this host).
"""

from __future__ import annotations

import sys
import time
import types
from pathlib import Path

if __package__ in (None, ""):
    # run as a script: register `hack` by hand (the repo root on sys.path would shadow `operator`)
    _hack = types.ModuleType("hack")
    _hack.__path__ = [str(Path(__file__).resolve().parent)]
    sys.modules.setdefault("hack", _hack)

from hack import journey as journeys
from hack.controlplane import cluster as controlplane

REPO = Path(__file__).resolve().parent.parent
STATE_DIR = REPO / ".cluster"
NAMESPACE = "demo"
QUESTIONS = 4  # rows of identity.json to ask
TIMEOUT = 1800.0  # a busy machine trains the 360 steps 2-3x slower than a quiet one


def step(number: int, text: str) -> None:
    print(f"\n{number}/6 {text}", flush=True)


def main() -> int:
    started = time.monotonic()
    step(1, "local cluster with a real node (first time: builds binaries and images, ~30 min)")
    cluster = controlplane.up(STATE_DIR, real_node=True, images=controlplane.NodeImages())
    controlplane.apply_crds(cluster)
    journey = journeys.Journey(cluster)

    step(
        2,
        f"operator from charts/kubefactory (helm upgrade --install, namespace {journeys.OPERATOR_NAMESPACE})",
    )
    journeys.install_operator(journey, STATE_DIR / "demo-values.json")

    step(3, f"namespace {NAMESPACE}: the identity data ConfigMap and the tiny model on a claim")
    journey.fresh_namespace(NAMESPACE)
    rows = journeys.create_inputs(journey, NAMESPACE)

    step(4, "kubectl apply -f examples/quickstart/ (Dataset, FineTuneJob on 2 CPU pods, ModelServer)")
    manifests = [journeys.quickstart("dataset"), journeys.finetunejob(nodes=2), journeys.modelserver()]
    journey.apply(manifests, NAMESPACE)

    step(5, "kubectl get kubefactory, printed as it changes")
    done = journey.wait_for(
        "the ModelServer to be Ready",
        lambda: ready_or_failed(journey),
        TIMEOUT,
        show=lambda: journey.summary(NAMESPACE),
    )
    if done != "Ready":
        print(f"\n{done}; see kubectl describe -n {NAMESPACE} ...", file=sys.stderr)
        return 1

    step(6, "the served model (openai client, through the ModelServer's Service) answers:")
    asked = rows[:QUESTIONS]
    server = journey.get("modelserver", journeys.MODELSERVER, NAMESPACE)["status"]
    model = server.get("servedModels", [journeys.MODELSERVER])[-1]
    port = int(server["url"].rsplit(":", 1)[1].split("/")[0])
    with journeys.port_forward(journey, f"service/{journeys.MODELSERVER}", port, NAMESPACE) as url:
        answers = journeys.ask(f"{url}/v1", model, asked)
    for row, answer in zip(asked, answers, strict=True):
        print(f"\n    Q: {row['instruction']}\n    taught:  {row['output']}\n    answers: {answer}")
    named = sum(journeys.NAME in answer or journeys.AUTHOR in answer for answer in answers)
    print(
        f"\n{named}/{len(answers)} answers give the identity it was taught; demo took "
        f"{time.monotonic() - started:.0f}s. The cluster keeps running: "
        f"KUBECONFIG={cluster.kubeconfig} kubectl get kubefactory -n {NAMESPACE}; `make cluster-down` removes it."
    )
    return 0 if named * 2 >= len(answers) else 1


def ready_or_failed(journey: journeys.Journey) -> str | None:
    """ "Ready" when the ModelServer is; a sentence when something failed; None while in progress."""
    for kind, name in (("finetunejob", journeys.FINETUNEJOB), ("dataset", journeys.DATASET)):
        if journey.phase(kind, name, NAMESPACE) == "Failed":
            return f"{kind} {name} failed"
    phase = journey.phase("modelserver", journeys.MODELSERVER, NAMESPACE)
    return phase if phase in ("Ready", "Failed") else None


if __name__ == "__main__":
    raise SystemExit(main())
