"""Push mode end to end: the real agent daemon is woken by a push task at its start and runs it
within seconds, on each database.

``fusion-bridge serve`` (with its scheduler, from this source tree) and the agent 2.6 as a
daemon (``--daemon --no-fork``, HTTP server on 127.0.0.1, ``httpd-trust 127.0.0.1``, as in the
recorded scenario h1) run in one private network namespace with only ``lo`` (tests/helpers/netns.py),
so the Wake-on-LAN packets never leave it. A fresh daemon calls its server only 30-60 min after
start (delaytime 3600): a PROLOG a few seconds after the task's start can only come from the
push. The task is a Wake-on-LAN action for that agent (communication push, start = now + a few
seconds); the run must reach Finished within 10 s of the task's start.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select

import schema
from schema.constants import ItemType, TaskjobLogState as Log, TaskjobState as State
from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import NETNS_URL, running_bridge
from tests.helpers.e2e_tasks import add_real_agent
from tests.helpers.inventory_rows import add_computer, add_port
from tests.helpers.task_rows import add_job, add_task

pytestmark = pytest.mark.e2e

HTTPD_PORT = 62354
DEVICEID = "e2e-push-2026-11-25-10-00-00"
AGENT_ID = 9
START_IN = 4  # seconds from the task's creation to its start
START_TO_FINISHED = 10  # the acceptance bound
HTTPD_START_TIMEOUT = 60


@pytest.fixture
def push_bridge(netns, database_url, engine, tmp_path):
    """With its scheduler checking for push starts every second."""
    with running_bridge(netns, database_url, engine, tmp_path / "server.log", FUSION_BRIDGE_PUSH_CHECK="1") as server:
        yield server


def run_history(engine, run_id: int) -> list:
    logs = schema.taskjoblogs
    with engine.connect() as conn:
        return conn.execute(select(logs.c.state, logs.c.comment).where(
            logs.c.plugin_fusioninventory_taskjobstates_id == run_id).order_by(logs.c.id)).all()


def test_a_push_task_is_run_by_the_daemon_within_seconds_of_its_start(
        agent_tasks, netns, push_bridge, engine, tmp_path):
    with engine.begin() as conn:
        # The agent as its last contact left it: its row and the address it called from.
        add_real_agent(conn, AGENT_ID, DEVICEID, agent_port=str(HTTPD_PORT))
        conn.execute(insert(schema.bridge_agentaddresses).values(
            plugin_fusioninventory_agents_id=AGENT_ID, address="127.0.0.1", date=None))
        add_computer(conn, "e2e-sleeper", computer_id=31)
        add_port(conn, ItemType.COMPUTER, 31, mac="52:54:00:12:34:56", port_id=41)
    try:
        daemon = agentlib.start_daemon(NETNS_URL, "wakeonlan", workdir=tmp_path / "agent",
                                       httpd_port=HTTPD_PORT,
                                       deviceid=DEVICEID, debug=1, prefix=tuple(netns.command([])))
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    with daemon:
        def context(run_id: int | None = None) -> str:
            text = f"\n--- agent log ---\n{daemon.log[-4000:]}\n--- server log ---\n{push_bridge.tail(60)}"
            if run_id is not None:
                text += "\n--- run history ---\n" + "\n".join(
                    f"  {Log(state).label:8} {comment}" for state, comment in run_history(engine, run_id))
            return text

        assert daemon.wait_for(r"HTTPD service started", HTTPD_START_TIMEOUT), \
            f"the agent's HTTP server did not start{context()}"
        start = datetime.now().replace(microsecond=0) + timedelta(seconds=START_IN)
        with engine.begin() as conn:
            add_task(conn, 1, start=start)
            conn.execute(insert(schema.bridge_tasks).values(plugin_fusioninventory_tasks_id=1,
                                                            communication="push"))
            add_job(conn, 1, [(ItemType.COMPUTER, 31)], [(ItemType.AGENT, AGENT_ID)], "wakeonlan", job_id=1)
        assert "sending prolog request" not in daemon.log, f"the fresh daemon called in by itself{context()}"

        runs = schema.taskjobstates
        run = None
        deadline = start + timedelta(seconds=START_TO_FINISHED + 10)
        while datetime.now() < deadline:
            with engine.connect() as conn:
                run = conn.execute(select(runs.c.id, runs.c.state)
                                   .where(runs.c.plugin_fusioninventory_taskjobs_id == 1)).first()
            if run is not None and run.state not in (State.PREPARED, State.SERVER_HAS_SENT_DATA,
                                                     State.AGENT_HAS_SENT_DATA):
                break
            time.sleep(0.1)
        over = datetime.now()
        assert run is not None, f"no run prepared for the push task{context()}"
        assert run.state == State.FINISHED, f"run {run.id} in state {run.state}{context(run.id)}"
        elapsed = (over - start).total_seconds()
        assert elapsed <= START_TO_FINISHED, \
            f"the run finished {elapsed:.1f} s after the task's start{context(run.id)}"
        print(f"push e2e: run {run.id} Finished {elapsed:.1f} s after the task's start")

        history = run_history(engine, run.id)
        states = [state for state, _ in history]
        assert states[:2] == [Log.PREPARED, Log.INFO] and states[-1] == Log.OK, context(run.id)
        assert history[1].comment == f"Agent woken up at http://127.0.0.1:{HTTPD_PORT}/now", context(run.id)
        assert "rescheduling next contact for target" in daemon.log, context(run.id)
        assert daemon.log.count("sending prolog request") == 1, context(run.id)
    with engine.connect() as conn:
        bridge_run = conn.execute(select(schema.bridge_runs)).mappings().one()
        attempt = conn.execute(select(schema.bridge_wakeups)).mappings().one()
    assert (bridge_run["plugin_fusioninventory_taskjobstates_id"], bridge_run["pushes"]) == (run.id, 1)
    assert start <= bridge_run["pushed_at"] <= start + timedelta(seconds=START_TO_FINISHED)
    assert (attempt["plugin_fusioninventory_agents_id"], attempt["outcome"]) == (AGENT_ID, "woken")
    assert "Traceback" not in push_bridge.log_text(), push_bridge.tail(80)
