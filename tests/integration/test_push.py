"""Push mode (services/push.py): the agents of a push task's Prepared runs are woken at its
start, again after ``push_timeout``, and the run fails after ``push_retries`` re-wakes; GLPI's
wake-up counter of pull tasks; on SQLite and MariaDB, with agents played by loopback listeners
(tests/helpers/agent_emulator.py)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

import schema
from fusion_bridge.adapters.db import make_engine
from fusion_bridge.services.push.push_pass import next_push_start, push_pass
from schema.constants import TaskjobLogState as Log, TaskjobState as State
from tests.helpers.agent_emulator import AgentEmulator, Behaviour, closed_port
from tests.helpers.inventory_rows import add_agents_with_addresses
from tests.helpers.task_rows import add_push_task, add_run, pushes, run_logs, run_state, wakeup_history

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

T0 = datetime(2026, 11, 25, 12, 0, 0)
PAST = T0 - timedelta(hours=1)


def test_first_push_wakes_the_agents_of_prepared_runs_of_push_tasks_only(engine):
    with AgentEmulator(ports=2) as emulator:
        waiting, running = emulator.ports
        emulator.behaviours[running] = Behaviour(status="running task NetDiscovery")
        nobody = closed_port()
        add_agents_with_addresses(engine, {1: ("127.0.0.1", waiting), 2: ("127.0.0.1", running),
                                           3: ("127.0.0.1", nobody), 4: ("127.0.0.1", waiting)})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=PAST)
            for run_id, agent in ((11, 1), (12, 1), (13, 2), (14, 3)):
                add_run(conn, run_id, 1, agent, "Computer", run_id)
            add_run(conn, 15, 1, 4, "Computer", 15, state=int(State.SERVER_HAS_SENT_DATA))  # taken already
            add_push_task(conn, 2, start=PAST, communication=None)  # pull: no bridge row
            add_run(conn, 21, 2, 4, "Computer", 21)
            add_push_task(conn, 3, start=PAST, communication="pull")
            add_run(conn, 31, 3, 4, "Computer", 31)
            add_push_task(conn, 4, start=T0 + timedelta(minutes=5))  # not started yet
            add_run(conn, 41, 4, 4, "Computer", 41)
            add_push_task(conn, 5, start=PAST, active=0)
            add_run(conn, 51, 5, 4, "Computer", 51)
            add_push_task(conn, 6, start=PAST, end=T0 - timedelta(minutes=1))  # window over
            add_run(conn, 61, 6, 4, "Computer", 61)
        report = push_pass(engine, T0, status_timeout=0.5)
        assert (report.first, report.again, report.failed, report.busy) == (4, 0, [], False)
        assert report.outcomes == {"woken": 1, "unreachable": 1, "busy": 1, "refused": 0}
        assert emulator.count("/now") == 1  # agent 1, once for its two runs
        assert set(pushes(engine)) == {11, 12, 13, 14}
        assert all(count == 1 and T0 <= at < T0 + timedelta(seconds=3)
                   for count, at in pushes(engine).values())
        assert report.next_due == min(at for _c, at in pushes(engine).values()) + timedelta(seconds=60)
        # Every attempt is in the runs' history (GLPI's UI shows it) and in the wake-up history.
        assert run_logs(engine, 11)[-1] == (Log.INFO, f"Agent woken up at http://127.0.0.1:{waiting}/now")
        assert run_logs(engine, 12)[-1] == run_logs(engine, 11)[-1]
        assert run_logs(engine, 13)[-1][1].startswith("Agent busy: status running task NetDiscovery")
        assert run_logs(engine, 14)[-1][1] == (
            f"Agent unreachable: connection refused at http://127.0.0.1:{nobody}/status")
        assert [(r["plugin_fusioninventory_agents_id"], r["outcome"]) for r in wakeup_history(engine)] == [
            (1, "woken"), (2, "busy"), (3, "unreachable")]
        for run_id in (15, 21, 31, 41, 51, 61):
            assert [state for state, _ in run_logs(engine, run_id)] == [], run_id
        with engine.connect() as conn:
            table = schema.bridge_tasks
            last_push = conn.execute(select(table.c.last_push)
                                     .where(table.c.plugin_fusioninventory_tasks_id == 1)).scalar()
            assert next_push_start(conn, T0) == T0 + timedelta(minutes=5)
            assert next_push_start(conn, T0 + timedelta(minutes=5)) is None
        assert last_push == 0
        # Within the time-out nothing more happens.
        again = push_pass(engine, T0 + timedelta(seconds=30))
        assert (again.first, again.again, again.agents) == (0, 0, 0)
        assert emulator.count("/status") == 2


def test_silent_runs_are_woken_again_then_fail_with_the_reason(engine):
    with AgentEmulator(ports=1) as emulator:
        add_agents_with_addresses(engine, {1: ("127.0.0.1", closed_port()),
                                           2: ("127.0.0.1", emulator.ports[0])})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=PAST, timeout=60, retries=2)
            add_run(conn, 11, 1, 1, "Computer", 1)
            add_run(conn, 12, 1, 2, "Computer", 2)
        assert push_pass(engine, T0).first == 2
        assert push_pass(engine, T0 + timedelta(seconds=50)).again == 0
        # Agent 2 calls in and takes its run: it is not woken again, nor failed.
        with engine.begin() as conn:
            conn.execute(update(schema.taskjobstates).where(schema.taskjobstates.c.id == 12)
                         .values(state=int(State.SERVER_HAS_SENT_DATA)))
        second = push_pass(engine, T0 + timedelta(seconds=65))
        assert (second.first, second.again, second.failed) == (0, 1, [])
        assert pushes(engine)[11][0] == 2
        third = push_pass(engine, T0 + timedelta(seconds=130))
        assert (third.again, third.failed) == (1, [])
        assert push_pass(engine, T0 + timedelta(seconds=160)).failed == []  # not yet: 60 s after the 3rd
        last = push_pass(engine, T0 + timedelta(seconds=195))
        assert (last.again, last.failed, last.agents) == (0, [11], 0)
    assert run_state(engine, 11) == State.IN_ERROR and run_state(engine, 12) == State.SERVER_HAS_SENT_DATA
    history = run_logs(engine, 11)
    assert [state for state, _ in history] == [Log.INFO, Log.INFO, Log.INFO, Log.ERROR]
    assert history[-1][1].startswith("Push failed: the agent did not take the run within 60 s of each of its "
                                     "3 wake-up(s) (last: unreachable: Agent unreachable: connection refused")
    assert pushes(engine)[11][0] == 3
    assert push_pass(engine, T0 + timedelta(hours=1)).failed == []


def test_two_concurrent_passes_never_push_a_run_twice(engine, database_url):
    agents = 60
    with AgentEmulator(ports=4, behaviour=Behaviour(delay=0.05)) as emulator:
        add_agents_with_addresses(engine, {i: ("127.0.0.1", emulator.ports[i % 4])
                                           for i in range(1, agents + 1)})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=PAST)
            for i in range(1, agents + 1):
                add_run(conn, 100 + i, 1, i, "Computer", i)
        engines = [make_engine(database_url) for _ in range(2)]
        start = threading.Barrier(2)
        reports = [None, None]

        def one(index: int) -> None:
            start.wait()
            reports[index] = push_pass(engines[index], T0, concurrency=8, lock_timeout=5)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for each in engines:
            each.dispose()
        assert emulator.count("/now") == agents, "an agent was woken twice"
    assert sorted(report.first for report in reports) == [0, agents]
    assert {count for count, _at in pushes(engine).values()} == {1}
    assert len(wakeup_history(engine)) == agents


def test_two_thousand_pushed_agents_within_the_concurrency_bound(engine):
    bound, count = 25, 2000
    with AgentEmulator(ports=20, behaviour=Behaviour(delay=0.005)) as emulator:
        add_agents_with_addresses(engine, {i: ("127.0.0.1", emulator.ports[i % 20])
                                           for i in range(1, count + 1)})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=PAST)
            conn.execute(insert(schema.taskjobstates), [{
                "id": i, "plugin_fusioninventory_taskjobs_id": 1, "items_id": i, "itemtype": "Computer",
                "state": 0, "plugin_fusioninventory_agents_id": i, "uniqid": f"u{i}"}
                for i in range(1, count + 1)])
        report = push_pass(engine, T0, concurrency=bound)
        assert emulator.count("/status") == count and emulator.count("/now") == count
    assert report.first == count and report.outcomes["woken"] == count
    assert 1 < emulator.max_open <= bound and report.max_in_flight <= bound
    assert len(pushes(engine)) == count and {c for c, _ in pushes(engine).values()} == {1}


def test_push_waves_follow_the_wakeup_counter(engine):
    with AgentEmulator(ports=1) as emulator:
        add_agents_with_addresses(engine, {i: ("127.0.0.1", emulator.ports[0]) for i in range(1, 6)})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=PAST, counter=2, minutes=10)
            for i in range(1, 6):
                add_run(conn, 10 + i, 1, i, "Computer", i)
        first = push_pass(engine, T0)
        assert first.first == 2 and set(pushes(engine)) == {11, 12}
        assert first.next_due == T0 + timedelta(minutes=1)  # the re-wake of the first wave comes first
        assert push_pass(engine, T0 + timedelta(minutes=5), ).first == 0
        assert push_pass(engine, T0 + timedelta(minutes=10)).first == 2
        assert set(pushes(engine)) == {11, 12, 13, 14}
        with engine.connect() as conn:
            last = conn.execute(select(schema.tasks.c.last_agent_wakeup)).scalar()
        assert last == T0 + timedelta(minutes=10)


def test_pull_tasks_wake_their_counter_of_waiting_agents(engine):
    with AgentEmulator(ports=1) as emulator:
        nobody = closed_port()
        add_agents_with_addresses(engine, {1: ("127.0.0.1", nobody), **{i: ("127.0.0.1", emulator.ports[0])
                                                                         for i in range(2, 7)}})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=PAST, communication=None, counter=2, minutes=5)
            for i in range(1, 7):
                add_run(conn, 10 + i, 1, i, "Computer", i)
            add_push_task(conn, 2, start=PAST, communication=None, counter=0, minutes=5)  # counter 0: never
            add_run(conn, 21, 2, 2, "Computer", 1)
        report = push_pass(engine, T0)
        # Agent 1 does not answer and does not count: agents 2 and 3 are woken.
        assert report.waves == {1: 2} and report.first == 0
        assert [(r["plugin_fusioninventory_agents_id"], r["outcome"]) for r in wakeup_history(engine)] == [
            (1, "unreachable"), (2, "woken"), (3, "woken")]
        assert run_logs(engine, 12)[-1][0] == Log.INFO and run_logs(engine, 21) == []
        assert push_pass(engine, T0 + timedelta(minutes=4)).waves == {}
        with engine.begin() as conn:  # the plugin's wakeup_agent_max caps the counter
            conn.execute(update(schema.configs).where(schema.configs.c.type == "wakeup_agent_max")
                         .values(value="1"))
        assert push_pass(engine, T0 + timedelta(minutes=5)).waves == {1: 1}
        with engine.connect() as conn:
            assert conn.execute(select(schema.tasks.c.last_agent_wakeup).where(schema.tasks.c.id == 1)
                                ).scalar() == T0 + timedelta(minutes=5)
        assert pushes(engine) == {}  # pull runs are not pushed


def test_force_pushes_every_prepared_run_of_one_task(engine):
    with AgentEmulator(ports=1) as emulator:
        add_agents_with_addresses(engine, {1: ("127.0.0.1", emulator.ports[0]),
                                           2: ("127.0.0.1", emulator.ports[0])})
        with engine.begin() as conn:
            add_push_task(conn, 1, communication=None, start=T0 + timedelta(days=1))  # pull, not started
            add_run(conn, 11, 1, 1, "Computer", 1)
            add_push_task(conn, 2, start=PAST)
            add_run(conn, 21, 2, 2, "Computer", 1)
        report = push_pass(engine, T0, task_id=1, force=True)
        assert (report.first, report.outcomes["woken"]) == (1, 1)
        assert set(pushes(engine)) == {11}
        assert push_pass(engine, T0, task_id=1, force=True).first == 1
        assert pushes(engine)[11][0] == 2


def test_a_run_postponed_to_later_is_not_pushed_before_its_start(engine):
    with AgentEmulator(ports=1) as emulator:
        add_agents_with_addresses(engine, {1: ("127.0.0.1", emulator.ports[0])})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=PAST, timeout=60, retries=1)
            add_run(conn, 11, 1, 1, "Computer", 1)
            # A deploy the user postponed: back to Prepared, offered again two hours later.
            conn.execute(update(schema.taskjobstates).where(schema.taskjobstates.c.id == 11)
                         .values(date_start=T0 + timedelta(hours=2)))
        for minutes in (0, 2, 5, 60):
            report = push_pass(engine, T0 + timedelta(minutes=minutes))
            assert (report.first, report.again, report.failed) == (0, 0, [])
        assert run_state(engine, 11) == State.PREPARED
        assert push_pass(engine, T0 + timedelta(hours=2)).first == 1
