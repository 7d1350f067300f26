"""The pods `kubefactory run` runs are the ones the operator's builders render, scaled to one node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubefactory.operator.api.dataset import Dataset
from kubefactory.operator.api.finetunejob import FineTuneJob
from kubefactory.operator.api.modelserver import ModelServer
from kubefactory.operator.builders.layout import CLAIMS_DIR, CONFIG_FILE
from kubefactory.operator.local.manifests import LocalRunError
from kubefactory.operator.local.plan import (
    LocalAccelerators,
    dataset_pod,
    fit_serving,
    fit_training,
    ready_dataset,
    serving_pods,
    succeeded_job,
    training_inputs,
    training_pod,
    upload_pod,
)
from kubefactory.operator.settings import OperatorSettings

QUICKSTART = Path(__file__).resolve().parents[4] / "examples" / "quickstart"
CPU = LocalAccelerators()
TWO_GPUS = LocalAccelerators("nvidia", 2)


def _load(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load((QUICKSTART / f"{name}.yaml").read_text())
    body["metadata"].update(namespace="default", uid=f"uid-{name}", generation=1)
    body["spec"].update(spec)
    return body


def _job(**resources: Any) -> FineTuneJob:
    body = _load("finetunejob")
    body["spec"]["resources"] = {**body["spec"]["resources"], **resources}
    return FineTuneJob.model_validate(body)


def test_the_dataset_pod_is_the_prepare_jobs_pod(settings: OperatorSettings) -> None:
    dataset = Dataset.model_validate(_load("dataset"))
    pod = dataset_pod(dataset, settings)
    command = pod.spec["containers"][0]["command"]
    assert command[:3] == ["kubefactory", "dataset", "prepare"]
    assert pod.owner == "Dataset/identity" and pod.name.startswith("identity-prepare-")
    location = ready_dataset(dataset)["status"]["location"]
    assert location.startswith("pvc://identity-data/") and command[command.index("--output") + 1].endswith(
        location.rsplit("/", 1)[1]
    )


def test_the_training_pod_reads_the_rendered_config_of_the_ready_dataset(settings: OperatorSettings) -> None:
    dataset = Dataset.model_validate(_load("dataset"))
    inputs, notes = training_inputs(_job(), {"identity": ready_dataset(dataset)}, CPU, scale_down=False)
    pod = training_pod(inputs, settings, notes)
    assert pod.name == "identity-lora-a1-0" and not notes
    assert pod.spec["containers"][0]["command"][-2:] == ["train", CONFIG_FILE]
    (files,) = pod.config_maps.values()
    config = yaml.safe_load(files["config.yaml"])
    assert config["model_name_or_path"] == "Qwen/Qwen2.5-0.5B-Instruct" and config["dataset"] == "identity"
    assert "identity" in files["dataset_info.json"]


def test_a_dataset_not_given_is_named() -> None:
    with pytest.raises(LocalRunError, match="Dataset identity not found"):
        training_inputs(_job(), {}, CPU, scale_down=False)


@pytest.mark.parametrize(
    ("resources", "here", "field"),
    [
        ({"nodes": 4}, CPU, "spec.resources.nodes: 4 nodes"),
        ({"accelerator": "nvidia", "acceleratorsPerNode": 8}, TWO_GPUS, "acceleratorsPerNode: 8 nvidia"),
        (
            {"accelerator": "amd"},
            TWO_GPUS,
            "acceleratorsPerNode: 1 amd accelerators asked, this machine has 0",
        ),
    ],
)
def test_what_only_a_cluster_can_run_names_the_field(
    resources: dict[str, Any], here: LocalAccelerators, field: str
) -> None:
    with pytest.raises(LocalRunError, match=field) as err:
        fit_training(_job(**resources).spec, here, scale_down=False)
    assert "--scale-down" in str(err.value)


def test_scale_down_runs_on_one_node_with_what_is_here() -> None:
    spec, notes = fit_training(
        _job(nodes=4, accelerator="nvidia", acceleratorsPerNode=8).spec, TWO_GPUS, True
    )
    assert (spec.resources.nodes, spec.resources.accelerator, spec.resources.accelerators_per_node) == (
        1,
        "nvidia",
        2,
    )
    assert len(notes) == 2
    spec, notes = fit_training(_job(accelerator="ascend").spec, TWO_GPUS, True)
    assert (spec.resources.accelerator, spec.resources.accelerators_per_node) == ("cpu", 1)
    assert notes == ["spec.resources.accelerator: no ascend device here; on the CPU"]


def test_a_bucket_output_is_uploaded_by_the_upload_jobs_pod(settings: OperatorSettings) -> None:
    output = {"bucket": {"uri": "s3://results/identity", "secretRef": {"name": "results-creds"}}}
    job = FineTuneJob.model_validate(_load("finetunejob", output=output))
    dataset = Dataset.model_validate(_load("dataset"))
    inputs, _ = training_inputs(job, {"identity": ready_dataset(dataset)}, CPU, scale_down=False)
    pod = upload_pod(inputs, settings)
    assert pod is not None and pod.owner == "FineTuneJob/identity-lora"
    container = pod.spec["containers"][0]
    assert container["command"][:4] == [
        "kubefactory",
        "upload",
        "/kubefactory/output",
        "s3://results/identity",
    ]
    assert container["envFrom"] == [{"secretRef": {"name": "results-creds"}}]
    plain, _ = training_inputs(_job(), {"identity": ready_dataset(dataset)}, CPU, scale_down=False)
    assert upload_pod(plain, settings) is None


def test_an_engine_from_another_image_is_refused() -> None:
    server = ModelServer.model_validate(_load("modelserver", engine="vllm"))
    with pytest.raises(LocalRunError, match="spec.engine: vllm"):
        fit_serving(server.spec, CPU, scale_down=True)


def test_the_server_serves_the_finetunejobs_adapter_from_its_claim(settings: OperatorSettings) -> None:
    dataset = Dataset.model_validate(_load("dataset"))
    job = _job()
    inputs, _ = training_inputs(job, {"identity": ready_dataset(dataset)}, CPU, scale_down=False)
    server = ModelServer.model_validate(_load("modelserver"))
    (pod,) = serving_pods(server, {"identity-lora": succeeded_job(job, inputs)}, settings, CPU, False)
    assert pod.serves and pod.spec["containers"][0]["command"][:2] == ["kubefactory", "api"]
    serve = yaml.safe_load(next(iter(pod.config_maps.values()))["serve.yaml"])
    assert serve["adapter_name_or_path"] == f"identity={CLAIMS_DIR}/identity-lora-output/identity-lora"
    assert serve["model_name_or_path"] == "Qwen/Qwen2.5-0.5B-Instruct" and serve["template"] == "qwen"


def test_a_merged_server_runs_the_merge_pod_first(settings: OperatorSettings) -> None:
    job = _job()
    inputs, _ = training_inputs(
        job, {"identity": ready_dataset(Dataset.model_validate(_load("dataset")))}, CPU, False
    )
    server = ModelServer.model_validate(_load("modelserver", merge=True))
    merge, serve = serving_pods(server, {"identity-lora": succeeded_job(job, inputs)}, settings, CPU, False)
    assert merge.spec["containers"][0]["command"][:2] == ["kubefactory", "export"] and not merge.serves
    assert serve.serves


def test_a_server_waiting_for_a_finetunejob_not_given_says_so(settings: OperatorSettings) -> None:
    server = ModelServer.model_validate(_load("modelserver"))
    with pytest.raises(LocalRunError, match="give that FineTuneJob to -f"):
        serving_pods(server, {}, settings, CPU, False)
