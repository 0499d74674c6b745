"""Every task feature of the bridge at once: a push task repeated every day; action 1 wakes
computers, balanced over a module pool; action 2 discovers their range, balanced over the same
pool, ordered after action 1. Driven through the scheduler's pass with explicit clock values;
agents are loopback listeners (wake-ups) that take their runs through the app's agent endpoint
(PROLOG, NETDISCOVERY). One agent stays silent: the push gives up on its slice, which moves to
another agent in the same pass. On SQLite and MariaDB."""

from __future__ import annotations

import ipaddress
import time
import zlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import schema
from fusion_bridge.scheduler import Scheduler, SchedulerSettings
from fusion_bridge.services.views import operator_view
from fusion_bridge.services.admin.base import state_word
from fusion_bridge.services.admin.task_settings import set_job_settings, set_task_settings
from schema.constants import ItemType, Method, Module, TaskjobLogState as Log, TaskjobState as State
from tests.helpers.agent_emulator import AgentEmulator
from tests.helpers.agent_requests import (ZLIB_HEADERS, discovery_jobs, message_xml, netdiscovery_report,
                                          prolog)
from tests.helpers.inventory_rows import add_agents_with_addresses, add_computer, add_port
from tests.helpers.task_rows import add_iprange, add_job, add_task, run_logs, set_module

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

RANGE_START, RANGE_END = "10.5.0.1", "10.5.0.254"
TASK, WAKE, DISCOVER, RANGE = 1, 1, 2, 7
AGENTS = (1, 2, 3)
COMPUTERS = (31, 32, 33)
ENDPOINT = "/plugins/fusioninventory/"


def seed_task(engine, ports) -> None:
    add_agents_with_addresses(engine, {agent: ("127.0.0.1", port) for agent, port in zip(AGENTS, ports)})
    with engine.begin() as conn:
        for index, computer in enumerate(COMPUTERS):
            add_computer(conn, f"pc{computer}", computer_id=computer)
            add_port(conn, ItemType.COMPUTER, computer, mac=f"00:11:22:33:44:{index:02x}",
                     ip=f"10.5.0.{20 + index}", port_id=computer)
        add_iprange(conn, RANGE_START, RANGE_END, range_id=RANGE)
        add_task(conn, TASK)
        add_job(conn, TASK, "[" + ",".join(f'{{"Computer":"{c}"}}' for c in COMPUTERS) + "]", "[]",
                Method.WAKEONLAN, job_id=WAKE)
        add_job(conn, TASK, f'[{{"PluginFusioninventoryIPRange":"{RANGE}"}}]', "[]", Method.NETWORK_DISCOVERY,
                job_id=DISCOVER)
    set_module(engine, Module.WAKEONLAN, True)
    set_module(engine, Module.NETWORK_DISCOVERY, True)
    set_task_settings(engine, TASK, {"communication": "push", "period": "1d", "push_timeout": 60,
                                     "push_retries": 0})
    set_job_settings(engine, WAKE, {"pool": "module", "balance": 1})
    set_job_settings(engine, DISCOVER, {"pool": "module", "balance": 1, "slice_retries": 2, "wait_previous": 0})


def device(agent: int) -> str:
    return f"a{agent}-2026-11-25-10-00-00"


def post(client, body: bytes) -> str:
    answer = client.post(ENDPOINT, headers=ZLIB_HEADERS, data=body)
    assert answer.status_code == 200, answer.data
    return zlib.decompress(answer.data).decode() if answer.data else ""


def take_runs(client, agent: int) -> list[tuple[int, str, str]]:
    """PROLOG; the (pid, IPSTART, IPEND) of each discovery the server hands out (Wake-on-LAN
    runs end with the PROLOG itself)."""
    reply = post(client, prolog(device(agent)))
    return [(job["pid"], start, end) for job in discovery_jobs(reply) for start, end in job["ranges"]]


def discover(client, agent: int, pid: int, start: str, end: str) -> None:
    """The agent's NETDISCOVERY messages for one slice: START, NBIP, END (twice, as 2.x)."""
    for content in netdiscovery_report(pid, [(start, end)]):
        post(client, zlib.compress(message_xml(device(agent), "NETDISCOVERY", content)))


def addresses(start: str, end: str) -> list[int]:
    return list(range(int(ipaddress.IPv4Address(start)), int(ipaddress.IPv4Address(end)) + 1))


