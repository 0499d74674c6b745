"""The task commands of ``fusion-bridge`` through click's CliRunner, on SQLite and MariaDB."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import schema
from fusion_bridge.cli.main import main
from schema.constants import ItemType
from tests.helpers.cli import as_json, run
from tests.helpers.db import count, row
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_run


pytestmark = pytest.mark.both_flavours


def test_define_a_discovery_task_and_follow_it(database_url, engine):
    credential = as_json(database_url, "credential", "create", "--name", "lan v2c", "--version", "2c",
                         "--community", "private")
    assert row(engine, schema.configsecurities, credential["id"])["snmpversion"] == "2"
    iprange = as_json(database_url, "iprange", "create", "--name", "LAN", "--start", "192.168.1.1",
                      "--end", "192.168.1.254", "--credential", str(credential["id"]), "--credential", "1")
    assert [(c["id"], c["rank"]) for c in iprange["credentials"]] == [(credential["id"], 1), (1, 2)]
    slot = as_json(database_url, "timeslot", "create", "--name", "office", "--entry", "1 08:00-18:00",
                   "--entry", "fri 08:00-12:00")
    task = as_json(database_url, "task", "create", "--name", "Discover LAN", "--exec-timeslot",
                   str(slot["id"]), "--start", "2024-01-01 08:00", "--active")
    assert task["is_active"] and task["timeslot_exec_id"] == slot["id"]
    agent = add_agent(engine, name="pc07")

    added = run(database_url, "action", "add", "--task", str(task["id"]), "--name", "discover", "--method",
                "networkdiscovery", "--target", f"iprange:{iprange['id']}", "--actor", f"agent:{agent}")
    assert f"targets iprange:{iprange['id']} (LAN), actors agent:{agent} (pc07)" in added.stdout
    [action] = as_json(database_url, "action", "list", "--task", str(task["id"]))
    assert row(engine, schema.taskjobs, action["id"])["targets"] == \
        f'[{{"{ItemType.IP_RANGE}":"{iprange["id"]}"}}]'
    assert row(engine, schema.taskjobs, action["id"])["actors"] == \
        f'[{{"PluginFusioninventoryAgent":"{agent}"}}]'

    listing = run(database_url, "task", "list").stdout.splitlines()
    assert listing[0].split() == ["ID", "NAME", "ACTIVE", "ENTITY", "START", "END", "ACTIONS"]
    assert listing[1].split() == [str(task["id"]), "Discover", "LAN", "yes", "0", "2024-01-01", "08:00:00",
                                  "-", "1"]
    shown = run(database_url, "task", "show", str(task["id"])).stdout
    assert "execution " + str(slot["id"]) in shown and "networkdiscovery" in shown and "LAN" in shown
    assert "Mon 08:00-18:00, Fri 08:00-12:00" in run(database_url, "timeslot", "list").stdout
    assert "lan v2c" in run(database_url, "credential", "list").stdout
    assert "192.168.1.254" in run(database_url, "iprange", "list").stdout

    prepared = add_run(engine, job_id=action["id"], agent_id=agent, state=0, items_id=iprange["id"],
                       logs=[(7, "")])
    started = add_run(engine, job_id=action["id"], agent_id=agent, state=2, items_id=iprange["id"],
                      logs=[(7, ""), (1, ""), (6, "==devicesfound==: 2")])
    lines = run(database_url, "running").stdout.splitlines()
    assert lines[0].split()[:7] == ["RUN", "TASK", "ACTION", "METHOD", "TARGET", "AGENT", "STATE"]
    assert "Prepared" in lines[1] and lines[1].startswith(str(prepared))
    assert "Running" in lines[2] and "devices found: 2" in lines[2]
    assert f"iprange:{iprange['id']} (LAN)" in lines[2]
    assert [r["id"] for r in as_json(database_url, "running", "--agent", str(agent))] == [prepared, started]

    disabled = run(database_url, "task", "disable", str(task["id"])).stdout
    assert "1 prepared run cancelled" in disabled
    assert row(engine, schema.taskjobstates, prepared)["state"] == 5
    story = run(database_url, "history", "--task", str(task["id"])).stdout
    assert story.index(f"run {started}  Running") < story.index(f"run {prepared}  Cancelled")
    assert "Task has been disabled" in story and "Info" in story and "Started" in story
    [one] = as_json(database_url, "history", "--run", str(prepared))
    assert [line["word"] for line in one["logs"]] == ["Prepared", "Info"]
    assert as_json(database_url, "history", "--agent", str(agent), "--limit", "1")[0]["id"] == started

    enabled = run(database_url, "task", "enable", str(task["id"])).stdout
    assert enabled.strip() == f"task {task['id']} enabled: Discover LAN"

    refused = run(database_url, "iprange", "delete", str(iprange["id"]), expect=1)
    assert "is a target of action(s)" in refused.output
    removed = run(database_url, "action", "remove", str(action["id"]), "--yes").stdout
    assert removed.strip() == f"action {action['id']} removed with 2 runs, 5 log lines"
    run(database_url, "iprange", "delete", str(iprange["id"]))
    run(database_url, "task", "delete", str(task["id"]), "--yes")
    assert count(engine, schema.tasks) == count(engine, schema.ipranges) == 0
    assert count(engine, schema.taskjobstates) == 0


def test_errors_are_clear_and_write_nothing(database_url, engine):
    task = as_json(database_url, "task", "create", "--name", "t")
    agent = add_agent(engine, name="pc01")
    result = run(database_url, "action", "add", "--task", str(task["id"]), "--name", "a", "--method", "scan",
                 "--target", "iprange:1", "--actor", f"agent:{agent}", expect=1)
    assert "Error: unknown method 'scan'" in result.output
    result = run(database_url, "action", "add", "--task", str(task["id"]), "--name", "a", "--method",
                 "networkdiscovery", "--target", "router:1", "--actor", f"agent:{agent}", expect=1)
    assert "unknown item type 'router'" in result.output
    result = run(database_url, "iprange", "create", "--name", "r", "--start", "10.0.0.1", "--end",
                 "10.0.0.256", expect=1)
    assert "end must be an IPv4 address" in result.output
    result = run(database_url, "timeslot", "create", "--name", "s", "--entry", "1 18:00-08:00", expect=1)
    assert "the end must be after the begin" in result.output
    result = run(database_url, "credential", "create", "--name", "c", "--version", "3", "--username", "u",
                 "--auth-protocol", "sha", "--auth-passphrase", "short", expect=1)
    assert "at least 8 characters" in result.output
    assert "task 99 does not exist" in run(database_url, "task", "show", "99", expect=1).output
    assert "Aborted" in run(database_url, "task", "delete", str(task["id"]), input="n\n", expect=1).output
    assert count(engine, schema.taskjobs) == count(engine, schema.ipranges) == 0
    assert count(engine, schema.timeslots) == 0
    assert count(engine, schema.tasks) == 1 and count(engine, schema.configsecurities) == 2
    assert run(database_url, "running").stdout.strip() == "nothing running"
    assert run(database_url, "history").stdout.strip() == "no runs"


def test_database_url_comes_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("FUSION_BRIDGE_DATABASE_URL", database_url)
    result = CliRunner().invoke(main, ["task", "create", "--name", "from env", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["name"] == "from env"
