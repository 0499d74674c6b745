"""``--database`` and ``--json`` are taken where users put them: before the sub-command, after a
group, after the command; the innermost one given wins. db, serve and prepare take ``--json``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from fusion_bridge.cli.main import main

ELSEWHERE = "sqlite:///elsewhere-that-does-not-exist.sqlite"


def invoke(*args, expect=0):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == expect, result.output
    return result


def test_json_and_database_at_the_root(database_url):
    assert json.loads(invoke("--json", "--database", database_url, "running").stdout) == []
    assert json.loads(invoke("--database", database_url, "--json", "task", "list").stdout) == []
    created = json.loads(invoke("--json", "--database", database_url, "task", "create", "--name", "t").stdout)
    assert created["name"] == "t"


def test_options_after_a_group(database_url):
    invoke("--database", database_url, "task", "create", "--name", "t0")
    assert json.loads(invoke("task", "--json", "--database", database_url, "list").stdout)[0]["name"] == "t0"
    assert json.loads(invoke("deploy", "--database", database_url, "package", "--json", "list").stdout) == []
    assert json.loads(invoke("--database", database_url, "deploy", "mirror", "list", "--json").stdout) == []


def test_the_innermost_database_wins(database_url):
    assert "no database at" in invoke("--database", database_url, "task", "list", "--database", ELSEWHERE,
                                      expect=1).output
    assert invoke("--database", ELSEWHERE, "task", "--database", database_url, "list").stdout.strip() == "(none)"
    assert invoke("--database", ELSEWHERE, "task", "list", "--database", database_url).stdout.strip() == "(none)"


def test_the_environment_is_below_every_option(database_url, monkeypatch):
    monkeypatch.setenv("FUSION_BRIDGE_DATABASE_URL", ELSEWHERE)
    assert invoke("--database", database_url, "running").stdout.strip() == "nothing running"
    assert "no database at" in invoke("running", expect=1).output
    monkeypatch.setenv("FUSION_BRIDGE_DATABASE_URL", database_url)
    assert invoke("running").stdout.strip() == "nothing running"


def test_db_and_prepare_print_json(database_url):
    checked = json.loads(invoke("--json", "db", "check", "--database", database_url).stdout)
    assert checked["ok"] is True and checked["problems"] == []
    assert {"name", "status", "missing_columns", "type_notes"} <= set(checked["tables"][0])
    initialised = json.loads(invoke("db", "--json", "init", "--database", database_url).stdout)
    assert initialised["tables_created"] == [] and initialised["database"].split(":")[0] in ("sqlite", "mysql+pymysql")
    passed = json.loads(invoke("--json", "prepare", "--once", "--database", database_url).stdout)
    assert passed["ok"] is True and passed["preparation"]["tasks"] == {}
    assert passed["lines"][0].startswith("preparation: 0 run(s) prepared")
    assert "--json goes with --once" in invoke("--json", "prepare", "--database", database_url, expect=2).output


def test_serve_prints_its_banner_as_json(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, "-m", "fusion_bridge", "--json", "serve", "--no-scheduler", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--database", f"sqlite:///{tmp_path / 'bridge.sqlite'}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        banner = json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert banner["bind"] == f"127.0.0.1:{port}" and banner["database"].endswith("bridge.sqlite")
    assert banner["agent_url"].startswith(f"http://127.0.0.1:{port}/")
