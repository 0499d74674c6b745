"""The CLI's modules form no import cycle: sub-command modules never import ``cli/main.py``,
which registers their commands explicitly; the entry point of pyproject.toml is that group."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "fusion_bridge" / "cli"


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_no_sub_command_module_imports_main():
    for path in CLI.glob("*.py"):
        if path.name != "main.py":
            assert "fusion_bridge.cli.main" not in _imported_modules(path), path.name


def test_sub_command_modules_load_without_main():
    modules = sorted(f"fusion_bridge.cli.{path.stem}" for path in CLI.glob("*.py")
                     if path.stem not in ("main", "__init__"))
    code = "import sys\n" + "".join(f"import {name}\n" for name in modules) + \
        "assert 'fusion_bridge.cli.main' not in sys.modules, sorted(sys.modules)\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_entry_point_is_the_root_group_with_every_command():
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["fusion-bridge"]
    module, _, name = target.partition(":")
    root = getattr(importlib.import_module(module), name)
    assert isinstance(root, click.Group)
    assert set(root.commands) == {"db", "serve", "prepare", "task", "action", "iprange", "credential", "timeslot",
                                  "running", "history", "wakeup", "deploy", "agent", "device", "collect", "esx"}
    assert {"settings", "executions", "wakeups", "update"} <= set(root.commands["task"].commands)
    assert {"settings", "update"} <= set(root.commands["action"].commands)
    assert {"update", "delete", "restore"} <= set(root.commands["credential"].commands)
    assert "group" in root.commands["deploy"].commands
