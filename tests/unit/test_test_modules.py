"""The test suite's own rule: test modules share code through tests/helpers and the conftest.py
files, never by importing one another (a test module imported elsewhere runs its tests twice
and hides what it depends on)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module ``path`` (under ``root``) imports, and every name it imports from a package
    (which may be a module: ``from tests.e2e import test_x``), relative imports resolved."""
    package = list(path.relative_to(root).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "tests" and (parts[-1].startswith("test_") or parts[-1] == "conftest")


def test_no_test_module_imports_another_test_module():
    offenders = sorted(f"{path.relative_to(ROOT)} imports {name}" for path in TESTS.rglob("*.py")
                       for name in imported_modules(path) if is_test_module(name))
    assert offenders == []


def test_the_rule_sees_every_form_of_import(tmp_path):
    sample = tmp_path / "tests" / "integration" / "test_sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text("import tests.integration.test_a\nfrom tests.e2e import test_b\n"
                      "from tests.unit.test_c import x\nfrom .test_d import y\nfrom . import conftest\n"
                      "from tests.helpers.db import row\nimport schema\n")
    flagged = sorted(name for name in imported_modules(sample, tmp_path) if is_test_module(name))
    assert flagged == ["tests.e2e.test_b", "tests.integration.conftest", "tests.integration.test_a",
                       "tests.integration.test_d", "tests.unit.test_c"]
