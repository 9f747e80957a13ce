"""The collector calls what other apps keep about logs through one registry, never by
importing them: the dashboard builds on the collector, not the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

from collector.log_dependents import log_dependents

COLLECTOR = Path(__file__).resolve().parents[1]


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_collector_module_outside_its_tests_imports_the_dashboard():
    offenders = {
        str(path.relative_to(COLLECTOR)): sorted(
            name for name in _imported_modules(path) if name.split(".")[0] == "dashboard"
        )
        for path in COLLECTOR.rglob("*.py")
        if "tests" not in path.relative_to(COLLECTOR).parts
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_verdicts_are_registered_as_data_that_goes_with_its_logs():
    (verdicts,) = [dependent for dependent in log_dependents() if dependent.noun == "verdict(s)"]
    assert verdicts.delete_for_logs.__module__ == "dashboard.reviews.services"
    assert verdicts.delete_for_span.__module__ == "dashboard.reviews.services"
    assert verdicts.rebuild.__module__ == "dashboard.reviews.readmodel"
