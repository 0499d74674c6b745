"""Every command, on a database it cannot use, says so in one line and exits non-zero.

Unreachable server, unknown database, malformed URL, missing SQLite file: no traceback, no
password, and no SQLite file created by a command that only reads or changes definitions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from fusion_bridge.cli.main import main

PASSWORD = "s3cret-pw"
UNREACHABLE = f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:1/x"
MALFORMED = f"mysql+pymysql://root:{PASSWORD}@127.0.0.1:notaport/x"

# One invocation of every command, with the arguments it needs to reach the database.
COMMANDS = [
    ["action", "add", "--task", "1", "--name", "a", "--method", "wakeonlan", "--target", "computer:1",
     "--actor", "agent:1"],
    ["action", "list"],
    ["action", "remove", "1", "--yes"],
    ["action", "settings", "1"],
    ["action", "update", "1", "--name", "x"],
    ["agent", "delete", "1", "--yes"],
    ["agent", "list"],
    ["agent", "lock", "1"],
    ["agent", "show", "1"],
    ["agent", "unlock", "1"],
    ["collect", "add-file", "1", "--name", "f", "--dir", "/"],
    ["collect", "add-registry", "1", "--name", "r", "--path", "/SOFTWARE/", "--key", "k"],
    ["collect", "add-wmi", "1", "--name", "w", "--class", "C", "--properties", "P"],
    ["collect", "create", "--name", "c", "--type", "file"],
    ["collect", "delete", "1"],
    ["collect", "list"],
    ["collect", "remove-item", "1", "1"],
    ["collect", "show", "1"],
    ["collect", "update", "1", "--name", "x"],
    ["credential", "create", "--name", "c", "--version", "2c", "--community", "public"],
    ["credential", "delete", "1"],
    ["credential", "list"],
    ["credential", "restore", "1"],
    ["credential", "update", "1", "--name", "x"],
    ["db", "check"],
    ["db", "handback"],
    ["db", "init"],
    ["db", "takeover"],
    ["deploy", "file", "add", "payload.bin"],
    ["deploy", "file", "list"],
    ["deploy", "group", "add-computer", "1", "1"],
    ["deploy", "group", "create", "--name", "g", "--static"],
    ["deploy", "group", "delete", "1"],
    ["deploy", "group", "list"],
    ["deploy", "group", "remove-computer", "1", "1"],
    ["deploy", "group", "show", "1"],
    ["deploy", "group", "update", "1", "--name", "x"],
    ["deploy", "mirror", "add", "--name", "m", "--url", "http://mirror.example/"],
    ["deploy", "mirror", "list"],
    ["deploy", "mirror", "remove", "1"],
    ["deploy", "package", "add-action", "1", "--type", "cmd", "--exec", "true"],
    ["deploy", "package", "add-check", "1", "--type", "fileExists", "--path", "/etc/hosts"],
    ["deploy", "package", "attach-file", "1", "1"],
    ["deploy", "package", "create", "--name", "p"],
    ["deploy", "package", "delete", "1", "--yes"],
    ["deploy", "package", "list"],
    ["deploy", "package", "remove-item", "1", "check", "0"],
    ["deploy", "package", "show", "1"],
    ["deploy", "run", "1", "--computer", "1"],
    ["device", "credential", "set", "printer:1", "1"],
    ["device", "credential", "show", "printer:1"],
    ["esx", "credential", "create", "--name", "c", "--username", "u", "--password", "p"],
    ["esx", "credential", "delete", "1"],
    ["esx", "credential", "list"],
    ["esx", "credential", "show", "1"],
    ["esx", "credential", "update", "1", "--name", "x"],
    ["esx", "host", "create", "--name", "h", "--address", "10.0.0.1", "--credential", "1"],
    ["esx", "host", "delete", "1"],
    ["esx", "host", "list"],
    ["esx", "host", "show", "1"],
    ["esx", "host", "update", "1", "--name", "x"],
    ["history"],
    ["iprange", "create", "--name", "r", "--start", "192.0.2.1", "--end", "192.0.2.9"],
    ["iprange", "delete", "1"],
    ["iprange", "list"],
    ["prepare"],
    ["prepare", "--once"],
    ["running"],
    ["serve", "--no-scheduler"],
    ["task", "create", "--name", "t"],
    ["task", "delete", "1", "--yes"],
    ["task", "disable", "1"],
    ["task", "enable", "1"],
    ["task", "executions", "1"],
    ["task", "list"],
    ["task", "settings", "1"],
    ["task", "show", "1"],
    ["task", "update", "1", "--name", "x"],
    ["task", "wakeups", "1"],
    ["timeslot", "create", "--name", "s", "--entry", "1 08:00-18:00"],
    ["timeslot", "list"],
    ["wakeup", "--agent", "1"],
    ["wakeup", "--task", "1"],
]
# These two make the embedded database when it is missing, by design.
CREATING = {("db", "init"), ("serve", "--no-scheduler")}


def _leaf_commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, (*path, name))
        else:
            yield [*path, name]


def test_the_list_covers_every_command():
    missing = [words for words in _leaf_commands(main) if not any(args[:len(words)] == words for args in COMMANDS)]
    assert missing == []


def _id(args):
    return " ".join(args[:3])


def _fails_in_one_line(args: list[str], url: str, *expected: str) -> str:
    runner = CliRunner()
    with runner.isolated_filesystem():
        Path("payload.bin").write_bytes(b"x")
        # At the root, as the README shows it, and after the command.
        for command_line in (["--database", url, *args], [*args, "--database", url]):
            result = runner.invoke(main, command_line)
            assert isinstance(result.exception, SystemExit), (command_line, result.exception)
            assert result.exit_code == 1, result.output
            assert "Traceback" not in result.output and PASSWORD not in result.output
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
            for text in expected:
                assert text in lines[0]
        created = sorted(str(path) for path in Path(".").iterdir() if path.name != "payload.bin")
    return "\n".join(created)


@pytest.mark.parametrize("args", COMMANDS, ids=_id)
def test_unreachable_server(args):
    _fails_in_one_line(args, UNREACHABLE, "cannot connect to mysql+pymysql://root:***@127.0.0.1:1/x",
                       "Connection refused")


@pytest.mark.parametrize("args", COMMANDS, ids=_id)
def test_unknown_database(args, mariadb_server):
    url = mariadb_server.url.set(database="fusion_bridge_no_such_db").render_as_string(hide_password=False)
    _fails_in_one_line(args, url, "Unknown database 'fusion_bridge_no_such_db'")


@pytest.mark.parametrize("args", COMMANDS, ids=_id)
def test_malformed_url(args):
    _fails_in_one_line(args, MALFORMED, "is not a database URL", "root:***@")


@pytest.mark.parametrize("args", [args for args in COMMANDS if tuple(args[:2]) not in CREATING], ids=_id)
def test_missing_sqlite_file_is_reported_not_created(args):
    created = _fails_in_one_line(args, "sqlite:///fusion-bridge.sqlite", "no database at ",
                                 "fusion-bridge.sqlite; run `fusion-bridge db init`")
    assert created == ""


def test_the_default_database_is_not_created_by_task_list(monkeypatch):
    monkeypatch.delenv("FUSION_BRIDGE_DATABASE_URL", raising=False)
    runner = CliRunner()
    with runner.isolated_filesystem():
        result = runner.invoke(main, ["task", "list"])
        assert result.exit_code == 1 and "no database at" in result.output
        assert list(Path(".").iterdir()) == []


def test_a_database_without_the_tables_is_told_in_one_line(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    for args in (["task", "list"], ["prepare", "--once"], ["wakeup", "--agent", "1"], ["history"]):
        result = CliRunner().invoke(main, ["--database", f"sqlite:///{empty}", *args])
        assert isinstance(result.exception, SystemExit) and result.exit_code == 1, (args, result.exception)
        assert result.output.strip().splitlines() == [
            f"Error: sqlite:///{empty} has no FusionInventory tables: run `fusion-bridge db init` "
            "(or install the plugin in GLPI)"], args


def test_a_real_process_prints_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for url in (UNREACHABLE, MALFORMED):
        done = subprocess.run([sys.executable, "-m", "fusion_bridge", "--database", url, "prepare", "--once"],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1 and PASSWORD not in done.stderr, done.stderr
