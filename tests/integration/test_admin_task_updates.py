"""``task update``, ``action update``, and the bridge settings given to ``task create`` and
``action add``, in the CLI and the API, on SQLite and MariaDB; and the API taking the CLI's
names for fields (``max_agents``, ``start``, ``entity``), old names still accepted, errors naming
the field as the administrator wrote it."""

from __future__ import annotations

from sqlalchemy import select

import schema
from schema.constants import ItemType
from tests.helpers.admin_api import call
from tests.helpers.admin_verbs import cli, cli_error, cli_json
from tests.helpers.db import count, row
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_run


def _bridge_row(engine, table, key, value):
    with engine.connect() as conn:
        return conn.execute(select(table).where(table.c[key] == value)).mappings().first()


def test_cli_create_and_add_store_the_settings_in_the_same_transaction(database_url, engine):
    # A bad setting refuses the whole command: no active task is left without its settings.
    assert "expected a number and a unit" in cli_error(database_url, "task", "create", "--name", "t", "--active",
                                                       "--communication", "push", "--period", "soon")
    assert count(engine, schema.tasks) == 0
    task = cli_json(database_url, "task", "create", "--name", "nightly", "--active", "--communication", "push",
                    "--push-timeout", "60", "--period", "1d")
    assert task["is_active"] and task["settings"]["communication"] == "push" and task["settings"]["period"] == "1 days"
    stored = _bridge_row(engine, schema.bridge_tasks, "plugin_fusioninventory_tasks_id", task["id"])
    assert (stored["communication"], stored["push_timeout"], stored["periodicity_count"]) == ("push", 60, 1)

    agent = add_agent(engine)
    iprange = cli_json(database_url, "iprange", "create", "--name", "LAN", "--start", "10.0.0.1", "--end", "10.0.0.254")
    base = ["action", "add", "--task", str(task["id"]), "--name", "discover", "--method", "networkdiscovery",
            "--target", f"iprange:{iprange['id']}", "--actor", f"agent:{agent}"]
    assert "retries must be between 0" in cli_error(database_url, *base, "--retries", "-2")
    assert count(engine, schema.taskjobs) == 0
    added = cli(database_url, *base, "--pool", "module", "--max-agents", "5", "--balance", "--slice-retries", "1",
                "--retries", "3", "--retry-delay", "10", "--wait-previous", "-1").stdout.strip()
    assert added.startswith("action ") and "targets iprange:" in added
    [action] = cli_json(database_url, "action", "list")
    job = _bridge_row(engine, schema.bridge_taskjobs, "plugin_fusioninventory_taskjobs_id", action["id"])
    assert (job["pool"], job["pool_max_agents"], job["balance"], job["slice_retries"], job["retry_count"],
            job["retry_delay"], job["wait_previous"]) == ("module", 5, 1, 1, 3, 10, -1)


def test_cli_task_update(database_url, engine):
    task = cli_json(database_url, "task", "create", "--name", "t", "--active", "--start", "2024-01-01 08:00")
    agent = add_agent(engine)
    iprange = cli_json(database_url, "iprange", "create", "--name", "LAN", "--start", "10.0.0.1", "--end", "10.0.0.9")
    action = cli_json(database_url, "action", "add", "--task", str(task["id"]), "--name", "d", "--method",
                      "networkdiscovery", "--target", f"iprange:{iprange['id']}", "--actor", f"agent:{agent}")
    prepared = add_run(engine, job_id=action["id"], agent_id=agent, state=0, items_id=iprange["id"],
                       logs=[(7, "")])
    updated = cli_json(database_url, "task", "update", str(task["id"]), "--name", "renamed", "--end", "2030-01-01",
                       "--comment", "<night>", "--period", "2h", "--exec-timeslot", "0")
    assert (updated["name"], updated["datetime_end"], updated["comment"]) == \
        ("renamed", "2030-01-01 00:00:00", "<night>")
    assert updated["settings"]["periodicity_count"] == 2 and updated["is_active"] is True
    assert row(engine, schema.tasks, task["id"])["comment"] == "&lt;night&gt;"
    cleared = cli_json(database_url, "task", "update", str(task["id"]), "--end", "", "--start", "")
    assert cleared["datetime_start"] is None and cleared["datetime_end"] is None
    text = cli(database_url, "task", "update", str(task["id"]), "--inactive").stdout
    assert "prepared runs cancelled: 1" in text and row(engine, schema.taskjobstates, prepared)["state"] == 5
    assert cli_error(database_url, "task", "update", str(task["id"]), "--end", "2020-01-01", "--start", "2021-01-01") \
        == "Error: end is before start"
    assert cli_error(database_url, "task", "update", "99", "--name", "x") == "Error: task 99 does not exist"
    assert "nothing to change" in cli(database_url, "task", "update", str(task["id"]), expect=2).output
    assert row(engine, schema.tasks, task["id"])["name"] == "renamed"


