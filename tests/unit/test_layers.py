"""The core stays pure: it never imports an orchestrator, a tracker, a validator or DVC."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "src" / "previsecours" / "core"
FORBIDDEN = (
    "prefect",
    "mlflow",
    "great_expectations",
    "dvc",
    "previsecours.adapters",
    "previsecours.pipelines",
    "previsecours.cli",
    "previsecours.settings",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("module", sorted(CORE.rglob("*.py")), ids=lambda p: p.name)
def test_core_imports_nothing_from_the_edges(module: Path) -> None:
    bad = {n for n in _imports(module) for f in FORBIDDEN if n == f or n.startswith(f + ".")}
    assert not bad, f"{module.name} imports {sorted(bad)}"
