"""Bridge A relays inventories to bridge B, both real ``fusion-bridge serve`` processes on loopback.

The real agent → A (``serve --inventory-upstream``, its database on each backend) → a counting
pass-through (tests/helpers/relay_upstream.py, which records what B accepted) → B (a second ``serve``
with its own SQLite database, importing as today). B holds the computer, A none. Then, with B
stopped, A accepts 50 inventories of distinct agents (the recorded 246 KB document, DEVICEID
rewritten); A is restarted; B is started: all 50 reach B exactly once, in the order A accepted
them (A forwards one at a time here; with more in flight the order is the order of sending).
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

import schema
from fusion_bridge.adapters.db import make_engine
from tests.helpers.agent_inventory import check_agent_log, run_agent
from tests.helpers.bridge_server import (SERVER_START_TIMEOUT, Server, checkout_env, free_port, serve_command,
                                         stop_process)
from tests.helpers.relay_upstream import ScriptedUpstream

pytestmark = pytest.mark.e2e

RECORDED = (Path(__file__).resolve().parents[2] / "fixtures" / "cases" / "inventory_zlib" / "01-INVENTORY"
            / "request.xml")
DOCUMENTS = 50
RELAY_ENV = {"FUSION_BRIDGE_RELAY_CONCURRENCY": "1", "FUSION_BRIDGE_RELAY_BACKOFF_BASE": "0.2",
             "FUSION_BRIDGE_RELAY_BACKOFF_CAP": "1", "FUSION_BRIDGE_RELAY_POLL_SECONDS": "0.2",
             "FUSION_BRIDGE_UPSTREAM_READ_TIMEOUT": "30", "FUSION_BRIDGE_RELAY_CLAIM_SECONDS": "60"}


def start(port: int, database_url: str, workdir: Path, name: str, *extra: str) -> Server:
    workdir.mkdir(exist_ok=True)
    log = workdir / f"{name}.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*serve_command(), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-scheduler",
             "--database", database_url, *extra],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=workdir, env=checkout_env(**RELAY_ENV))
    server = Server(log, process, port)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{server.tail()}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/plugins/fusioninventory/?action=getConfig", timeout=2)
        except urllib.error.HTTPError:
            return server  # answering
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{name} not answering on port {port}:\n{server.tail()}")
            time.sleep(0.2)
        else:
            return server


def stop(server: Server) -> None:
    stop_process(server.process)


def wait_for(condition, timeout: float, what: str, *servers: Server) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {s.log.name} ---\n{s.tail(30)}" for s in servers)
            pytest.fail(f"{what} after {timeout} s\n{logs}")
        time.sleep(0.2)


def inventory(device_id: str) -> bytes:
    xml = RECORDED.read_bytes()
    start_at, end = xml.index(b"<DEVICEID>") + len(b"<DEVICEID>"), xml.index(b"</DEVICEID>")
    return zlib.compress(xml[:start_at] + device_id.encode() + xml[end:], 6)


def post(port: int, body: bytes) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/plugins/fusioninventory/", data=body, headers={
        "Content-Type": "application/x-compress-zlib", "User-Agent": "FusionInventory-Agent_v2.6-3"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_relay_to_a_second_bridge(database_url, tmp_path, agent_version):
    b_url = f"sqlite:///{tmp_path / 'b' / 'b.sqlite'}"
    a_port, b_port = free_port(), free_port()
    counter = ScriptedUpstream(forward_to=f"http://127.0.0.1:{b_port}/plugins/fusioninventory/")
    a_engine, b_engine = make_engine(database_url), None
    servers: list[Server] = []
    try:
        b = start(b_port, b_url, tmp_path / "b", "bridge-b")
        a = start(a_port, database_url, tmp_path / "a", "bridge-a", "--inventory-upstream", counter.url)
        servers = [a, b]
        b_engine = make_engine(b_url)

        # 1. The real agent's inventory ends in B; A holds no computer.
        url = f"http://127.0.0.1:{a_port}/plugins/fusioninventory/"
        run = run_agent(url, tmp_path)
        check_agent_log(run, a, url)
        wait_for(lambda: run.deviceid in counter.delivered_ids(), 60, "the inventory did not reach B", a, b)
        with b_engine.connect() as conn:
            agent = conn.execute(select(schema.agents).where(
                schema.agents.c.device_id == run.deviceid)).mappings().one()
            computer = conn.execute(select(schema.glpi_computers)).mappings().one()
        assert agent["computers_id"] == computer["id"] and computer["name"]
        assert agent["useragent"] == f"FusionInventory-Agent_v{agent_version}"
        [request] = [r for r in counter.delivered if r.device_id == run.deviceid]
        assert request.headers["x-forwarded-for"] == "127.0.0.1"
        assert count(a_engine, schema.glpi_computers) == 0
        assert count(a_engine, schema.bridge_relayqueue) == 0
        with a_engine.connect() as conn:
            delivery = conn.execute(select(schema.bridge_relaydeliveries)).mappings().one()
        assert delivery["outcome"] == "delivered" and delivery["http_status"] == 200

        # 2. B down: A accepts 50 inventories of distinct agents, keeps them through a restart.
        stop(b)
        sent = [f"relay-e2e-{n:02d}-2025-01-01-00-00-00" for n in range(DOCUMENTS)]
        for device_id in sent:
            assert post(a_port, inventory(device_id)) == 200
        assert count(a_engine, schema.bridge_relayqueue) == DOCUMENTS
        stop(a)
        a = start(a_port, database_url, tmp_path / "a", "bridge-a", "--inventory-upstream", counter.url)
        b = start(b_port, b_url, tmp_path / "b", "bridge-b")
        servers = [a, b]
        wait_for(lambda: count(a_engine, schema.bridge_relayqueue) == 0, 180, "A did not drain its queue", a, b)

        arrived = [d for d in counter.delivered_ids() if d.startswith("relay-e2e-")]
        assert arrived == sent  # each once, in the order A accepted them
        with b_engine.connect() as conn:
            at_b = conn.execute(select(schema.agents.c.device_id).where(schema.agents.c.device_id.like("relay-e2e-%"))
                                .order_by(schema.agents.c.id)).scalars().all()
        assert at_b == sent
        assert count(a_engine, schema.glpi_computers) == 0
    finally:
        for server in servers:
            stop(server)
        counter.close()
        a_engine.dispose()
        if b_engine is not None:
            b_engine.dispose()