def test_cli_action_update(database_url, engine):
    task = cli_json(database_url, "task", "create", "--name", "t")
    first, second = add_agent(engine, name="pc01"), add_agent(engine, name="pc02")
    iprange = cli_json(database_url, "iprange", "create", "--name", "LAN", "--start", "10.0.0.1", "--end", "10.0.0.9")
    action = cli_json(database_url, "action", "add", "--task", str(task["id"]), "--name", "d", "--method",
                      "networkdiscovery", "--target", f"iprange:{iprange['id']}", "--actor", f"agent:{first}")
    text = cli(database_url, "action", "update", str(action["id"]), "--name", "discover", "--actor", f"agent:{first}",
               "--actor", f"agent:{second}", "--max-agents", "1", "--pool", "subnet").stdout
    assert f"action {action['id']} of task {task['id']}: discover (networkdiscovery)" in text
    assert "pool subnet" in text and "pool_max_agents 1" in text
    stored = row(engine, schema.taskjobs, action["id"])
    assert stored["actors"] == (f'[{{"PluginFusioninventoryAgent":"{first}"}},'
                                f'{{"PluginFusioninventoryAgent":"{second}"}}]')
    assert stored["targets"] == f'[{{"{ItemType.IP_RANGE}":"{iprange["id"]}"}}]'
    error = cli_error(database_url, "action", "update", str(action["id"]), "--target", "computer:1", "--retries", "4")
    assert "cannot be a target of a networkdiscovery action" in error
    job = _bridge_row(engine, schema.bridge_taskjobs, "plugin_fusioninventory_taskjobs_id", action["id"])
    assert job["retry_count"] == 0 and row(engine, schema.taskjobs, action["id"])["name"] == "discover"
    assert cli_error(database_url, "action", "update", "99", "--name", "x") == "Error: action 99 does not exist"


def test_api_takes_the_clis_names_and_the_old_ones(api, engine):
    task = call(api, "POST", "/api/tasks", {"name": "t", "active": True, "start": "2024-01-01 08:00", "entity": 0,
                                            "communication": "push", "period": "30m"}, expect=201)
    assert task["is_active"] and task["datetime_start"] == "2024-01-01 08:00:00"
    assert task["settings"]["communication"] == "push"
    old = call(api, "POST", "/api/tasks", {"name": "old", "is_active": True, "datetime_start": "2024-01-01"},
               expect=201)
    assert old["is_active"] and old["datetime_start"] == "2024-01-01 00:00:00"
    assert call(api, "POST", "/api/tasks", {"name": "x", "active": True, "is_active": False}, expect=400) == \
        {"error": "active is given twice (as active and is_active)"}
    error = call(api, "POST", "/api/tasks", {"name": "x", "colour": 1}, expect=400)["error"]
    assert error.startswith("unknown task field(s): colour (known: active, comment, communication, end, entity, ")
    assert call(api, "POST", "/api/tasks", {"name": "x", "end": "2024-01-01"}, expect=400)["error"].startswith(
        "end needs a start")
    assert call(api, "POST", "/api/tasks", {"name": "x", "entity": "root"}, expect=400) == \
        {"error": "entity must be a number, got 'root'"}
    assert count(engine, schema.tasks) == 2

    patched = call(api, "PATCH", f"/api/tasks/{task['id']}", {"active": False, "push_retries": 0, "end": "2030-01-01"})
    assert patched["is_active"] is False and patched["settings"]["push_retries"] == 0
    assert patched["cancelled_runs"] == 0

    agent = add_agent(engine)
    iprange = call(api, "POST", "/api/ipranges", {"name": "LAN", "start": "10.0.0.1", "end": "10.0.0.9",
                                                  "entity": 0, "credential": [2]}, expect=201)
    assert [c["id"] for c in iprange["credentials"]] == [2]
    assert call(api, "POST", "/api/ipranges", {"name": "bad", "start": "10.0.0.9", "end": "10.0.0.300"},
                expect=400)["error"] == "end must be an IPv4 address like 192.168.0.1, got '10.0.0.300'"
    assert call(api, "PATCH", f"/api/ipranges/{iprange['id']}", {"end": "10.0.0.20"})["ip_end"] == "10.0.0.20"
    action = call(api, "POST", f"/api/tasks/{task['id']}/actions", {
        "name": "d", "method": "networkdiscovery", "target": [f"iprange:{iprange['id']}"], "actor": [f"agent:{agent}"],
        "max_agents": 4, "retries": 2, "balance": True}, expect=201)
    assert (action["settings"]["pool_max_agents"], action["settings"]["retry_count"], action["settings"]["balance"]) \
        == (4, 2, True)
    assert call(api, "POST", f"/api/tasks/{task['id']}/actions", {
        "name": "e", "method": "networkdiscovery", "targets": [f"iprange:{iprange['id']}"],
        "actors": [f"agent:{agent}"],
        "max_agents": -1}, expect=400) == {"error": "max_agents must be between 0 and 1000000, got -1"}
    assert count(engine, schema.taskjobs) == 1
    patched = call(api, "PATCH", f"/api/actions/{action['id']}", {"pool_max_agents": 7, "name": "again"})
    assert patched["settings"]["pool_max_agents"] == 7 and patched["name"] == "again"
    assert call(api, "GET", f"/api/actions/{action['id']}")["settings"]["retry_count"] == 2
    assert call(api, "PATCH", f"/api/actions/{action['id']}/settings", {"max_agents": 9})["pool_max_agents"] == 9

    slot = call(api, "POST", "/api/timeslots", {"name": "office", "entry": ["1 08:00-18:00"], "entity": 0,
                                                "recursive": True}, expect=201)
    assert slot["is_recursive"] is True
    package = call(api, "POST", "/api/deploy/packages", {"name": "app", "entity": 0, "recursive": True}, expect=201)
    assert package["is_recursive"] is True
    mirror = call(api, "POST", "/api/deploy/mirrors", {"name": "m", "url": "http://m.example/", "location": 3,
                                                       "active": False}, expect=201)
    assert (mirror["locations_id"], mirror["is_active"]) == (3, False)
