"""The status vocabulary: phases, condition types and reasons are constants of the API modules.

The constants agree with the schema's enums, and the planners use them: no string literal is
passed as a condition's type or reason, a decision's phase, or an event's reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, get_args

import pytest
from kubefactory.operator.api import dataset, finetunejob, modelserver
from kubefactory.operator.api.common import CONDITION_REASON

OPERATOR = Path(finetunejob.__file__).resolve().parents[1]
VOCABULARY = [
    (finetunejob.TrainingPhase, finetunejob.FineTuneJobPhase, finetunejob.TrainingCondition,
     finetunejob.TrainingReason, finetunejob.FineTuneJobStatus),
    (dataset.PreparationPhase, dataset.DatasetPhase, dataset.DatasetCondition, dataset.DatasetReason,
     dataset.DatasetStatus),
    (modelserver.ServingPhase, modelserver.ModelServerPhase, modelserver.ServingCondition,
     modelserver.ServingReason, modelserver.ModelServerStatus),
]  # fmt: skip


def values(holder: type) -> list[str]:
    return [value for name, value in vars(holder).items() if name.isupper()]


@pytest.mark.parametrize(("phases", "literal", "conditions", "reasons", "status"), VOCABULARY)
def test_constants_agree_with_the_schema(
    phases: type, literal: Any, conditions: type, reasons: type, status: Any
) -> None:
    assert sorted(values(phases)) == sorted(get_args(literal))
    documented = status.model_fields["conditions"].description
    for type_ in values(conditions):
        assert type_ in documented  # kubectl explain lists every condition type
    for reason in values(reasons):
        assert re.fullmatch(CONDITION_REASON, reason), reason
    assert len(set(values(reasons))) == len(values(reasons))


# call → the positions (and keywords) that take vocabulary
VOCABULARY_ARGUMENTS = {
    "Want": (0, 2),
    "Event": (1,),
    "Decision": (0,),
    "Outcome": (0,),
    "Problem": (0,),
    "DatasetProblem": (0,),
    "Verdict": (1,),
    "_failed": (0,),
    "_invalid": (1,),
}


def literal_vocabulary(file: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(file.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        for position in VOCABULARY_ARGUMENTS.get(name, ()):
            if position < len(node.args):
                arg = node.args[position]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.append(f"{file.name}:{node.lineno} {name}(... {arg.value!r} ...)")
    return found


def test_planners_use_the_constants() -> None:
    files = [*(OPERATOR / "reconcile").glob("*.py"), *(OPERATOR / "policies").glob("*.py")]
    assert any(f.name == "training_plan.py" for f in files)
    problems = [problem for file in files for problem in literal_vocabulary(file)]
    assert not problems, "\n".join(problems)


def test_the_scan_finds_literals(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'Want("Ready", True, "Prepared")\nEvent("Normal", "Made", "")\nWant(C.READY, True, R.X)\n'
    )
    assert len(literal_vocabulary(sample)) == 3
