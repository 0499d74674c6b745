"""``fusion-bridge deploy`` through click's CliRunner, on SQLite and MariaDB."""

from __future__ import annotations

import hashlib
import json
import os

from sqlalchemy import select

import schema
from fusion_bridge.adapters.deploy_repository import PART_SIZE, FileRepository
from fusion_bridge.services.scheduling.preparation import prepare_runs
from schema.constants import ItemType
from tests.helpers.cli import as_json, run
from tests.helpers.db import count, row
from tests.helpers.inventory_rows import add_computer_with_agent


def test_a_package_made_on_the_command_line_is_prepared_for_the_computers_agent(database_url, engine, tmp_path):
    repository = tmp_path / "repo"
    source = tmp_path / "install.sh"
    source.write_bytes(os.urandom(PART_SIZE) + b"\necho installed\n")  # two parts
    added = run(database_url, "deploy", "file", "add", str(source), "--repository", str(repository)).stdout
    sha = hashlib.sha512(source.read_bytes()).hexdigest()
    assert f"stored: install.sh, 1.0 MiB in 2 parts, sha512 {sha}" in added
    [listed] = as_json(database_url, "deploy", "file", "list", "--repository", str(repository))
    assert listed["sha512"] == sha and listed["in_repository"]

    package = as_json(database_url, "deploy", "package", "create", "--name", "Installer", "--comment", "v1")
    pid = str(package["id"])
    run(database_url, "deploy", "package", "add-check", pid, "--type", "freespaceGreater", "--path", "/",
        "--value", "1", "--unit", "GB", "--return", "skip")
    run(database_url, "deploy", "package", "attach-file", pid, sha, "--repository", str(repository))
    run(database_url, "deploy", "package", "add-action", pid, "--type", "cmd", "--exec", "sh install.sh",
        "--name", "install", "--ok-code", "0", "--ok-code", "3010", "--log-lines", "-1")
    run(database_url, "deploy", "package", "add-action", pid, "--type", "mkdir", "--path", "/opt/a",
        "--path", "/opt/b")
    order = json.loads(row(engine, schema.deploypackages, package["id"])["json"])
    assert order["jobs"]["checks"] == [{"name": "", "type": "freespaceGreater", "path": "/", "value": "1024",
                                        "return": "skip"}]
    assert order["jobs"]["associatedFiles"] == [sha]
    assert order["associatedFiles"] == {sha: {"name": "install.sh", "p2p": 0, "p2p-retention-duration": 0,
                                              "uncompress": 0}}
    assert order["jobs"]["actions"] == [
        {"cmd": {"exec": "sh install.sh", "name": "install", "logLineLimit": "-1",
                 "retChecks": [{"type": "okCode", "values": ["0"]}, {"type": "okCode", "values": ["3010"]}]}},
        {"mkdir": {"list": ["/opt/a", "/opt/b"], "name": ""}}]

    shown = run(database_url, "deploy", "package", "show", pid).stdout.splitlines()
    assert shown[0] == f"package {pid}: Installer"
    assert "  #0 freespaceGreater / 1024, if not: skip" in shown
    assert "  #0 cmd: sh install.sh  [okCode 0, okCode 3010]  (install)" in shown
    assert "  #1 mkdir: /opt/a /opt/b" in shown
    listing = run(database_url, "deploy", "package", "list").stdout.splitlines()
    assert listing[0].split()[:6] == ["ID", "NAME", "ENTITY", "CHECKS", "FILES", "ACTIONS"]
    assert listing[1].split()[:6] == [pid, "Installer", "0", "1", "1", "2"]

    computer, agent = add_computer_with_agent(engine, "pc42")
    deployed = run(database_url, "deploy", "run", pid, "--computer", str(computer)).stdout
    assert "'Deploy Installer' created, active" in deployed and f"on: computer:{computer} (pc42)" in deployed
    [task] = as_json(database_url, "task", "list")
    assert task["is_active"] and not task["reprepare_if_successful"]
    report = prepare_runs(engine, task_id=task["id"])
    assert report.prepared == 1
    with engine.connect() as conn:
        [prepared] = conn.execute(select(schema.taskjobstates)).mappings().all()
    assert (prepared["plugin_fusioninventory_agents_id"], prepared["itemtype"], prepared["items_id"],
            prepared["state"]) == (agent, ItemType.DEPLOY_PACKAGE, package["id"], 0)

    refused = run(database_url, "deploy", "package", "delete", pid, "--yes", expect=1)
    assert "is deployed by action(s)" in refused.output


