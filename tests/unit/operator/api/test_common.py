"""The shared building blocks: CEL rules with Python twins, quantities, conditions."""

from __future__ import annotations

from typing import Any

import pytest
from kubefactory.operator.api.common import ApiModel, CelRule, Condition, Quantity, count_set
from pydantic import BaseModel, ValidationError


class Pair(ApiModel):
    first_value: int | None = None
    second_value: int | None = None

    cel_rules = (
        CelRule("has(self.firstValue) != has(self.secondValue)", "set one of firstValue and secondValue",
                check=lambda s: count_set(s.first_value, s.second_value) == 1),
        CelRule("!has(self.secondValue) || self.secondValue > 0", "secondValue must be positive",
                field_path=".secondValue", reason="FieldValueInvalid",
                check=lambda s: s.second_value is None or s.second_value > 0),
    )  # fmt: skip


def test_cel_rules_go_into_the_json_schema() -> None:
    rules = Pair.model_json_schema()["x-kubernetes-validations"]
    assert rules == [
        {
            "rule": "has(self.firstValue) != has(self.secondValue)",
            "message": "set one of firstValue and secondValue",
        },
        {
            "rule": "!has(self.secondValue) || self.secondValue > 0",
            "message": "secondValue must be positive",
            "fieldPath": ".secondValue",
            "reason": "FieldValueInvalid",
        },
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"firstValue": 1}, []),
        ({}, [((), "set one of firstValue and secondValue")]),
        ({"secondValue": -1}, [(("secondValue",), "secondValue must be positive")]),
        (
            {"firstValue": 1, "secondValue": -1},
            [
                ((), "set one of firstValue and secondValue"),
                (("secondValue",), "secondValue must be positive"),
            ],
        ),
    ],
)
def test_python_twins_report_every_failed_rule_at_its_path(
    values: dict[str, Any], expected: list[Any]
) -> None:
    try:
        Pair.model_validate(values)
        errors: list[Any] = []
    except ValidationError as err:
        errors = [(tuple(error["loc"]), error["msg"]) for error in err.errors()]
    assert errors == expected


class Sized(BaseModel):
    memory: Quantity


@pytest.mark.parametrize("value", [8, "8", "500m", "64Gi", "1.5", "1e3", "+2Ki"])
def test_quantities_are_kept_as_written(value: int | str) -> None:
    assert Sized(memory=value).memory == value


@pytest.mark.parametrize("value", ["8 GB", "64gb", "", True, 1.5, "Gi"])
def test_bad_quantities_name_the_expected_form(value: Any) -> None:
    with pytest.raises(ValidationError, match=f"expected a quantity such as 8, 500m or 64Gi, got {value!r}"):
        Sized(memory=value)


def test_condition_is_metav1_condition_on_the_wire() -> None:
    wire = {
        "type": "Ready",
        "status": "True",
        "reason": "Prepared",
        "message": "91 examples",
        "lastTransitionTime": "2025-01-01T00:00:00Z",
        "observedGeneration": 2,
    }
    assert Condition.model_validate(wire).model_dump(by_alias=True, mode="json") == wire
    with pytest.raises(ValidationError, match="reason"):
        Condition.model_validate({**wire, "reason": "not camel case"})
