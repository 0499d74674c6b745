"""The scheduler runs push after preparation, does not sleep through a push task's start, and
runs push-only passes when a pushed run's time-out falls due; ``fusion-bridge wakeup --task``.
On SQLite and MariaDB, agents played by loopback listeners."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from sqlalchemy import select, update

import schema
from fusion_bridge.scheduler import Scheduler, SchedulerSettings
from schema.constants import TaskjobLogState as Log, TaskjobState as State
from tests.helpers.agent_emulator import AgentEmulator, Behaviour
from tests.helpers.cli import run
from tests.helpers.inventory_rows import add_agents_with_addresses, add_computer
from tests.helpers.task_rows import add_push_task, add_run, pushes, run_logs, run_state


def wol_job_for(conn, task_id: int, agent_id: int, computer_id: int = 31) -> None:
    """Point the task's Wake-on-LAN job at one computer, run by one agent (prepared for real)."""
    add_computer(conn, f"pc{computer_id}", computer_id=computer_id)
    conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == task_id).values(
        targets=json.dumps([{"Computer": str(computer_id)}]),
        actors=json.dumps([{"PluginFusioninventoryAgent": str(agent_id)}])))


def test_a_pass_prepares_the_push_task_then_wakes_its_agent(engine):
    with AgentEmulator(ports=1) as emulator:
        add_agents_with_addresses(engine, {1: ("127.0.0.1", emulator.ports[0])})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=datetime.now() - timedelta(minutes=1))
            wol_job_for(conn, 1, 1)
        report = Scheduler(engine, SchedulerSettings()).run_pass()
        assert report.preparation.prepared == 1 and report.push.first == 1, report.lines()
        assert emulator.count("/now") == 1
    [run_id] = pushes(engine)
    history = run_logs(engine, run_id)
    assert [state for state, _ in history] == [Log.PREPARED, Log.INFO]
    assert history[1][1].startswith("Agent woken up at http://127.0.0.1:")
    assert any(line.startswith("push: 1 run(s) pushed") for line in report.lines())


def test_the_scheduler_does_not_sleep_through_a_push_start(engine):
    with AgentEmulator(ports=1) as emulator:
        add_agents_with_addresses(engine, {1: ("127.0.0.1", emulator.ports[0])})
        start = datetime.now().replace(microsecond=0) + timedelta(seconds=2)
        with engine.begin() as conn:
            add_push_task(conn, 1, start=start)
            wol_job_for(conn, 1, 1)
        scheduler = Scheduler(engine, SchedulerSettings(interval=60, push_check=0.5))
        first = scheduler.run_pass()
        assert first.preparation.prepared == 0 and first.push.first == 0
        scheduler.wait_for_next_pass(60)
        returned = datetime.now()
        assert start <= returned < start + timedelta(seconds=1.5), (start, returned)
        second = scheduler.run_pass()
        assert second.preparation.prepared == 1 and second.push.first == 1 and emulator.count("/now") == 1
        woken = datetime.now()
    assert woken - start < timedelta(seconds=3)


def test_timeouts_fall_due_between_full_passes(engine):
    """A busy agent is probed again after push_timeout (1 s here) and the run fails after the
    retries, while the scheduler's full pass comes only every minute."""
    with AgentEmulator(ports=1, behaviour=Behaviour(status="running task Inventory")) as emulator:
        add_agents_with_addresses(engine, {1: ("127.0.0.1", emulator.ports[0])})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=datetime.now() - timedelta(minutes=1), timeout=1, retries=1)
            wol_job_for(conn, 1, 1)
            add_run(conn, 11, 1, 1, "Computer", 31)  # already prepared: the pass keeps it
        scheduler = Scheduler(engine, SchedulerSettings(interval=60, push_check=0.2))
        scheduler.start()
        try:
            deadline = time.monotonic() + 15
            while run_state(engine, 11) == State.PREPARED and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            scheduler.stop()
        assert emulator.count("/status") == 2 and emulator.count("/now") == 0
    history = run_logs(engine, 11)
    assert run_state(engine, 11) == State.IN_ERROR, history
    assert [state for state, _ in history] == [Log.INFO, Log.INFO, Log.ERROR]
    assert history[-1][1].startswith("Push failed: the agent did not take the run within 1 s of each of its "
                                     "2 wake-up(s) (last: busy: Agent busy: status running task Inventory")