def test_errors_exit_non_zero_with_a_message(database_url, engine, tmp_path):
    assert "package 77 does not exist" in run(database_url, "deploy", "package", "show", "77", expect=1).output
    pid = str(as_json(database_url, "deploy", "package", "create", "--name", "p")["id"])
    bad_check = run(database_url, "deploy", "package", "add-check", pid, "--type", "fileSizeLower", "--path", "/x",
                    expect=1)
    assert "Error: value of the fileSizeLower check (a size) is required" in bad_check.output
    assert "unknown cmd action field(s): list" in run(
        database_url, "deploy", "package", "add-action", pid, "--type", "cmd", "--exec", "ls", "--path", "/x",
        expect=1).output
    assert "no file with sha512" in run(database_url, "deploy", "package", "attach-file", pid, "f" * 128,
                                        "--repository", str(tmp_path), expect=1).output
    assert "nothing to deploy" in run(database_url, "deploy", "run", pid, "--agent", "1", expect=1).output
    run(database_url, "deploy", "package", "add-action", pid, "--type", "delete", "--path", "/tmp/x")
    assert "at least one computer" in run(database_url, "deploy", "run", pid, expect=1).output
    assert "Computer 5 does not exist" in run(database_url, "deploy", "run", pid, "--computer", "5",
                                              expect=1).output
    assert "http:// or https://" in run(database_url, "deploy", "mirror", "add", "--name", "m", "--url", "files",
                                        expect=1).output
    assert count(engine, schema.tasks) == 0 and count(engine, schema.deploymirrors) == 0


def test_mirrors_and_package_removal(database_url, engine):
    mirror = as_json(database_url, "deploy", "mirror", "add", "--name", "Lyon", "--url", "https://lyon.example/fi/",
                     "--recursive", "--location", "4")
    lines = run(database_url, "deploy", "mirror", "list").stdout.splitlines()
    assert lines[1].split() == [str(mirror["id"]), "Lyon", "yes", "0", "yes", "4", "https://lyon.example/fi/"]
    assert run(database_url, "deploy", "mirror", "remove", str(mirror["id"])).stdout.strip() == \
        f"mirror {mirror['id']} removed"
    assert "(none)" in run(database_url, "deploy", "mirror", "list").stdout

    pid = str(as_json(database_url, "deploy", "package", "create", "--name", "p")["id"])
    run(database_url, "deploy", "package", "add-check", pid, "--type", "fileExists", "--path", "/a")
    run(database_url, "deploy", "package", "add-check", pid, "--type", "fileMissing", "--path", "/b")
    after = as_json(database_url, "deploy", "package", "remove-item", pid, "check", "0")
    assert [c["type"] for c in after["checks"]] == ["fileMissing"]
    assert "has no check #3" in run(database_url, "deploy", "package", "remove-item", pid, "check", "3",
                                    expect=1).output
    assert run(database_url, "deploy", "package", "delete", pid, "--yes").stdout.strip() == f"package {pid} deleted"
    assert count(engine, schema.deploypackages) == 0


def test_the_repository_comes_from_the_environment(database_url, engine, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("hello")
    env = {"FUSION_BRIDGE_DEPLOY_REPOSITORY": str(tmp_path / "env-repo")}
    stored = as_json(database_url, "deploy", "file", "add", str(source), "--name", "b.txt", env=env)
    assert stored["name"] == "b.txt" and stored["parts"] == 1
    assert FileRepository(tmp_path / "env-repo").read_file(stored["sha512"]) == b"hello"


def test_an_unwritable_repository_is_a_clear_error(database_url, engine, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("hello")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    refused = run(database_url, "deploy", "file", "add", str(source), "--repository", str(blocker), expect=1)
    assert f"cannot store {source} in the repository {blocker}" in refused.output
    assert count(engine, schema.deployfiles) == 0
