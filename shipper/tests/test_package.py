"""The package stands alone: standard library plus requests, public API only, no Django."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import shipper

PACKAGE = Path(shipper.__file__).resolve().parent
ROOT = PACKAGE.parent


def test_the_public_api_is_exactly_the_documented_names() -> None:
    assert sorted(shipper.__all__) == [
        "__version__",
        "build_workflow_log",
        "configure",
        "flush",
        "hash_pii",
        "sanitize",
        "ship_log_async",
        "shutdown",
        "stats",
    ]


def test_the_package_imports_only_the_standard_library_and_requests() -> None:
    allowed = set(sys.stdlib_module_names) | {"requests"}
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_importing_and_using_shipper_loads_no_django() -> None:
    code = (
        "import sys, shipper;"
        "shipper.build_workflow_log({}, 0, 1); shipper.ship_log_async({});"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework',"
        " 'collector', 'flusso_site')];"
        "assert not bad, bad"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
