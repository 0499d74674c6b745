"""Wake-up of the real agent: a daemon (``--daemon --no-fork``) with its HTTP server on
127.0.0.1 is woken by ``wake_agents`` and sends its PROLOG to ``fusion-bridge serve`` within
seconds, on each database.

A fresh daemon would call its server only 30-60 min after start (delaytime 3600): a PROLOG
within 10 s can only come from the wake-up. The agent row and its address are written
directly, as a first contact would have left them (the address recording itself is covered by
tests/integration/test_wakeup.py).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, select

import schema
from fusion_bridge.services.push import wakeup
from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import free_port
from tests.helpers.inventory_rows import add_agent

pytestmark = pytest.mark.e2e

DEVICEID = "wakeme-2026-11-25-10-00-00"
HTTPD_START_TIMEOUT = 60
WAKE_TO_PROLOG = 10


def test_a_daemon_agent_is_woken_and_calls_in(server, engine, tmp_path):
    httpd_port = free_port()
    url = f"http://127.0.0.1:{server.port}/plugins/fusioninventory/"
    with engine.begin() as conn:
        agent_id = add_agent(conn, None, DEVICEID, agent_port=str(httpd_port))
        conn.execute(insert(schema.bridge_agentaddresses).values(
            plugin_fusioninventory_agents_id=agent_id, address="127.0.0.1", date=None))
    try:
        daemon = agentlib.start_daemon(url, "inventory", workdir=tmp_path / "agent", httpd_port=httpd_port,
                                       deviceid=DEVICEID, debug=1)
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    with daemon:
        started = daemon.wait_for(r"HTTPD service started on port", HTTPD_START_TIMEOUT)

        def context() -> str:
            return f"\n--- agent log ---\n{daemon.log[-4000:]}\n--- server log ---\n{server.tail()}"

        assert started, f"the agent's HTTP server did not start{context()}"
        assert "sending prolog request" not in daemon.log, f"the fresh daemon called in by itself{context()}"

        woken_at = time.monotonic()
        report = wakeup.wake_agents(engine, [agent_id])
        [result] = report.results
        assert result.outcome == "woken", f"{result.detail}{context()}"
        assert result.detail == f"Agent woken up at http://127.0.0.1:{httpd_port}/now"

        prolog = daemon.wait_for(r"sending prolog request to server0", WAKE_TO_PROLOG)
        assert prolog, f"no PROLOG within {WAKE_TO_PROLOG} s of the wake-up{context()}"
        deadline = woken_at + WAKE_TO_PROLOG
        while True:
            with engine.connect() as conn:
                row = conn.execute(select(schema.agents.c.last_contact, schema.agents.c.useragent)
                                   .where(schema.agents.c.id == agent_id)).first()
                table = schema.bridge_agentaddresses
                address = conn.execute(select(table.c.address, table.c.date)
                                       .where(table.c.plugin_fusioninventory_agents_id == agent_id)).first()
            if (row.last_contact is not None and address.date is not None) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert row.last_contact is not None, f"the bridge saw no PROLOG from agent {agent_id}{context()}"
        assert row.useragent.startswith("FusionInventory-Agent_v")
        # The contact re-recorded the address (date set by the serving worker).
        assert address.address == "127.0.0.1" and address.date is not None
        assert "rescheduling next contact for target" in daemon.log
    assert daemon.process.poll() is not None, "the daemon is still running"
    with engine.connect() as conn:
        [attempt] = conn.execute(select(schema.bridge_wakeups)).mappings().all()
    assert (attempt["plugin_fusioninventory_agents_id"], attempt["outcome"], attempt["address"]) == (
        agent_id, "woken", "127.0.0.1")
