"""The real FusionInventory agent 2.6 against the real server (gunicorn), on each database.

``fusion-bridge serve`` runs as a subprocess on a free loopback port; the unmodified agent runs
once in the foreground (``--tasks inventory``), isolated as described in tests/helpers/real_agent.py.
The agent's own log must show that it accepted every reply, and the database must hold the
agent and its inventory. Needs root and the Debian package ``fusioninventory-agent``: when
it is missing these tests fail (they never skip).
"""

from __future__ import annotations

import json
import re
import subprocess
import zlib
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, select

from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import Server

pytestmark = pytest.mark.e2e

AGENT_TIMEOUT = 120


@pytest.fixture(scope="module")
def agent_version() -> str:
    try:
        return agentlib.agent_version()
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))


def run_agent(server_url: str, tmp_path: Path) -> agentlib.AgentRun:
    try:
        return agentlib.run_agent(server_url, "inventory", timeout=AGENT_TIMEOUT, workdir=tmp_path / "agent",
                                  debug=2)
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the agent did not finish within {AGENT_TIMEOUT} s:\n"
                    f"{(expired.stderr or b'').decode(errors='replace')[-3000:]}")


def check_agent_log(run: agentlib.AgentRun, server: Server, expected_url: str) -> None:
    log = run.log
    context = f"\n--- agent log (end) ---\n{log[-4000:]}\n--- server log (end) ---\n{server.tail()}"
    assert run.returncode == 0, f"agent exit code {run.returncode}{context}"
    problems = agentlib.problem_lines(log)
    assert not problems, "agent complained:\n" + "\n".join(problems) + context
    assert f"target server0: server {expected_url}" in log, f"agent did not use {expected_url}{context}"
    assert "sending prolog request to server0" in log, context
    assert "running task Inventory" in log, f"PROLOG reply did not ask for the inventory{context}"
    match = re.search(r"New inventory from (\S+) for server0", log)
    assert match, f"no inventory made{context}"
    assert match.group(1) == run.deviceid, f"DEVICEID in the log {match.group(1)} != state {run.deviceid}"
    # debug2 dumps each message: the INVENTORY must have gone out and a REPLY come back.
    after = log[match.end():]
    assert re.search(r"\[http client\] sending message:.*<QUERY>INVENTORY</QUERY>", after, re.S), \
        f"INVENTORY not sent{context}"
    assert re.search(r"\[http client\] receiving message:\s*\n.*<REPLY", after, re.S), \
        f"no reply to the INVENTORY{context}"
    # The agent saves last_state only after the server accepted the INVENTORY reply.
    assert any(name.endswith("/last_state") for name in run.state_files), \
        f"agent did not save last_state: {run.state_files}{context}"


def check_database(engine, run: agentlib.AgentRun, agent_version: str) -> None:
    metadata = MetaData()
    agents = Table("glpi_plugin_fusioninventory_agents", metadata, autoload_with=engine)
    inventories = Table("glpi_plugin_fusionbridge_inventories", metadata, autoload_with=engine)
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in
                conn.execute(select(agents).where(agents.c.device_id == run.deviceid))]
        assert len(rows) == 1, f"expected one agent row for {run.deviceid}, found {len(rows)}"
        agent = rows[0]
        assert agent["name"] == run.deviceid
        assert agent["useragent"] == f"FusionInventory-Agent_v{agent_version}"
        assert agent["token"] == "12345678"
        assert agent["last_contact"] is not None
        assert json.loads(agent["version"] or "null") == {"INVENTORY": f"v{agent_version}"}
        agent_column = next(column for column in inventories.c if column.name.endswith("agents_id"))
        stored = conn.execute(
            select(inventories.c.content).where(agent_column == agent["id"])).scalars().all()
    assert stored, f"no stored inventory for agent {agent['id']}"
    xml = zlib.decompress(stored[-1]).decode("utf-8")
    assert f"<DEVICEID>{run.deviceid}</DEVICEID>" in xml
    assert "<QUERY>INVENTORY</QUERY>" in xml
    assert f"<VERSIONCLIENT>FusionInventory-Agent_v{agent_version}</VERSIONCLIENT>" in xml


def test_agent_inventory(server, engine, agent_version, tmp_path):
    url = f"http://127.0.0.1:{server.port}/plugins/fusioninventory/"
    run = run_agent(url, tmp_path)
    check_agent_log(run, server, url)
    check_database(engine, run, agent_version)


def test_agent_with_url_without_path_uses_ocsinventory(server, engine, agent_version, tmp_path):
    # A bare host:port is refused by the agent itself ("invalid protocol for URL"); a URL
    # with an empty path makes it POST to /ocsinventory.
    run = run_agent(f"http://127.0.0.1:{server.port}", tmp_path)
    check_agent_log(run, server, f"http://127.0.0.1:{server.port}/ocsinventory")
    check_database(engine, run, agent_version)
