"""One preparer (issue 13): runs GLPI's own ``taskscheduler`` cron prepared next to the bridge,
inserted here as the plugin inserts them (a run in state 0 with a 13-digit uniqid and its
Prepared log line, no bridge row), on SQLite and MariaDB."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

import schema
from fusion_bridge.services.admin.task_settings import set_job_settings, set_task_settings
from fusion_bridge.services.push.push_pass import push_pass
from fusion_bridge.services.scheduling.foreign_runs import BALANCED, COVERED
from fusion_bridge.services.scheduling.preparation import prepare_runs
from schema.constants import TaskjobLogState as Log, TaskjobState as State
from tests.helpers.executions import RANGE, T0, discovery_task, end_runs, minutes, run_rows

runs_t, logs_t = schema.taskjobstates, schema.taskjoblogs


def plugin_prepares(engine, job, rng, agent, state=State.PREPARED) -> int:
    """A run as the plugin's prepareTaskjobs writes it."""
    with engine.begin() as conn:
        run_id = conn.execute(insert(runs_t).values(
            plugin_fusioninventory_taskjobs_id=job, items_id=rng, itemtype=RANGE, state=int(state),
            plugin_fusioninventory_agents_id=agent, uniqid="65f1a2b3c4d5e")).inserted_primary_key[0]
        conn.execute(insert(logs_t).values(plugin_fusioninventory_taskjobstates_id=run_id, date=minutes(30),
                                           state=int(Log.PREPARED), comment="", itemtype=None, items_id=0))
    return run_id


def last_comment(engine, run_id) -> str:
    with engine.connect() as conn:
        return conn.execute(select(logs_t.c.comment).where(logs_t.c.plugin_fusioninventory_taskjobstates_id == run_id)
                            .order_by(logs_t.c.id.desc()).limit(1)).scalar()


def by_id(engine, run_id):
    return next(row for row in run_rows(engine) if row["id"] == run_id)


def test_a_95_task_gets_no_second_run_next_to_one_the_plugin_prepared(engine):
    task, job, rng, agents = discovery_task(engine, agents=1)
    foreign = plugin_prepares(engine, job, rng, agents[0])
    report = prepare_runs(engine, T0)
    assert (report.prepared, report.skipped, report.cancelled) == (0, 1, 0)
    assert [row["id"] for row in run_rows(engine)] == [foreign]
    assert by_id(engine, foreign)["state"] == State.PREPARED and by_id(engine, foreign)["execution_id"] is None


def test_a_plugin_run_for_a_finished_execution_is_cancelled_not_pushed(engine):
    """The issue's case: a daily push task whose execution 1 finished; GLPI's cron prepares the
    pair again (9.5 rule). The bridge must neither adopt nor push it, nor prepare another."""
    task, job, rng, agents = discovery_task(engine, agents=1)
    set_task_settings(engine, task, {"communication": "push", "period": "1d"})
    assert prepare_runs(engine, T0).prepared == 1
    [first] = run_rows(engine)
    end_runs(engine, [first["id"]], minutes(10))
    foreign = plugin_prepares(engine, job, rng, agents[0])

    report = prepare_runs(engine, minutes(60))
    assert (report.prepared, report.cancelled) == (0, 1)
    row = by_id(engine, foreign)
    assert (row["state"], row["execution_id"]) == (State.CANCELLED, None)
    assert last_comment(engine, foreign) == COVERED
    pushed = push_pass(engine, minutes(61))
    assert (pushed.first, pushed.again, pushed.agents) == (0, 0, 0)

    # The next day, execution 2 prepares the pair once, as its own.
    report = prepare_runs(engine, T0 + timedelta(days=1, minutes=1))
    assert report.prepared == 1 and report.tasks[task].execution == 2
    assert [(r["state"], r["execution_id"]) for r in run_rows(engine)] == \
        [(State.FINISHED, 1), (State.CANCELLED, None), (State.PREPARED, 2)]


def test_push_alone_does_not_wake_a_plugin_run_of_a_covered_pair(engine):
    """GLPI's cron may prepare between two bridge passes; a push-only pass settles it first."""
    task, job, rng, agents = discovery_task(engine, agents=1)
    set_task_settings(engine, task, {"communication": "push", "period": "1d"})
    prepare_runs(engine, T0)
    end_runs(engine, [run_rows(engine)[0]["id"]], minutes(10))
    foreign = plugin_prepares(engine, job, rng, agents[0])
    pushed = push_pass(engine, minutes(20))
    assert (pushed.first, pushed.agents) == (0, 0)
    assert by_id(engine, foreign)["state"] == State.CANCELLED


def test_a_plugin_run_of_a_pair_the_execution_has_not_covered_is_adopted(engine):
    task, job, rng, agents = discovery_task(engine, agents=2)
    set_task_settings(engine, task, {"period": "1d"})
    foreign = plugin_prepares(engine, job, rng, agents[0])
    report = prepare_runs(engine, T0)
    # The plugin's run is the first agent's run of execution 1; only the second agent gets a new one.
    assert (report.prepared, report.cancelled) == (1, 0)
    rows = run_rows(engine)
    assert [(r["id"] == foreign, r["plugin_fusioninventory_agents_id"], r["execution_id"]) for r in rows] == \
        [(True, agents[0], 1), (False, agents[1], 1)]
    # A second plugin run of the same pair is a duplicate now.
    duplicate = plugin_prepares(engine, job, rng, agents[0])
    assert prepare_runs(engine, minutes(1)).cancelled == 1
    assert by_id(engine, duplicate)["state"] == State.CANCELLED


def test_a_plugin_run_already_handed_out_is_left_to_its_agent(engine):
    task, job, rng, agents = discovery_task(engine, agents=1)
    set_task_settings(engine, task, {"period": "1d"})
    prepare_runs(engine, T0)
    end_runs(engine, [run_rows(engine)[0]["id"]], minutes(10))
    running = plugin_prepares(engine, job, rng, agents[0], state=State.AGENT_HAS_SENT_DATA)
    report = prepare_runs(engine, minutes(60))
    assert (report.prepared, report.cancelled) == (0, 0)
    assert (by_id(engine, running)["state"], by_id(engine, running)["execution_id"]) == (State.AGENT_HAS_SENT_DATA, None)


def test_a_plugin_run_of_a_balanced_action_is_cancelled(engine):
    task, job, rng, agents = discovery_task(engine, agents=2)
    set_job_settings(engine, job, {"balance": True})
    foreign = plugin_prepares(engine, job, rng, agents[0])
    report = prepare_runs(engine, T0)
    assert report.cancelled == 1 and last_comment(engine, foreign) == BALANCED
    # The bridge's two slices, each on one agent.
    slices = [r for r in run_rows(engine) if r["id"] != foreign]
    assert len(slices) == 2 and all(r["execution_id"] == 1 and r["specificity"] for r in slices)
