"""Wake-up (push): agents' source addresses recorded at each contact, /status + /now probes with
bounded concurrency, every attempt recorded; on SQLite and MariaDB. The agents' HTTP servers
are played by tests/helpers/agent_emulator.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import select

import schema
from fusion_bridge.services.push import wakeup
from schema.constants import TaskjobLogState as Log
from tests.helpers.agent_emulator import AgentEmulator, Behaviour, closed_port
from tests.helpers.agent_requests import ZLIB_HEADERS, inventory_xml, prolog
from tests.helpers.cli import run
from tests.helpers.inventory_rows import add_agents_with_addresses
from tests.helpers.task_rows import add_job, add_run, add_task, wakeup_history

# ---------------------------------------------------------------------------------------------
# Addresses recorded at contact


def address_of(engine, agent_id):
    with engine.connect() as conn:
        return conn.execute(select(schema.bridge_agentaddresses).where(
            schema.bridge_agentaddresses.c.plugin_fusioninventory_agents_id == agent_id)).mappings().first()


def agent_id_of(engine, device_id):
    with engine.connect() as conn:
        return conn.execute(select(schema.agents.c.id).where(schema.agents.c.device_id == device_id)).scalar()


def test_prolog_records_the_source_address_and_its_changes(client, engine):
    device = "pc01-2024-03-05-10-22-33"
    client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS,
                environ_base={"REMOTE_ADDR": "192.0.2.7"})
    agent_id = agent_id_of(engine, device)
    row = address_of(engine, agent_id)
    assert (row["address"], row["port"]) == ("192.0.2.7", None) and row["date"] is not None
    client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS,
                environ_base={"REMOTE_ADDR": "::ffff:198.51.100.9"})
    assert address_of(engine, agent_id)["address"] == "198.51.100.9"
    client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS,
                environ_base={"REMOTE_ADDR": "2001:db8::42"})
    assert address_of(engine, agent_id)["address"] == "2001:db8::42"
    with engine.connect() as conn:
        assert conn.execute(select(schema.bridge_agentaddresses)).all().__len__() == 1


def test_an_unchanged_address_is_not_rewritten(client, engine, app, database_url):
    device = "pc02-2024-03-05-10-22-33"
    old = datetime(2000, 1, 1)
    client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS,
                environ_base={"REMOTE_ADDR": "192.0.2.8"})
    agent_id = agent_id_of(engine, device)
    with engine.begin() as conn:
        conn.execute(schema.bridge_agentaddresses.update().values(date=old))
    client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS,
                environ_base={"REMOTE_ADDR": "192.0.2.8"})
    assert address_of(engine, agent_id)["date"] == old  # no write
    with engine.begin() as conn:  # an outside change
        conn.execute(schema.bridge_agentaddresses.update().values(address="192.0.2.99"))
    client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS,
                environ_base={"REMOTE_ADDR": "192.0.2.8"})
    if database_url.startswith("mysql"):
        # The PROLOG's one UPDATE tells whether the recorded address is the caller's.
        assert address_of(engine, agent_id)["address"] == "192.0.2.8"
    else:
        # SQLite: the worker's cache says unchanged until its entry expires.
        assert address_of(engine, agent_id)["address"] == "192.0.2.99"
        app.extensions["fusion_bridge"].exchange.addresses.forget()
        client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS,
                    environ_base={"REMOTE_ADDR": "192.0.2.8"})
        assert address_of(engine, agent_id)["address"] == "192.0.2.8"
    assert address_of(engine, agent_id)["date"] != old


def test_other_messages_record_the_address_too_and_junk_addresses_are_ignored(client, engine):
    device = "pc03-2024-03-05-10-22-33"
    client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS,
                environ_base={"REMOTE_ADDR": "not an address"})
    agent_id = agent_id_of(engine, device)
    assert address_of(engine, agent_id) is None
    response = client.post("/plugins/fusioninventory/", data=inventory_xml(device),
                           headers={"Content-Type": "application/xml"},
                           environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert response.status_code == 200
    assert address_of(engine, agent_id)["address"] == "192.0.2.10"


# ---------------------------------------------------------------------------------------------
# Probes and outcomes


def test_outcomes_waiting_running_refused_no_listener_slow_and_unknown(engine):
    with AgentEmulator(ports=4) as emulator:
        waiting, running, untrusted, slow = emulator.ports
        emulator.behaviours[running] = Behaviour(status="running task Inventory")
        emulator.behaviours[untrusted] = Behaviour(now=403)
        emulator.behaviours[slow] = Behaviour(delay=3.0)
        nobody = closed_port()
        add_agents_with_addresses(engine, {
            1: ("127.0.0.1", waiting), 2: ("127.0.0.1", running), 3: ("127.0.0.1", untrusted),
            4: ("127.0.0.1", nobody), 5: ("127.0.0.1", slow), 6: (None, waiting),
        })
        started = time.monotonic()
        report = wakeup.wake_agents(engine, [1, 2, 3, 4, 5, 6, 77], status_timeout=0.5, now_timeout=0.5)
        elapsed = time.monotonic() - started
    results = report.by_agent()
    assert {agent: r.outcome for agent, r in results.items()} == {
        1: "woken", 2: "busy", 3: "refused", 4: "unreachable", 5: "unreachable", 6: "unreachable",
        77: "unreachable"}
    assert results[1].detail == f"Agent woken up at http://127.0.0.1:{waiting}/now"
    assert results[2].detail == (f"Agent busy: status running task Inventory at "
                                 f"http://127.0.0.1:{running}/status")
    assert "httpd-trust" in results[3].detail and "403" in results[3].detail
    assert results[4].detail == f"Agent unreachable: connection refused at http://127.0.0.1:{nobody}/status"
    assert results[5].detail == f"Agent unreachable: no answer within 0.5 s at http://127.0.0.1:{slow}/status"
    assert "no address known" in results[6].detail
    assert results[77].detail == "Agent unreachable: no such agent"
    assert elapsed < 2.5, "the slow agent must not hold the others beyond its timeout"
    # /now only for the waiting agents (the trusted one and the untrusted one)
    assert sorted(port for port, path in emulator.requests if path == "/now") == sorted([waiting, untrusted])
    rows = wakeup_history(engine)
    assert [(r["plugin_fusioninventory_agents_id"], r["outcome"]) for r in rows] == [
        (1, "woken"), (2, "busy"), (3, "refused"), (4, "unreachable"), (5, "unreachable"), (6, "unreachable"),
        (77, "unreachable")]
    assert rows[0]["address"] == "127.0.0.1" and rows[5]["address"] is None
    assert rows[0]["detail"] == results[1].detail and rows[0]["date"] is not None
    assert report.counts() == {"woken": 1, "unreachable": 4, "busy": 1, "refused": 1}


def test_port_from_agent_port_else_the_address_row_else_the_plugin_config(engine):
    with AgentEmulator(ports=2) as emulator:
        own, configured = emulator.ports
        add_agents_with_addresses(engine, {1: ("127.0.0.1", own), 2: ("127.0.0.1", None),
                                           3: ("127.0.0.1", None)})
        with engine.begin() as conn:
            conn.execute(schema.agents.update().where(schema.agents.c.id == 3).values(agent_port="n/a"))
            conn.execute(schema.configs.update().where(schema.configs.c.type == "agent_port")
                         .values(value=str(configured)))
            assert wakeup.default_agent_port(conn) == configured
            conn.execute(schema.bridge_agentaddresses.update()
                         .where(schema.bridge_agentaddresses.c.plugin_fusioninventory_agents_id == 2)
                         .values(port=own))
        report = wakeup.wake_agents(engine, [1, 2, 3])
    assert {r.agent_id: (r.outcome, r.port) for r in report.results} == {
        1: ("woken", own), 2: ("woken", own), 3: ("woken", configured)}
    with engine.begin() as conn:
        conn.execute(schema.configs.update().where(schema.configs.c.type == "agent_port").values(value="x"))
        assert wakeup.default_agent_port(conn) == 62354


def test_ipv6_agent(engine):
    with AgentEmulator(ports=1, host="::1") as emulator:
        add_agents_with_addresses(engine, {1: ("::1", emulator.ports[0])})
        report = wakeup.wake_agents(engine, [1])
    assert report.results[0].outcome == "woken"
    assert report.results[0].detail == f"Agent woken up at http://[::1]:{emulator.ports[0]}/now"


def test_attempts_are_logged_in_the_runs_of_the_agent(engine):
    with AgentEmulator(ports=2) as emulator:
        waiting, running = emulator.ports
        emulator.behaviours[running] = Behaviour(status="running task NetDiscovery")
        add_agents_with_addresses(engine, {1: ("127.0.0.1", waiting), 2: ("127.0.0.1", running)})
        with engine.begin() as conn:
            add_task(conn, 1)
            add_job(conn, 1, "[]", "[]", "networkdiscovery", job_id=1)
            add_run(conn, 11, 1, 1, "PluginFusioninventoryIPRange", 1)
            add_run(conn, 12, 1, 1, "PluginFusioninventoryIPRange", 2)
            add_run(conn, 13, 1, 2, "PluginFusioninventoryIPRange", 1)
            add_run(conn, 14, 1, 2, "PluginFusioninventoryIPRange", 3, state=3)  # finished: not woken for
            runs = wakeup.agents_with_prepared_runs(conn)
        assert runs == {1: [11, 12], 2: [13]}
        wakeup.wake_agents(engine, list(runs), run_ids=runs)
    with engine.connect() as conn:
        logs = conn.execute(select(schema.taskjoblogs.c.plugin_fusioninventory_taskjobstates_id,
                                   schema.taskjoblogs.c.state, schema.taskjoblogs.c.comment)
                            .order_by(schema.taskjoblogs.c.id)).all()
    assert [(run, state) for run, state, _ in logs] == [(11, Log.INFO), (12, Log.INFO), (13, Log.INFO)]
    assert logs[0][2] == f"Agent woken up at http://127.0.0.1:{waiting}/now"
    assert logs[2][2].startswith("Agent busy: status running task NetDiscovery")
    assert [(r["plugin_fusioninventory_agents_id"], r["plugin_fusioninventory_taskjobstates_id"])
            for r in wakeup_history(engine)] == [(1, 11), (2, 13)]


def test_two_thousand_agents_within_the_concurrency_bound(engine):
    bound = 25
    with AgentEmulator(ports=20, behaviour=Behaviour(delay=0.01)) as emulator:
        add_agents_with_addresses(engine, {i: ("127.0.0.1", emulator.ports[i % 20]) for i in range(1, 2001)})
        report = wakeup.wake_agents(engine, range(1, 2001), concurrency=bound)
        assert emulator.count("/status") == 2000 and emulator.count("/now") == 2000
        assert emulator.accepted == 4000
    assert report.counts()["woken"] == 2000
    assert 1 < emulator.max_open <= bound, emulator.max_open
    assert report.max_in_flight <= bound
    assert len(wakeup_history(engine)) == 2000


def test_concurrency_must_be_positive(engine):
    with pytest.raises(ValueError):
        wakeup.wake_agents(engine, [1], concurrency=0)


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_wakes_given_agents_and_all_with_runs(database_url, engine):
    with AgentEmulator(ports=2) as emulator:
        waiting, untrusted = emulator.ports
        emulator.behaviours[untrusted] = Behaviour(now=403)
        add_agents_with_addresses(engine, {1: ("127.0.0.1", waiting), 2: ("127.0.0.1", untrusted)})
        out = run(database_url, "wakeup", "--agent", "1", "--agent", "2").output
        assert out.splitlines()[0] == f"agent 1: woken - Agent woken up at http://127.0.0.1:{waiting}/now"
        assert out.splitlines()[1].startswith("agent 2: refused - ")
        assert "2 agent(s)" in out.splitlines()[2]
        assert "refused" in run(database_url, "wakeup", "--agent", "2", expect=1).output
        with engine.begin() as conn:
            add_task(conn, 1)
            add_job(conn, 1, "[]", "[]", "networkdiscovery", job_id=1)
            add_run(conn, 11, 1, 1, "PluginFusioninventoryIPRange", 1)
        data = json.loads(run(database_url, "wakeup", "--all-with-runs", "--json").output)
    assert [(r["agent"], r["outcome"], r["runs"]) for r in data["results"]] == [(1, "woken", [11])]
    assert "give --agent" in run(database_url, "wakeup", expect=2).output


def test_answers_that_are_not_an_agent(engine):
    """A peer that closes at once, one that answers junk, one that is a web server, a paused agent."""
    def serve(sock, reply: bytes) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                if reply:
                    conn.sendall(reply)

    sockets, threads = [], []
    replies = [b"", b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
               b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
               b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nstatus: paused"]
    for reply in replies:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sockets.append(sock)
        threads.append(threading.Thread(target=serve, args=(sock, reply), daemon=True))
        threads[-1].start()
    ports = [sock.getsockname()[1] for sock in sockets]
    try:
        add_agents_with_addresses(engine, {i + 1: ("127.0.0.1", port) for i, port in enumerate(ports)})
        report = wakeup.wake_agents(engine, [1, 2, 3, 4], status_timeout=1.0)
    finally:
        for sock in sockets:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the accept()
            sock.close()
        for thread in threads:
            thread.join(5)
    details = {r.agent_id: (r.outcome, r.detail.split(" at ")[0]) for r in report.results}
    port = ports[2]
    assert details == {
        1: ("unreachable", "Agent unreachable: no HTTP answer"),
        2: ("unreachable", "Agent unreachable: not an HTTP answer"),
        3: ("unreachable", f"Agent unreachable: http://127.0.0.1:{port}/status answered HTTP 404 "
                           "'not found', not an agent status"),
        4: ("busy", "Agent busy: status paused"),
    }


def test_purge_history(engine):
    add_agents_with_addresses(engine, {1: (None, None)})
    wakeup.wake_agents(engine, [1, 1, 2])
    wakeup.wake_agents(engine, [1], clock=lambda: datetime(2020, 1, 1))
    assert len(wakeup_history(engine)) == 3
    assert wakeup.purge_history(engine, datetime(2021, 1, 1)) == 1
    with engine.connect() as conn:
        assert [r["plugin_fusioninventory_agents_id"] for r in wakeup.history(conn)] == [2, 1]
        assert [r["outcome"] for r in wakeup.history(conn, agent_id=1)] == ["unreachable"]
