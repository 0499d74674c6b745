"""Executions of managed tasks (periodicity), retries of failed runs and ordered actions, on
SQLite and MariaDB, through the normal preparation pass."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

import schema
from fusion_bridge.services.scheduling import executions
from fusion_bridge.services.scheduling import preparation
from fusion_bridge.services.scheduling.executions import ExecutionConflict
from fusion_bridge.adapters.db import is_mysql
from fusion_bridge.scheduler import Scheduler, SchedulerSettings
from fusion_bridge.services.scheduling.preparation import prepare_runs
from fusion_bridge.services.scheduling.cleanup import apply_retention
from fusion_bridge.services.admin.task_settings import set_job_settings, set_task_settings
from schema.constants import TaskjobLogState as Log, TaskjobState as State
from tests.helpers.executions import (AGENT, T0, discovery_task, end_runs, execution_of, minutes, run_rows,
                                      wake_then_deploy)
from tests.helpers.inventory_rows import add_agent
from tests.helpers.lock_waits import WaitingTransaction
from tests.helpers.task_rows import items_json

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

logs_t, bridge_runs, bridge_tasks = schema.taskjoblogs, schema.bridge_runs, schema.bridge_tasks


# ---------------------------------------------------------------------------------------------
# 9.5 tasks are untouched


def test_task_without_settings_keeps_the_95_rules_and_writes_no_bridge_row(engine):
    task, job, _, agents = discovery_task(engine)
    report = prepare_runs(engine, T0)
    assert report.prepared == 2 and report.tasks[task].execution == 0
    first = run_rows(engine)
    end_runs(engine, [first[0]["id"]], minutes(1))
    end_runs(engine, [first[1]["id"]], minutes(1), State.IN_ERROR)
    # reprepare_if_successful = 1: both the finished and the failed pair run again at once.
    assert prepare_runs(engine, minutes(2)).prepared == 2
    assert all(row["execution_id"] is None for row in run_rows(engine))
    assert execution_of(engine, task) is None


# ---------------------------------------------------------------------------------------------
# Executions


def test_managed_task_without_period_runs_one_execution(engine):
    task, job, _, agents = discovery_task(engine)
    set_task_settings(engine, task, {"communication": "push"})
    report = prepare_runs(engine, T0)
    assert report.prepared == 2
    assert report.tasks[task].execution == 1 and report.tasks[task].execution_started
    assert [(r["execution_id"], r["attempt"]) for r in run_rows(engine)] == [(1, 0), (1, 0)]
    assert tuple(execution_of(engine, task)) == (1, T0)
    end_runs(engine, [r["id"] for r in run_rows(engine)], minutes(5))
    # Finished runs of the execution block their pair: nothing runs again, the execution is over.
    report = prepare_runs(engine, minutes(600))
    assert report.prepared == 0 and report.tasks[task].execution_ended == minutes(5)
    assert execution_of(engine, task).execution_id == 1
    # An agent joining the actors still gets its run in execution 1.
    with engine.begin() as conn:
        newcomer = add_agent(conn)
        conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == job).values(
            actors=items_json([(AGENT, a) for a in agents + [newcomer]])))
    assert prepare_runs(engine, minutes(601)).prepared == 1
    assert run_rows(engine)[-1]["plugin_fusioninventory_agents_id"] == newcomer


def test_action_settings_alone_make_the_task_managed(engine):
    task, job, _, _ = discovery_task(engine)
    set_job_settings(engine, job, {"retry_count": 1})
    assert prepare_runs(engine, T0).tasks[task].execution == 1
    assert execution_of(engine, task).execution_id == 1


def test_periodic_task_starts_again_only_after_the_period_and_the_previous_execution(engine):
    task, job, _, agents = discovery_task(engine)
    set_task_settings(engine, task, {"period": "1h"})
    prepare_runs(engine, T0)
    first = [r["id"] for r in run_rows(engine)]
    end_runs(engine, first, minutes(10))
    # Over, but the period has not elapsed: nothing new.
    report = prepare_runs(engine, minutes(59))
    assert report.prepared == 0 and report.tasks[task].execution == 1
    assert report.tasks[task].execution_ended == minutes(10)
    # Period elapsed: execution 2 prepares the same pairs again (the finished runs of execution
    # 1 no longer block).
    report = prepare_runs(engine, minutes(60))
    assert report.prepared == 2 and report.tasks[task].execution == 2 and report.tasks[task].execution_started
    second = [r for r in run_rows(engine) if r["id"] not in first]
    assert {r["execution_id"] for r in second} == {2}
    assert tuple(execution_of(engine, task)) == (2, minutes(60))
    # One run of execution 2 still live well after the period: no execution 3.
    end_runs(engine, [second[0]["id"]], minutes(70), State.IN_ERROR)
    report = prepare_runs(engine, minutes(200))
    assert report.prepared == 0 and report.tasks[task].execution == 2
    assert report.tasks[task].execution_ended is None
    end_runs(engine, [second[1]["id"]], minutes(210))
    report = prepare_runs(engine, minutes(211))
    assert report.tasks[task].execution == 3 and report.prepared == 2  # the failed pair too


def test_reprepare_if_successful_0_keeps_succeeded_pairs_out_of_later_executions(engine):
    task, job, _, agents = discovery_task(engine, reprepare=0)
    set_task_settings(engine, task, {"period": "30m"})
    prepare_runs(engine, T0)
    first = run_rows(engine)
    end_runs(engine, [first[0]["id"]], minutes(1))
    end_runs(engine, [first[1]["id"]], minutes(1), State.IN_ERROR)
    report = prepare_runs(engine, minutes(31))
    assert report.tasks[task].execution == 2
    assert [r["plugin_fusioninventory_agents_id"] for r in run_rows(engine)[2:]] == [agents[1]]


def test_months_are_calendar_months(engine):
    task, job, _, _ = discovery_task(engine, agents=1)
    set_task_settings(engine, task, {"period": "1mo"})
    start = datetime(2024, 1, 31, 10, 0)
    prepare_runs(engine, start)
    end_runs(engine, [run_rows(engine)[0]["id"]], start + timedelta(minutes=5))
    assert prepare_runs(engine, datetime(2024, 2, 29, 9, 59)).tasks[task].execution == 1
    assert prepare_runs(engine, datetime(2024, 2, 29, 10, 0)).tasks[task].execution == 2


# ---------------------------------------------------------------------------------------------
# Retries


def test_failed_run_is_retried_after_the_delay_at_most_retry_count_times(engine):
    task, job, _, agents = discovery_task(engine, agents=1)
    set_job_settings(engine, job, {"retry_count": 2, "retry_delay": 10})
    prepare_runs(engine, T0)
    (first,) = [r["id"] for r in run_rows(engine)]
    end_runs(engine, [first], minutes(1), State.IN_ERROR)
    report = prepare_runs(engine, minutes(10))  # 9 minutes after the failure: wait
    assert report.prepared == report.tasks[task].retried == 0 and report.tasks[task].execution_ended is None
    report = prepare_runs(engine, minutes(11))
    assert report.tasks[task].retried == 1
    retry = run_rows(engine)[-1]
    assert (retry["attempt"], retry["previous_run"], retry["execution_id"]) == (1, first, 1)
    assert retry["state"] == State.PREPARED
    assert (retry["items_id"], retry["plugin_fusioninventory_agents_id"]) == (run_rows(engine)[0]["items_id"],
                                                                               agents[0])
    with engine.connect() as conn:
        comments = list(conn.execute(select(logs_t.c.state, logs_t.c.comment).where(
            logs_t.c.plugin_fusioninventory_taskjobstates_id == retry["id"]).order_by(logs_t.c.id)))
    assert comments[0] == (int(Log.PREPARED), "")
    assert comments[1][0] == int(Log.INFO) and comments[1][1].startswith(f"Retry #1 of 2 of run {first}")
    assert prepare_runs(engine, minutes(12)).prepared == 0  # the retry is live: nothing doubled
    end_runs(engine, [retry["id"]], minutes(20), State.IN_ERROR)
    assert prepare_runs(engine, minutes(30)).tasks[task].retried == 1
    third = run_rows(engine)[-1]
    assert (third["attempt"], third["previous_run"]) == (2, retry["id"])
    end_runs(engine, [third["id"]], minutes(31), State.IN_ERROR)
    report = prepare_runs(engine, minutes(120))  # two retries done: the failure stays
    assert report.prepared == 0 and report.tasks[task].execution_ended == minutes(31)
    assert len(run_rows(engine)) == 3


def test_balanced_actions_move_failed_slices_instead_of_retrying_them(engine):
    task, job, _, agents = discovery_task(engine, agents=2)
    set_job_settings(engine, job, {"retry_count": 3, "retry_delay": 0, "balance": 1})
    prepare_runs(engine, T0)
    first = run_rows(engine)
    assert len(first) == 2 and all(r["specificity"] for r in first)
    end_runs(engine, [r["id"] for r in first], minutes(1), State.IN_ERROR)
    report = prepare_runs(engine, minutes(2))
    assert report.tasks[task].retried == 0  # the balancing code's business: each slice moves
    moved = run_rows(engine)[2:]
    by_previous = {r["previous_run"]: r for r in moved}
    assert set(by_previous) == {r["id"] for r in first}
    for failed in first:
        again = by_previous[failed["id"]]
        assert again["specificity"] == failed["specificity"] and again["attempt"] == 1
        assert again["plugin_fusioninventory_agents_id"] != failed["plugin_fusioninventory_agents_id"]


def test_no_retry_for_an_agent_that_left(engine):
    task, job, _, agents = discovery_task(engine, agents=2)
    set_job_settings(engine, job, {"retry_count": 3, "retry_delay": 0})
    prepare_runs(engine, T0)
    end_runs(engine, [r["id"] for r in run_rows(engine)], minutes(1), State.IN_ERROR)
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == job).values(
            actors=items_json([(AGENT, agents[0])])))
    report = prepare_runs(engine, minutes(3))
    assert report.tasks[task].retried == 1
    assert run_rows(engine)[-1]["plugin_fusioninventory_agents_id"] == agents[0]


# ---------------------------------------------------------------------------------------------
# Transactions and concurrency


def test_a_failure_rolls_back_the_whole_pass_of_the_task(engine, monkeypatch):
    task, wake, deploy, _, _ = wake_then_deploy(engine, wait=0)
    set_task_settings(engine, task, {"period": "1d"})

    def broken(*args, **kwargs):
        raise RuntimeError("ordering exploded")

    monkeypatch.setattr(preparation, "ordering_hold", broken)
    report = prepare_runs(engine, T0)
    assert report.tasks[task].error == "RuntimeError: ordering exploded"
    assert report.tasks[task].prepared == 0 and report.tasks[task].execution == 0
    assert run_rows(engine) == []  # the wake-up runs of action 1 were rolled back too
    assert execution_of(engine, task).execution_id == 0
    with engine.connect() as conn:
        assert conn.execute(select(bridge_runs)).first() is None


def test_concurrent_preparers_do_not_double_an_execution(engine):
    task, job, _, agents = discovery_task(engine, agents=3)
    set_task_settings(engine, task, {"period": "1h"})
    reports, errors = [], []

    def prepare():
        try:
            reports.append(prepare_runs(engine, T0, lock_timeout=60))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=prepare) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.prepared for r in reports) == 3
    assert execution_of(engine, task).execution_id == 1
    assert {r["execution_id"] for r in run_rows(engine)} == {1}


def test_two_transactions_opening_the_first_execution_start_it_once(engine):
    task, job, _, _ = discovery_task(engine)
    set_task_settings(engine, task, {"period": "1h"})
    with engine.begin() as conn:
        first = executions.open_execution(conn, task, T0)
        second = WaitingTransaction(engine, lambda other: executions.open_execution(other, task, minutes(1)))
        # The second preparer really is held while the first one's transaction is open: on
        # MariaDB at the locking read of the task's row, on SQLite at its BEGIN IMMEDIATE.
        waits_in = second.wait_until_blocked()
        if is_mysql(engine):
            assert "glpi_plugin_fusionbridge_tasks" in waits_in and "FOR UPDATE" in waits_in, waits_in
    opened = second.result()
    assert (first.execution_id, first.started_now) == (1, True)
    assert (opened.execution_id, opened.started_now) == (1, False)  # it saw the first one's execution
    assert tuple(execution_of(engine, task)) == (1, T0)


def test_starting_an_execution_from_a_stale_number_fails(engine):
    task, job, _, _ = discovery_task(engine)
    set_task_settings(engine, task, {"period": "1h"})
    prepare_runs(engine, T0)
    end_runs(engine, [r["id"] for r in run_rows(engine)], minutes(1))
    with engine.begin() as conn:
        execution = executions.open_execution(conn, task, minutes(61))
        conn.execute(update(bridge_tasks).where(bridge_tasks.c.plugin_fusioninventory_tasks_id == task)
                     .values(execution_id=7))  # another preparer got there first
        with pytest.raises(ExecutionConflict):
            executions.close_pass(conn, execution, minutes(61))


# ---------------------------------------------------------------------------------------------
# The scheduler's pass and retention


def test_the_scheduler_pass_runs_the_executions_and_retention_drops_their_bridge_rows(engine):
    task, job, _, agents = discovery_task(engine, agents=1)
    set_task_settings(engine, task, {"period": "10m"})
    clock = {"now": T0}
    scheduler = Scheduler(engine, SchedulerSettings(interval=1, runs_kept=1), clock=lambda: clock["now"])
    for execution in (1, 2, 3):
        report = scheduler.run_pass(retention=False)
        assert report.preparation.tasks[task].execution == execution
        assert report.preparation.tasks[task].execution_started
        end_runs(engine, [r["id"] for r in run_rows(engine) if r["state"] == State.PREPARED], clock["now"])
        clock["now"] += timedelta(minutes=10)
    assert [r["execution_id"] for r in run_rows(engine)] == [1, 2, 3]
    assert apply_retention(engine, keep=1).runs == 2
    with engine.connect() as conn:
        kept = conn.execute(select(bridge_runs.c.plugin_fusioninventory_taskjobstates_id,
                                   bridge_runs.c.execution_id)).all()
    assert [tuple(row) for row in kept] == [(run_rows(engine)[0]["id"], 3)]