def runs_of(engine, job: int) -> list:
    runs, bridge = schema.taskjobstates, schema.bridge_runs
    with engine.connect() as conn:
        return conn.execute(
            select(runs.c.id, runs.c.state, runs.c.items_id, runs.c.plugin_fusioninventory_agents_id.label("agent"),
                   bridge.c.execution_id, bridge.c.attempt, bridge.c.previous_run, bridge.c.slice_first,
                   bridge.c.slice_count, bridge.c.pushes)
            .select_from(runs.join(bridge, bridge.c.plugin_fusioninventory_taskjobstates_id == runs.c.id))
            .where(runs.c.plugin_fusioninventory_taskjobs_id == job).order_by(runs.c.id)).all()


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def one_execution(engine, client, scheduler, clock, start: datetime, silent: bool) -> list[int]:
    """Wake, then discover; with ``silent`` the agent of the last slice never calls in. Returns
    the addresses the agents scanned in this execution."""
    clock.now = start
    first = scheduler.run_pass()
    assert first.preparation.tasks[TASK].execution_started, first.lines()
    assert first.push.first == 3 and first.push.outcomes["woken"] == 3, first.lines()
    # Action 2 waits: the computers of its range are being woken.
    assert first.preparation.tasks[TASK].held == 1 and first.preparation.prepared == 3
    for agent in AGENTS:
        assert take_runs(client, agent) == []  # a Wake-on-LAN run ends at the PROLOG
    clock.now = start + timedelta(minutes=1)
    second = scheduler.run_pass()
    assert second.preparation.prepared == 3 and second.push.first == 3, second.lines()
    execution = second.preparation.tasks[TASK].execution
    slices = [r for r in runs_of(engine, DISCOVER) if r.execution_id == execution]
    quiet = slices[-1].agent if silent else None
    scanned: list[int] = []
    for agent in AGENTS:
        if agent != quiet:
            [(pid, low, high)] = take_runs(client, agent)
            discover(client, agent, pid, low, high)
            scanned += addresses(low, high)
    if silent:
        # 60 s after its wake-up the push gives up on the silent agent's slice; the same pass
        # prepares it on another agent of the pool and wakes that agent.
        clock.now = start + timedelta(minutes=3)
        third = scheduler.run_pass()
        assert third.push.failed == [slices[-1].id], third.lines()
        assert third.moved.prepared == 1 and third.moved_push.first == 1, third.lines()
        [moved] = [r for r in runs_of(engine, DISCOVER) if r.previous_run == slices[-1].id]
        assert moved.agent != quiet and moved.attempt == 1
        assert (moved.slice_first, moved.slice_count) == (slices[-1].slice_first, slices[-1].slice_count)
        [(pid, low, high)] = take_runs(client, moved.agent)
        assert pid == moved.id
        discover(client, moved.agent, pid, low, high)
        scanned += addresses(low, high)
    clock.now = start + timedelta(minutes=5)
    over = scheduler.run_pass()
    assert over.preparation.tasks[TASK].execution_ended is not None, over.lines()
    assert over.preparation.prepared == 0 and over.push.first == 0
    return scanned


def test_periodic_push_task_wakes_then_discovers_balanced_over_a_pool(engine, client):
    start = datetime.now().replace(microsecond=0)
    clock = Clock(start)
    with AgentEmulator(ports=len(AGENTS)) as emulator:
        seed_task(engine, emulator.ports)
        scheduler = Scheduler(engine, SchedulerSettings(push_check=0.2), clock=clock)
        first = one_execution(engine, client, scheduler, clock, start, silent=True)
        # Over, but the day has not passed: nothing starts, nothing is pushed.
        clock.now = start + timedelta(hours=23)
        idle = scheduler.run_pass()
        assert idle.preparation.prepared == 0 and idle.push.first == 0
        # The scheduler does not sleep through the next execution's start.
        clock.now = start + timedelta(days=1)
        waited = time.monotonic()
        scheduler.wait_for_next_pass(5)
        assert time.monotonic() - waited < 1.5
        second = one_execution(engine, client, scheduler, clock, start + timedelta(days=1), silent=False)
        woken = emulator.count("/now")
    whole = addresses(RANGE_START, RANGE_END)
    for scanned in (first, second):
        assert sorted(scanned) == whole  # every address exactly once per execution
    assert woken == 3 + 3 + 1 + 3 + 3

    wakes, slices = runs_of(engine, WAKE), runs_of(engine, DISCOVER)
    assert [r.execution_id for r in wakes] == [1, 1, 1, 2, 2, 2]
    assert all(r.state == State.FINISHED and r.pushes == 1 for r in wakes)
    for execution in (1, 2):
        done = [r for r in slices if r.execution_id == execution and r.state == State.FINISHED]
        offsets = sorted(o for r in done for o in range(r.slice_first, r.slice_first + r.slice_count))
        assert offsets == list(range(len(whole)))
        assert sorted(r.items_id for r in wakes if r.execution_id == execution) == list(COMPUTERS)
    [failed] = [r for r in slices if r.state == State.IN_ERROR]
    assert failed.execution_id == 1 and failed.pushes == 1
    history = run_logs(engine, failed.id)
    assert [state for state, _ in history] == [Log.PREPARED, Log.INFO, Log.ERROR]
    assert history[1][1].startswith("Agent woken up at http://127.0.0.1:")
    assert history[2][1].startswith("Push failed: the agent did not take the run within 60 s")
    with engine.connect() as conn:
        recorded = conn.execute(select(schema.bridge_wakeups.c.outcome)).scalars().all()
        pushed = conn.execute(select(schema.bridge_tasks.c.execution_id, schema.bridge_tasks.c.last_push,
                                     schema.bridge_tasks.c.execution_start)).one()
    assert recorded == ["woken"] * woken
    assert tuple(pushed) == (2, 2, start + timedelta(days=1))  # execution 2 began and was pushed on time

    view = operator_view.task_executions(engine, TASK)
    listed = {e["execution"]: e for e in view["executions"]}
    assert sorted(listed) == [1, 2] and view["execution"] == 2
    assert listed[1]["runs"] == 7 and listed[2]["runs"] == 6
    assert listed[1]["states"] == {state_word(State.FINISHED): 6, state_word(State.IN_ERROR): 1}
    for execution in (1, 2):
        assert listed[execution]["addresses"] == {"covered": len(whole), "total": len(whole)}
    shown = operator_view.task_executions(engine, TASK, execution=1)
    by_id = {run["id"]: run for run in shown["runs"]}
    assert by_id[failed.id]["state"] == State.IN_ERROR and by_id[failed.id]["wakeups_total"] == 1
    [moved] = [run for run in shown["runs"] if run["previous_run"] == failed.id]
    assert moved["attempt"] == 1 and moved["slice"] == by_id[failed.id]["slice"]
    assert moved["agent"]["id"] != by_id[failed.id]["agent"]["id"]
