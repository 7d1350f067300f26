"""The layer rules of ARCHITECTURE.md, checked on every import statement (nested ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"kubefactory.runtime": ROOT / "runtime", "kubefactory.operator": ROOT / "operator"}
HEAVY = ("torch", "transformers", "peft", "trl", "deepspeed", "datasets", "accelerate")

# the operator's layers, lowest first, and its I/O layer
OPERATOR_LAYERS = ("api", "builders", "status", "policies", "reconcile", "registry")
OPERATOR_IO = (
    "kopf", "kubernetes", "kubernetes_asyncio",
    *(f"kubefactory.operator.{name}"
      for name in ("kube", "controller", "handlers", "leader", "run", "probes", "metrics", "coalesce", "__main__")),
)  # fmt: skip


def layers_above(layer: str) -> tuple[str, ...]:
    higher = OPERATOR_LAYERS[OPERATOR_LAYERS.index(layer) + 1 :]
    return tuple(f"kubefactory.operator.{name}" for name in higher)


# (modules the rule applies to, forbidden import prefixes)
RULES = [
    ("kubefactory.runtime", ("kubefactory.operator", "kopf", "kubernetes", "kubernetes_asyncio")),
    ("kubefactory.operator", (*HEAVY, "kubefactory.runtime.train", "kubefactory.runtime.model",
                              "kubefactory.runtime.data", "kubefactory.runtime.serve")),
    ("kubefactory.runtime.config", (*HEAVY, "kubefactory.runtime.train", "kubefactory.runtime.model",
                                    "kubefactory.runtime.data")),
    # `kubefactory run`: the operator's builders run without a cluster (no API client, no controller)
    ("kubefactory.operator.local", ("kopf", "kubernetes", "kubernetes_asyncio", "kubefactory.operator.kube",
                                    "kubefactory.operator.controller", "kubefactory.operator.handlers",
                                    "kubefactory.operator.run", "kubefactory.runtime.train",
                                    "kubefactory.runtime.model", "kubefactory.runtime.data",
                                    "kubefactory.runtime.serve")),
    # the pod contract: both sides import it, so it stays pydantic and the standard library
    ("kubefactory.runtime.contract", (*HEAVY, "kubefactory.runtime.train", "kubefactory.runtime.model",
                                      "kubefactory.runtime.data", "kubefactory.runtime.serve",
                                      "kubefactory.runtime.launch", "kubefactory.runtime.config")),
    # inside the operator: API models → builders → status → policies → reconcile → registry → I/O
    # (the API client, the controller, the kopf handlers, leader election, the process); a layer
    # never imports a higher one, and nothing below the I/O layer imports kopf or a Kubernetes client
    ("kubefactory.operator.api", (*OPERATOR_IO, *layers_above("api"), "kubefactory.operator.naming",
                                  "kubefactory.operator.settings", "kubefactory.operator.profiles")),
    ("kubefactory.operator.builders", (*OPERATOR_IO, *layers_above("builders"))),
    ("kubefactory.operator.status", (*OPERATOR_IO, *layers_above("status"))),
    ("kubefactory.operator.policies", (*OPERATOR_IO, *layers_above("policies"))),
    ("kubefactory.operator.reconcile", (*OPERATOR_IO, *layers_above("reconcile"))),
    ("kubefactory.operator.registry", OPERATOR_IO),
    ("kubefactory.operator.naming", (*OPERATOR_IO, *layers_above("api"))),
    ("kubefactory.operator.settings", (*OPERATOR_IO, *layers_above("api"))),
    ("kubefactory.operator.profiles", (*OPERATOR_IO, *layers_above("api"))),
    # the engine commands the operator renders into ModelServer Deployments
    ("kubefactory.runtime.launch.engines", (*HEAVY, "kubefactory.runtime.train", "kubefactory.runtime.model",
                                            "kubefactory.runtime.data", "kubefactory.runtime.serve")),
]  # fmt: skip


def _module_name(package: str, root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def _imports(module: str, file: Path) -> set[str]:
    tree = ast.parse(file.read_text(encoding="utf-8"))
    is_package = file.name == "__init__.py"
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def _all_modules() -> dict[str, set[str]]:
    modules = {}
    for package, root in PACKAGES.items():
        for file in root.rglob("*.py"):
            name = _module_name(package, root, file)
            modules[name] = _imports(name, file)
    return modules


MODULES = _all_modules()


def violations(scope: str, forbidden: tuple[str, ...], modules: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} imports {target}"
        for module, targets in sorted(modules.items())
        if module == scope or module.startswith(scope + ".")
        for target in sorted(targets)
        if any(target == bad or target.startswith(bad + ".") for bad in forbidden)
    ]


@pytest.mark.parametrize(("scope", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_layer_rule(scope: str, forbidden: tuple[str, ...]) -> None:
    found = violations(scope, forbidden, MODULES)
    assert not found, "\n".join(found)


def test_an_operator_layer_importing_the_client_or_a_higher_layer_is_caught() -> None:
    rules = dict(RULES)
    planted = {
        "kubefactory.operator.builders.x": {"kubefactory.operator.kube.Kube"},
        "kubefactory.operator.status.y": {"kubefactory.operator.reconcile.plan"},
        "kubefactory.operator.reconcile.z": {"kopf"},
        "kubefactory.operator.policies.w": {"kubefactory.operator.controller"},
    }
    assert violations("kubefactory.operator.builders", rules["kubefactory.operator.builders"], planted)
    assert violations("kubefactory.operator.status", rules["kubefactory.operator.status"], planted)
    assert violations("kubefactory.operator.reconcile", rules["kubefactory.operator.reconcile"], planted)
    assert violations("kubefactory.operator.policies", rules["kubefactory.operator.policies"], planted)


def test_rules_see_the_code() -> None:
    """A rule over an empty module set proves nothing: the scanner must find real imports."""
    for scope, _ in RULES:
        assert any(module == scope or module.startswith(scope + ".") for module in MODULES), scope
    assert "kubefactory.operator.builders.layout" in MODULES["kubefactory.operator.status.attempt"]
    assert "kopf" in MODULES["kubefactory.operator.handlers"]
    assert "kubefactory.runtime.config.train_config" in MODULES
    assert "kubefactory.runtime.config.base" in MODULES["kubefactory.runtime.config.train_config"]
    assert (
        "kubefactory.operator.builders.trainer_job.trainer_job" in MODULES["kubefactory.operator.local.plan"]
    )
    assert any(t.startswith("torch") for t in MODULES["kubefactory.runtime.model.tiny"])
