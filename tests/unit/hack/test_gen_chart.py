"""The chart's generated files and values agree with the operator's code (hack/gen_chart.py)."""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import yaml
from kubefactory.operator.rbac import leader_election_rules, rules
from kubefactory.operator.settings import OperatorSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART = REPO_ROOT / "charts" / "kubefactory"


def load(name: str) -> types.ModuleType:
    if "hack" not in sys.modules:  # hack/ is not installed; the repo root must not shadow `operator`
        hack = types.ModuleType("hack")
        hack.__path__ = [str(REPO_ROOT / "hack")]
        sys.modules["hack"] = hack
    return importlib.import_module(name)


gen_chart = load("hack.gen_chart")


def defined(template: str, name: str) -> Any:
    """The YAML body of ``{{- define "name" -}} ... {{- end }}`` in a template file."""
    match = re.search(r'\{\{- define "' + re.escape(name) + r'" -\}\}\n(.*?)\{\{- end \}\}', template, re.S)
    assert match, f"no define {name}"
    return yaml.safe_load(match.group(1))


def test_the_committed_generated_files_are_current() -> None:
    for path, text in gen_chart.expected_files().items():
        assert path.read_text() == text, f"{path} is stale: run `make chart`"


def test_the_chart_rules_are_the_operators_rules() -> None:
    template = (CHART / "templates" / "_rbac.tpl").read_text()
    assert defined(template, "kubefactory.operatorRules") == {"rules": rules()}
    lease = defined(
        template.replace('{{ include "kubefactory.leaseName" . }}', "LEASE"),
        "kubefactory.leaderElectionRules",
    )
    assert lease == {"rules": leader_election_rules("LEASE")}


def test_the_lease_rights_name_one_lease_and_cannot_create() -> None:
    (rule,) = leader_election_rules("kf")
    assert rule["resourceNames"] == ["kf"] and set(rule["verbs"]) == {"get", "patch", "update"}


def test_values_settings_are_the_operators_defaults() -> None:
    """values.yaml shows every setting the chart leaves to the user, with the operator's default."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    defaults = OperatorSettings().model_dump(by_alias=True, mode="json", exclude_none=True)
    for name in (*gen_chart.CHART_OWNED, "fieldManager", "bindAddress"):  # set by the chart, or expert-only
        defaults.pop(name, None)
    assert values["settings"] == defaults


def test_values_schema_settings_leave_the_chart_owned_ones_out() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    settings = schema["properties"]["settings"]
    assert settings["additionalProperties"] is False
    assert not set(gen_chart.CHART_OWNED) & set(settings["properties"])
    assert set(settings["properties"]) == {
        field.alias or name for name, field in OperatorSettings.model_fields.items()
    } - set(gen_chart.CHART_OWNED)
    assert settings["properties"]["images"]["propertyNames"] == {"enum": ["nvidia", "amd", "ascend", "cpu"]}
    assert "$ref" not in json.dumps(schema)  # Helm validates one document: every reference is inlined


def test_values_cover_the_schema_and_nothing_else() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert set(values) == set(schema["properties"])
