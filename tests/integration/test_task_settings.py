"""The bridge's own task and action settings, through the service, the CLI and the admin API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import schema
from fusion_bridge.services.admin import task_settings as settings
from fusion_bridge.services.admin.base import DefinitionError, NotFound
from tests.helpers.admin_api import call
from tests.helpers.cli import as_json, run
from tests.helpers.inventory_rows import add_agent


def _task_and_action(database_url, engine):
    task = as_json(database_url, "task", "create", "--name", "t")
    iprange = as_json(database_url, "iprange", "create", "--name", "LAN", "--start", "10.0.0.1",
                      "--end", "10.0.0.254")
    agent = add_agent(engine, name="pc01")
    action = as_json(database_url, "action", "add", "--task", str(task["id"]), "--name", "discover", "--method",
                     "networkdiscovery", "--target", f"iprange:{iprange['id']}", "--actor", f"agent:{agent}")
    return task["id"], action["id"]


def test_defaults_are_the_plugin_behaviour(engine):
    with engine.connect() as conn:
        assert settings.task_settings(conn, 42) == settings.TaskSettings()
        assert settings.job_settings(conn, 42) == settings.JobSettings()
    assert not settings.TaskSettings().push and not settings.TaskSettings().periodic


def test_cli_sets_and_shows_settings(database_url, engine):
    task_id, action_id = _task_and_action(database_url, engine)
    shown = as_json(database_url, "task", "settings", str(task_id), "--communication", "push", "--period", "1d",
                    "--push-timeout", "60")
    assert shown["communication"] == "push" and shown["period"] == "1 days" and shown["push_timeout"] == 60
    assert shown["push_retries"] == 2
    again = as_json(database_url, "task", "settings", str(task_id), "--push-retries", "0")
    assert again["communication"] == "push" and again["push_retries"] == 0
    job = as_json(database_url, "action", "settings", str(action_id), "--pool", "module", "--max-agents", "5",
                  "--balance", "--retries", "3", "--retry-delay", "10", "--wait-previous", "-1")
    assert job == {"pool": "module", "pool_max_agents": 5, "balance": True, "slice_retries": 2,
                   "retry_count": 3, "retry_delay": 10, "wait_previous": -1}
    with engine.connect() as conn:
        stored = conn.execute(select(schema.bridge_taskjobs)).one()
    assert stored.plugin_fusioninventory_taskjobs_id == action_id and stored.balance == 1
    assert ["communication", "push"] in [line.split() for line in run(database_url, "task", "settings", str(task_id)).stdout.splitlines()]
    refused = run(database_url, "task", "settings", "999", "--period", "1h", expect=1)
    assert "no task 999" in refused.output
    bad = run(database_url, "task", "settings", str(task_id), "--period", "soon", expect=1)
    assert "expected a number and a unit" in bad.output


def test_bad_values_write_nothing(engine, database_url):
    task_id, action_id = _task_and_action(database_url, engine)
    with pytest.raises(DefinitionError, match="push_timeout must be between"):
        settings.set_task_settings(engine, task_id, {"communication": "push", "push_timeout": 1})
    with pytest.raises(DefinitionError, match="unknown action setting"):
        settings.set_job_settings(engine, action_id, {"pool": "module", "colour": "red"})
    with pytest.raises(NotFound):
        settings.set_job_settings(engine, 999, {"pool": "module"})
    with engine.connect() as conn:
        assert conn.execute(select(schema.bridge_tasks)).all() == []
        assert conn.execute(select(schema.bridge_taskjobs)).all() == []


def test_admin_api_settings(api, database_url, engine):
    task_id, action_id = _task_and_action(database_url, engine)
    assert call(api, "GET", f"/api/tasks/{task_id}/settings")["communication"] == "pull"
    changed = call(api, "PATCH", f"/api/tasks/{task_id}/settings", {"communication": "push", "period": "2h"})
    assert changed["communication"] == "push" and changed["periodicity_count"] == 2
    assert call(api, "PATCH", f"/api/actions/{action_id}/settings", {"balance": True, "pool": "subnet"})["pool"] \
        == "subnet"
    error = call(api, "PATCH", f"/api/actions/{action_id}/settings", {"pool": "everyone"}, expect=400)
    assert "pool must be one of" in error["error"]
    call(api, "GET", "/api/tasks/999/settings", expect=404)


def test_periods_longer_than_a_century_are_refused_and_stored_ones_do_not_break_dates(engine, database_url):
    from datetime import datetime

    from fusion_bridge.services.scheduling.executions import add_period

    task_id, _action_id = _task_and_action(database_url, engine)
    with pytest.raises(DefinitionError, match="longer than a century"):
        settings.set_task_settings(engine, task_id, {"period": "1000000mo"})
    settings.set_task_settings(engine, task_id, {"period": "1200mo"})
    with pytest.raises(DefinitionError, match="longer than a century"):
        settings.set_task_settings(engine, task_id, {"periodicity_type": "hours", "periodicity_count": 10**6})
    start = datetime(2026, 1, 31, 8, 0)
    assert add_period(start, 1, "months") == datetime(2026, 2, 28, 8, 0)
    assert add_period(start, 10**6, "months") == datetime.max  # written by hand in the table
    assert add_period(start, 10**9, "days") == datetime.max
    assert add_period(start, 3, "fortnights") == datetime.max
