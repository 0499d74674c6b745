"""One preparer, said and checked (issue 13): `db check` flags the plugin's cron tasks that
compete with the bridge's scheduler; `db takeover` / `db handback` flip exactly those, on SQLite
and MariaDB, through the real command line (click's runner)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, select, update

import schema
from fusion_bridge.cli.main import main
from schema.crontasks import META_NAME

crontasks = schema.glpi_crontasks
COMPETING = {("PluginFusioninventoryTask", "taskscheduler"), ("PluginFusioninventoryAgentWakeup", "wakeupAgents"),
             ("PluginFusioninventoryTaskjobstate", "cleantaskjob"), ("PluginFusioninventoryTask", "cleanondemand")}


@pytest.fixture
def db(database_url, engine):
    """The session database with the plugin's install rows (cron tasks enabled), a core GLPI cron
    task next to them, and no take-over record (the meta table outlives the per-test reset)."""
    def forget():
        with engine.begin() as conn:
            conn.execute(delete(schema.bridge_meta).where(schema.bridge_meta.c.name == META_NAME))
    forget()
    with engine.begin() as conn:
        conn.execute(insert(crontasks).values(itemtype="CronTask", name="logs", frequency=86400, state=1, mode=2,
                                              allowmode=3, hourmin=0, hourmax=24, logs_lifetime=30))
    yield database_url
    forget()


def cli(database_url, *args, expect=0):
    result = CliRunner().invoke(main, ["db", *args, "--database", database_url])
    assert result.exit_code == expect, result.output
    return result


def states(engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        return {(r.itemtype, r.name): r.state for r in conn.execute(select(crontasks))}


def set_state(engine, name, state):
    with engine.begin() as conn:
        conn.execute(update(crontasks).where(crontasks.c.name == name).values(state=state))


def test_check_flags_the_enabled_competing_cron_tasks(db, engine):
    flagged = cli(db, "check", expect=1)
    enabled = [line for line in flagged.stdout.splitlines() if line.startswith("enabled")]
    assert {tuple(line.split()[4].split("/")) for line in enabled} == COMPETING
    assert "4 plugin cron task(s) would compete" in flagged.stderr and "db takeover" in flagged.stderr
    # A bridge served without its scheduler leaves preparation to GLPI's cron: nothing to flag.
    assert cli(db, "check", "--no-scheduler").exit_code == 0
    # Only the enabled ones count.
    for _itemtype, name in COMPETING:
        set_state(engine, name, 0)
    assert cli(db, "check").exit_code == 0


def test_takeover_and_handback_flip_exactly_the_competing_tasks(db, engine):
    set_state(engine, "cleanondemand", 0)  # disabled by the administrator beforehand
    set_state(engine, "wakeupAgents", 2)  # running right now
    before = states(engine)

    taken = json.loads(cli(db, "takeover", "--json").stdout)
    assert {(c["itemtype"], c["name"], c["before"], c["after"]) for c in taken["changed"]} == {
        ("PluginFusioninventoryTask", "taskscheduler", 1, 0), ("PluginFusioninventoryAgentWakeup", "wakeupAgents", 2, 0),
        ("PluginFusioninventoryTaskjobstate", "cleantaskjob", 1, 0)}
    assert [(u["name"], u["reason"]) for u in taken["unchanged"]] == [("cleanondemand", "already disabled")]
    after = states(engine)
    assert {key for key in after if after[key] != before[key]} == COMPETING - {("PluginFusioninventoryTask",
                                                                                "cleanondemand")}
    assert all(after[key] == 0 for key in COMPETING)
    # GLPI's other cron tasks and the plugin's harmless ones are untouched.
    assert after[("CronTask", "logs")] == 1 and after[("PluginFusioninventoryAgent", "cleanoldagents")] == 1
    assert cli(db, "check").exit_code == 0

    # Again: nothing to do, and the first record (the states to restore) is kept.
    assert json.loads(cli(db, "takeover", "--json").stdout)["changed"] == []
    restored = cli(db, "handback").stdout
    assert "restored PluginFusioninventoryAgentWakeup/wakeupAgents" in restored
    assert states(engine) == before  # cleanondemand stays disabled, wakeupAgents back to 2
    assert "nothing to hand back" in cli(db, "handback", expect=1).output


def test_handback_leaves_a_task_enabled_again_meanwhile(db, engine):
    cli(db, "takeover")
    set_state(engine, "taskscheduler", 1)  # an administrator enabled it again in GLPI's UI
    set_state(engine, "cleantaskjob", 2)
    report = json.loads(cli(db, "handback", "--json").stdout)
    assert {c["name"] for c in report["changed"]} == {"wakeupAgents", "cleanondemand"}
    assert {u["name"] for u in report["unchanged"]} == {"taskscheduler", "cleantaskjob"}
    assert states(engine)[("PluginFusioninventoryTaskjobstate", "cleantaskjob")] == 2


def test_takeover_needs_the_bridge_tables(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    assert "db init" in cli(url, "takeover", expect=1).output


def test_the_scheduler_warns_at_start_while_they_compete(db, engine, caplog):
    from fusion_bridge.scheduler import Scheduler, SchedulerSettings

    scheduler = Scheduler(engine, SchedulerSettings())
    with caplog.at_level("WARNING", logger="fusion_bridge.scheduler"):
        scheduler.warn_competing_cron_tasks()
    [warning] = [r.getMessage() for r in caplog.records if r.name == "fusion_bridge.scheduler"]
    assert "PluginFusioninventoryTask/taskscheduler" in warning and "db takeover" in warning
    cli(db, "takeover")
    caplog.clear()
    scheduler.warn_competing_cron_tasks()
    assert [r for r in caplog.records if r.name == "fusion_bridge.scheduler"] == []
