"""The upload Job: the result folder on the output claim, read-only, to spec.output.bucket."""

from __future__ import annotations

from typing import Any

from kubefactory.operator.builders.result_upload import upload_job
from kubefactory.operator.settings import OperatorSettings


def test_no_bucket_no_upload(make_inputs: Any, settings: OperatorSettings) -> None:
    assert upload_job(make_inputs(), settings) is None


def test_the_upload_reads_the_jobs_folder_on_its_claim_with_the_buckets_secret(
    make_inputs: Any, settings: OperatorSettings
) -> None:
    output = {"bucket": {"uri": "s3://results/team-a/sft", "secretRef": {"name": "results-creds"}}}
    inputs = make_inputs({"output": output})
    job = upload_job(inputs, settings)
    assert job is not None and job["metadata"]["name"] == f"{inputs.job_name}-upload"
    assert job["metadata"]["ownerReferences"][0]["name"] == inputs.owner.name
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == [
        "kubefactory", "upload", "/kubefactory/output", "s3://results/team-a/sft",
        "--termination-log", "/dev/termination-log",
    ]  # fmt: skip
    assert container["envFrom"] == [{"secretRef": {"name": "results-creds"}}]
    (mount,) = container["volumeMounts"]
    assert (mount["subPath"], mount["readOnly"]) == (inputs.output_sub_path, True)
    assert pod["volumes"] == [
        {"name": "output", "persistentVolumeClaim": {"claimName": inputs.output_claim, "readOnly": True}}
    ]


def test_the_upload_pod_is_placed_like_the_other_cpu_pods(
    make_inputs: Any, settings: OperatorSettings
) -> None:
    job = upload_job(make_inputs({"output": {"bucket": {"uri": "s3://results/x"}}}), settings)
    assert job is not None
    pod = job["spec"]["template"]["spec"]
    assert pod["tolerations"] == settings.tolerations()
    assert "envFrom" not in pod["containers"][0]
