"""The layer rules of ARCHITECTURE.md, checked on every import statement (nested ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"kubefactory.runtime": ROOT / "runtime", "kubefactory.operator": ROOT / "operator"}
HEAVY = ("torch", "transformers", "peft", "trl", "deepspeed", "datasets", "accelerate")

# (modules the rule applies to, forbidden import prefixes)
RULES = [
    ("kubefactory.runtime", ("kubefactory.operator", "kopf", "kubernetes", "kubernetes_asyncio")),
    ("kubefactory.operator", (*HEAVY, "kubefactory.runtime.train", "kubefactory.runtime.model",
                              "kubefactory.runtime.data", "kubefactory.runtime.serve")),
    ("kubefactory.runtime.config", (*HEAVY, "kubefactory.runtime.train", "kubefactory.runtime.model",
                                    "kubefactory.runtime.data")),
    # the pod contract: both sides import it, so it stays pydantic and the standard library
    ("kubefactory.runtime.contract", (*HEAVY, "kubefactory.runtime.train", "kubefactory.runtime.model",
                                      "kubefactory.runtime.data", "kubefactory.runtime.serve",
                                      "kubefactory.runtime.launch", "kubefactory.runtime.config")),
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


@pytest.mark.parametrize(("scope", "forbidden"), RULES, ids=[rule[0] for rule in RULES])
def test_layer_rule(scope: str, forbidden: tuple[str, ...]) -> None:
    violations = [
        f"{module} imports {target}"
        for module, targets in sorted(MODULES.items())
        if module == scope or module.startswith(scope + ".")
        for target in sorted(targets)
        if any(target == bad or target.startswith(bad + ".") for bad in forbidden)
    ]
    assert not violations, "\n".join(violations)


def test_rules_see_the_code() -> None:
    """A rule over an empty module set proves nothing: the scanner must find real imports."""
    assert "kubefactory.runtime.config.train_config" in MODULES
    assert "kubefactory.runtime.config.base" in MODULES["kubefactory.runtime.config.train_config"]
    assert any(t.startswith("torch") for t in MODULES["kubefactory.runtime.model.tiny"])
