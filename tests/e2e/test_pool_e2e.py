"""A balanced discovery end to end: the real agent 2.6 and two protocol-level Python agents
(tests/helpers/protocol_agent.py) share one IP range through ``fusion-bridge serve``.

All of them run in one private network namespace with only ``lo`` (tests/helpers/netns.py): the
range 127.0.0.1-127.0.0.9 is loopback. The job lists the three agents with balancing on, so
preparation cuts the range into three slices of three addresses. One Python agent completes
its slice (START, NBIP, END twice, as the recorded agent does); the other takes its slice and
dies without a word; the real agent scans its slice. The silent slice is failed by the
server-side time-out, the next preparation gives it to another agent (the real one, the least
loaded that has not tried it), which completes it. Checked: what each agent received, the
slices of the finished runs covering every address exactly once, the discovery counters, and
the retry's lineage (attempt 1, previous run = the failed one).
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import schema
from fusion_bridge.services.scheduling.preparation import prepare_runs
from fusion_bridge.services.scheduling.cleanup import time_out_silent_runs
from fusion_bridge.services.admin.task_settings import set_job_settings
from schema.constants import ItemType, TaskjobState as State
from tests.helpers.bridge_server import NETNS_URL, checkout_env
from tests.helpers.e2e_tasks import NETWORK_AGENT, PUBLIC_V2C, check_agent, context, run_real_agent
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_iprange, add_job, add_task

pytestmark = pytest.mark.e2e

PY_AGENTS = {8: "pyagent8-2025-06-01-12-00-00", 9: "pyagent9-2025-06-01-12-00-00"}
FIRST, LAST = "127.0.0.1", "127.0.0.9"
AGENT_ID = NETWORK_AGENT.agent_id
runs_t, bridge_t = schema.taskjobstates, schema.bridge_runs


def python_agent(netns, agent_id: int, mode: str) -> list[dict]:
    command = [sys.executable, "-m", "tests.helpers.protocol_agent", NETNS_URL, PY_AGENTS[agent_id], mode]
    done = netns.run(command, timeout=60, env=checkout_env())
    assert done.returncode == 0, f"protocol agent {agent_id} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def job_runs(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(runs_t.c.id, runs_t.c.state, runs_t.c.plugin_fusioninventory_agents_id.label("agent"),
                   runs_t.c.specificity, bridge_t.c.attempt, bridge_t.c.previous_run, bridge_t.c.slice_first,
                   bridge_t.c.slice_count)
            .select_from(runs_t.join(bridge_t, bridge_t.c.plugin_fusioninventory_taskjobstates_id == runs_t.c.id))
            .where(runs_t.c.plugin_fusioninventory_taskjobs_id == 1).order_by(runs_t.c.id)).all()


def addresses(start: str, end: str) -> list[int]:
    return list(range(int(ipaddress.IPv4Address(start)), int(ipaddress.IPv4Address(end)) + 1))


def prepared(engine, when: datetime) -> int:
    report = prepare_runs(engine, when)
    assert not report.errors and not any(t.error for t in report.tasks.values()), report.lines()
    return report.prepared


def test_a_pool_shares_a_range_and_a_dead_agents_slice_is_redone(agent_tasks, engine, netns, bridge, tmp_path):
    NETWORK_AGENT.add_row(engine)
    with engine.begin() as conn:
        for agent_id, deviceid in PY_AGENTS.items():
            add_agent(conn, agent_id, deviceid)
        add_iprange(conn, FIRST, LAST, range_id=1, credentials=((PUBLIC_V2C, 1),))
        add_task(conn, 1)
        add_job(conn, 1, [(ItemType.IP_RANGE, 1)], [(ItemType.AGENT, a) for a in (AGENT_ID, *PY_AGENTS)],
                "networkdiscovery", job_id=1)
    set_job_settings(engine, 1, {"balance": 1, "slice_retries": 2})
    assert prepared(engine, datetime.now()) == 3
    first = {row.agent: row for row in job_runs(engine)}
    assert {a: r.specificity for a, r in first.items()} == {AGENT_ID: "0-3", 8: "3-3", 9: "6-3"}

    # Agent 9 takes its slice and dies; agent 8 completes its own.
    assert python_agent(netns, 9, "silent") == [{"pid": first[9].id, "ranges": [["127.0.0.7", "127.0.0.9"]]}]
    assert python_agent(netns, 8, "complete") == [{"pid": first[8].id, "ranges": [["127.0.0.4", "127.0.0.6"]]}]
    run = run_real_agent(NETWORK_AGENT, bridge, "netdiscovery", tmp_path / "real-1", netns)
    check_agent(run, bridge, "NetDiscovery", engine=engine, run_id=first[AGENT_ID].id)
    assert re.search(r'<RANGEIP ID="1" IPSTART="127\.0\.0\.1" IPEND="127\.0\.0\.3"', run.log), context(run, bridge)

    # The server-side time-out fails the silent slice; the next pass hands it to another agent.
    failed = time_out_silent_runs(engine, datetime.now() + timedelta(minutes=10), timeout=timedelta(minutes=5))
    assert failed == [first[9].id], job_runs(engine)
    assert prepared(engine, datetime.now()) == 1
    retry = job_runs(engine)[-1]
    assert (retry.agent, retry.specificity, retry.attempt, retry.previous_run) == (AGENT_ID, "6-3", 1, first[9].id)
    rerun = run_real_agent(NETWORK_AGENT, bridge, "netdiscovery", tmp_path / "real-2", netns)
    check_agent(rerun, bridge, "NetDiscovery", engine=engine, run_id=retry.id)
    ctx = context(rerun, bridge, engine, retry.id)
    assert re.search(r'<RANGEIP ID="1" IPSTART="127\.0\.0\.7" IPEND="127\.0\.0\.9"', rerun.log), ctx

    # Every address of the range is covered exactly once by the finished slices.
    rows = job_runs(engine)
    assert [r.state for r in rows] == [State.FINISHED, State.FINISHED, State.IN_ERROR, State.FINISHED], rows
    base = int(ipaddress.IPv4Address(FIRST))
    covered = sorted(base + offset for r in rows if r.state == State.FINISHED
                     for offset in range(r.slice_first, r.slice_first + r.slice_count))
    assert covered == addresses(FIRST, LAST), rows
    with engine.connect() as conn:
        counters = {row.plugin_fusioninventory_taskjob_id: row.nb_ip for row in conn.execute(
            select(schema.statediscoveries))}
    assert {r.id: counters.get(r.id) for r in rows if r.state == State.FINISHED} == {
        r.id: 3 for r in rows if r.state == State.FINISHED}, counters
    assert prepared(engine, datetime.now()) == 0  # nothing left to split or redo
