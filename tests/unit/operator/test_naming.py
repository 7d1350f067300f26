"""Children's names are deterministic DNS labels; labels and owner references lead back to the parent."""

from __future__ import annotations

import re

import pytest
from kubefactory.operator.naming import (
    JOB_NAME_MAX,
    PARENT_ANNOTATION,
    Owner,
    dns_label,
    label_value,
    parent_of,
    prepare_job,
    training_names,
)

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@pytest.mark.parametrize(
    ("base", "suffix", "expected"),
    [
        ("sft", "-config", "sft-config"),
        ("qwen-7b", "-a1", "qwen-7b-a1"),
    ],
)
def test_short_names_are_kept(base: str, suffix: str, expected: str) -> None:
    assert dns_label(base, suffix) == expected


@pytest.mark.parametrize("base", ["qwen2.5-7b", "7b-model", "x" * 80, "a" * 60 + ".b", "team.a." + "y" * 240])
def test_other_names_become_unique_dns_labels(base: str) -> None:
    name = dns_label(base, "-workers")
    assert len(name) <= 63 and DNS_LABEL.match(name), name
    assert name.endswith("-workers")
    assert dns_label(base, "-workers") == name  # deterministic


def test_names_that_clean_up_alike_stay_apart() -> None:
    assert dns_label("qwen2.5", "-config") != dns_label("qwen2-5", "-config")


def test_job_names_leave_room_for_the_pod_index() -> None:
    job = training_names("m" * 120).attempt_job(12)
    assert len(job) <= JOB_NAME_MAX and job.endswith("-a12")
    assert len(f"{job}-4095") <= 63


def test_prepare_job_name_carries_the_spec_hash() -> None:
    assert prepare_job("identity", "0123456789abcdef") == "identity-prepare-01234567"


@pytest.mark.parametrize(("name", "short"), [("sft", True), ("s" * 63, True), ("s" * 64, False)])
def test_label_values_fit(name: str, short: bool) -> None:
    value = label_value(name)
    assert len(value) <= 63
    assert (value == name) is short


def test_children_carry_labels_owner_reference_and_parent(owner: Owner) -> None:
    meta = owner.metadata("sft-config", "config")
    assert meta["labels"] == {
        "app.kubernetes.io/name": "kubefactory",
        "app.kubernetes.io/instance": "sft",
        "app.kubernetes.io/component": "config",
        "app.kubernetes.io/managed-by": "kubefactory-operator",
        "app.kubernetes.io/part-of": "kubefactory",
        "kubefactory.io/finetunejob": "sft",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "kubefactory.io/v1alpha1",
            "kind": "FineTuneJob",
            "name": "sft",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert parent_of({"metadata": meta}) == ("FineTuneJob", "team-a", "sft")
    assert "ownerReferences" not in owner.metadata("sft-output", "output", owned=False)


@pytest.mark.parametrize(
    "annotations",
    [{}, {PARENT_ANNOTATION: "Pod/x"}, {PARENT_ANNOTATION: "FineTuneJob/"}, {PARENT_ANNOTATION: "nonsense"}],
)
def test_objects_without_a_kubefactory_parent_have_none(annotations: dict[str, str]) -> None:
    assert parent_of({"metadata": {"namespace": "team-a", "annotations": annotations}}) is None
