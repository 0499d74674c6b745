"""Balanced actions inside task executions: ordering holds whole targets, and units the balancing
leaves waiting keep the execution open (no next periodic execution over an uncovered slice).
On SQLite and MariaDB, through the normal preparation pass."""

from __future__ import annotations

import pytest

import schema
from fusion_bridge.services.scheduling.preparation import prepare_runs
from fusion_bridge.services.admin.task_settings import set_job_settings, set_task_settings
from schema.constants import Method, TaskjobState as State
from tests.helpers.executions import (AGENT, COMPUTER, RANGE, T0, discovery_task, end_runs, execution_of,
                                      minutes, run_rows)
from tests.helpers.inventory_rows import add_agent, add_computer, add_computer_address
from tests.helpers.task_rows import add_iprange, add_job, add_task

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours


def wake_then_discover(engine, *, computer_ip="10.0.0.20", agents=2, wait=0):
    """Action 1 wakes a computer (one agent sends the packet), action 2 discovers 10.0.0.1-254
    balanced over ``agents`` agents, ordered after action 1."""
    with engine.begin() as conn:
        computer = add_computer(conn)
        add_computer_address(conn, computer, computer_ip)
        rng = add_iprange(conn, "10.0.0.1", "10.0.0.254")
        pool = [add_agent(conn) for _ in range(agents)]
        task = add_task(conn)
        wake = add_job(conn, task, [(COMPUTER, computer)], [(AGENT, pool[0])], Method.WAKEONLAN)
        discover = add_job(conn, task, [(RANGE, rng)], [(AGENT, a) for a in pool])
    set_job_settings(engine, discover, {"balance": 1, "wait_previous": wait})
    return task, wake, discover


def test_a_balanced_action_waits_for_the_previous_one_on_its_range(engine):
    task, wake, discover = wake_then_discover(engine, wait=5)
    report = prepare_runs(engine, T0)
    assert len(run_rows(engine, wake)) == 1 and run_rows(engine, discover) == []
    assert report.tasks[task].held == 1 and report.tasks[task].execution_ended is None
    end_runs(engine, [run_rows(engine, wake)[0]["id"]], minutes(1))
    report = prepare_runs(engine, minutes(3))  # woken 2 minutes ago, the wait is 5
    assert run_rows(engine, discover) == [] and report.tasks[task].execution_ended is None
    prepare_runs(engine, minutes(6))
    slices = run_rows(engine, discover)
    assert len(slices) == 2 and {r["execution_id"] for r in slices} == {1}
    assert sorted(r["specificity"] for r in slices) == ["0-127", "127-127"]


def test_a_range_without_the_woken_computers_is_not_held(engine):
    task, wake, discover = wake_then_discover(engine, computer_ip="192.168.1.20")
    report = prepare_runs(engine, T0)
    assert len(run_rows(engine, discover)) == 2 and report.tasks[task].held == 0


def test_a_slice_waiting_for_another_agent_keeps_a_periodic_execution_open(engine):
    task, job, _, (agent,) = discovery_task(engine, agents=1)
    set_job_settings(engine, job, {"balance": 1, "slice_retries": 2})
    set_task_settings(engine, task, {"period": "1h"})
    prepare_runs(engine, T0)
    [first] = run_rows(engine)
    end_runs(engine, [first["id"]], minutes(1), State.IN_ERROR)
    # The only agent of the pool failed the slice: it waits for another agent, the execution
    # is not over and the period's end does not start the next one.
    report = prepare_runs(engine, minutes(61))
    assert report.prepared == 0 and report.tasks[task].execution_ended is None
    assert tuple(execution_of(engine, task))[0] == 1
    with engine.begin() as conn:
        second = add_agent(conn)
        conn.execute(schema.taskjobs.update().where(schema.taskjobs.c.id == job)
                     .values(actors=f'[{{"PluginFusioninventoryAgent":"{agent}"}},'
                                    f'{{"PluginFusioninventoryAgent":"{second}"}}]'))
    report = prepare_runs(engine, minutes(62))
    moved = run_rows(engine)[1:]
    assert [(r["plugin_fusioninventory_agents_id"], r["previous_run"], r["execution_id"]) for r in moved] == \
        [(second, first["id"], 1)]
    end_runs(engine, [moved[0]["id"]], minutes(63))
    report = prepare_runs(engine, minutes(64))
    assert report.tasks[task].execution == 2 and report.tasks[task].execution_started


def test_an_empty_pool_keeps_the_execution_open(engine):
    task, job, _, agents = discovery_task(engine, agents=1)
    set_job_settings(engine, job, {"balance": 1, "pool": "module", "pool_max_agents": 1})
    set_task_settings(engine, task, {"period": "1h"})
    with engine.begin() as conn:  # nobody listed, module pool off for everyone
        conn.execute(schema.taskjobs.update().where(schema.taskjobs.c.id == job).values(actors="[]"))
        conn.execute(schema.agentmodules.delete().where(schema.agentmodules.c.modulename == "NETWORKDISCOVERY"))
        conn.execute(schema.agentmodules.insert().values(modulename="NETWORKDISCOVERY", is_active=0,
                                                         exceptions="[]"))
    report = prepare_runs(engine, T0)
    assert report.prepared == 0 and report.tasks[task].execution_ended is None


def test_an_unbalanced_discovery_also_waits_for_the_computers_of_its_range(engine):
    task, wake, discover = wake_then_discover(engine)
    set_job_settings(engine, discover, {"balance": 0})
    prepare_runs(engine, T0)
    assert run_rows(engine, discover) == []
    end_runs(engine, [run_rows(engine, wake)[0]["id"]], minutes(1))
    prepare_runs(engine, minutes(2))
    assert len(run_rows(engine, discover)) == 2  # every agent the whole range, as in 9.5
