"""Ordered actions of a managed task: an action waits for the previous one on the items they
share, on SQLite and MariaDB."""

from __future__ import annotations

from fusion_bridge.services.scheduling.preparation import prepare_runs
from fusion_bridge.services.admin.task_settings import set_job_settings
from schema.constants import ItemType, Method, TaskjobState as State
from tests.helpers.executions import (AGENT, COMPUTER, PACKAGE, RANGE, T0, agents_of, end_runs, minutes,
                                      run_rows, wake_then_deploy)
from tests.helpers.inventory_rows import add_agent, add_network_device
from tests.helpers.task_rows import add_iprange, add_job, add_package, add_task


def test_action_waits_for_the_previous_one_on_shared_items_only(engine):
    task, wake, deploy, computers, (a1, a2, a3) = wake_then_deploy(engine, wait=5)
    report = prepare_runs(engine, T0)
    assert len(run_rows(engine, wake)) == 2
    assert agents_of(engine, deploy) == [a3]  # computer 3 is not woken: not held
    assert report.tasks[task].held == 2
    by_computer = {r["items_id"]: r["id"] for r in run_rows(engine, wake)}
    end_runs(engine, [by_computer[computers[0]]], minutes(1))
    report = prepare_runs(engine, minutes(5))  # computer 1 woken 4 minutes ago: still waiting
    assert agents_of(engine, deploy) == [a3] and report.tasks[task].execution_ended is None
    prepare_runs(engine, minutes(6))
    assert agents_of(engine, deploy) == [a1, a3]  # computer 2 is still being woken
    end_runs(engine, [by_computer[computers[1]]], minutes(7), State.IN_ERROR)
    prepare_runs(engine, minutes(12))
    assert agents_of(engine, deploy) == [a1, a2, a3]
    assert {r["execution_id"] for r in run_rows(engine)} == {1}


def test_wait_previous_minus_one_does_not_order(engine):
    task, wake, deploy, _, agents = wake_then_deploy(engine, wait=-1)
    prepare_runs(engine, T0)
    assert agents_of(engine, deploy) == sorted(agents)


def test_a_pending_retry_of_the_previous_action_holds_the_next(engine):
    task, wake, deploy, computers, (a1, a2, a3) = wake_then_deploy(engine, wait=0)
    set_job_settings(engine, wake, {"retry_count": 1, "retry_delay": 10})
    prepare_runs(engine, T0)
    end_runs(engine, [r["id"] for r in run_rows(engine, wake)], minutes(1), State.IN_ERROR)
    prepare_runs(engine, minutes(2))
    assert agents_of(engine, deploy) == [a3]  # the wake-ups will be retried at minute 11
    prepare_runs(engine, minutes(11))
    assert len(run_rows(engine, wake)) == 4 and agents_of(engine, deploy) == [a3]
    end_runs(engine, [r["id"] for r in run_rows(engine, wake)[2:]], minutes(12))
    prepare_runs(engine, minutes(13))
    assert agents_of(engine, deploy) == [a1, a2, a3]


def test_ordering_is_transitive_along_the_actions(engine):
    task, wake, deploy, computers, (a1, a2, a3) = wake_then_deploy(engine, wait=0)
    with engine.begin() as conn:
        second_package = add_package(conn, name="pkg2")
        second_deploy = add_job(conn, task, [(PACKAGE, second_package)], [(COMPUTER, computers[0])],
                                Method.DEPLOY)
    prepare_runs(engine, T0)
    # Computer 1 is held for the first deploy (being woken), so the second deploy waits too.
    assert run_rows(engine, second_deploy) == []
    end_runs(engine, [r["id"] for r in run_rows(engine, wake)], minutes(1))
    prepare_runs(engine, minutes(2))
    assert agents_of(engine, deploy) == [a1, a2, a3] and run_rows(engine, second_deploy) == []
    end_runs(engine, [r["id"] for r in run_rows(engine, deploy)], minutes(3))
    prepare_runs(engine, minutes(4))
    assert agents_of(engine, second_deploy) == [a1]


def test_snmp_inventory_waits_for_the_discovery_of_its_range_only(engine):
    NE = ItemType.NETWORK_EQUIPMENT
    with engine.begin() as conn:
        discoverer, inventorier = add_agent(conn), add_agent(conn)
        discovered, other = (add_iprange(conn, f"{net}.1", f"{net}.9", entities_id=-1)
                             for net in ("10.1.0", "10.2.0"))
        inside, outside = add_network_device(conn, NE, "10.1.0.5"), add_network_device(conn, NE, "10.2.0.5")
        task = add_task(conn)
        discovery = add_job(conn, task, [(RANGE, discovered)], [(AGENT, discoverer)],
                            Method.NETWORK_DISCOVERY)
        inventory = add_job(conn, task, [(RANGE, discovered), (RANGE, other)], [(AGENT, inventorier)],
                            Method.NETWORK_INVENTORY)
    set_job_settings(engine, inventory, {"wait_previous": 0})
    prepare_runs(engine, T0)
    # The device of the range being discovered waits; the other range's device does not.
    assert [(r["itemtype"], r["items_id"]) for r in run_rows(engine, inventory)] == [(NE, outside)]
    end_runs(engine, [r["id"] for r in run_rows(engine, discovery)], minutes(1))
    prepare_runs(engine, minutes(2))
    assert sorted(r["items_id"] for r in run_rows(engine, inventory)) == sorted([outside, inside])