def test_cli_pushes_a_task_now(engine, database_url):
    with AgentEmulator(ports=1) as emulator:
        add_agents_with_addresses(engine, {1: ("127.0.0.1", emulator.ports[0])})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=datetime.now() - timedelta(minutes=1))
            wol_job_for(conn, 1, 1)
        out = run(database_url, "wakeup", "--task", "1").output
        assert out.splitlines()[0] == "task 1: 1 run prepared now"
        assert out.splitlines()[1].startswith("push: 1 run(s) pushed, 0 pushed again, 0 failed")
        assert "1 woken" in out.splitlines()[1]
        data = json.loads(run(database_url, "wakeup", "--task", "1", "--json").output)
        assert (data["prepared"], data["runs"], data["counts"]["woken"]) == (0, 1, 1)
        assert emulator.count("/now") == 2
    assert [count for count, _at in pushes(engine).values()] == [2]
    assert "no task 9" in run(database_url, "wakeup", "--task", "9", expect=1).output
    assert "cannot be combined" in run(database_url, "wakeup", "--task", "1", "--agent", "1", expect=2).output
    with engine.connect() as conn:
        assert conn.execute(select(schema.bridge_wakeups.c.outcome)).scalars().all() == ["woken", "woken"]


def test_the_next_periodic_execution_of_a_push_task_is_a_start_to_wait_for(engine):
    from fusion_bridge.services.push.push_pass import next_push_start
    from fusion_bridge.services.admin.task_settings import set_task_settings

    start = datetime(2026, 11, 25, 12, 0, 0)
    with engine.begin() as conn:
        add_push_task(conn, 1, start=start - timedelta(days=3))
        add_push_task(conn, 2, start=start - timedelta(days=3), communication="pull")
    set_task_settings(engine, 1, {"period": "1d"})
    set_task_settings(engine, 2, {"period": "2h"})
    with engine.begin() as conn:
        conn.execute(update(schema.bridge_tasks).values(execution_id=4, execution_start=start))
    with engine.connect() as conn:
        # The pull task's next execution (at 14:00) is not a push start; the push task's is.
        assert next_push_start(conn, start) == start + timedelta(days=1)
        assert next_push_start(conn, start + timedelta(days=1)) is None
    with engine.begin() as conn:
        conn.execute(update(schema.tasks).where(schema.tasks.c.id == 1).values(is_active=0))
    with engine.connect() as conn:
        assert next_push_start(conn, start) is None


def test_a_push_only_pass_that_gives_up_ends_the_wait_for_a_full_pass(engine):
    """The runs a push-only pass gives up on are re-prepared at once (a balanced action moves
    their slices), not at the next regular pass."""
    with AgentEmulator(ports=1) as emulator:  # answers, but the agent never calls in
        add_agents_with_addresses(engine, {1: ("127.0.0.1", emulator.ports[0])})
        with engine.begin() as conn:
            add_push_task(conn, 1, start=datetime.now() - timedelta(minutes=1), timeout=1, retries=0)
            wol_job_for(conn, 1, 1)
        scheduler = Scheduler(engine, SchedulerSettings(interval=60, push_check=0.2))
        first = scheduler.run_pass()
        assert first.push.first == 1 and first.moved is None
        waited = time.monotonic()
        scheduler.wait_for_next_pass(10)
        assert time.monotonic() - waited < 5
    [run_id] = pushes(engine)
    assert run_state(engine, run_id) == State.IN_ERROR
