"""The real agent's inventory run (``--tasks inventory``) against a bridge on the loopback, and
what its log must show: it sent the INVENTORY and accepted the reply."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import Server

AGENT_TIMEOUT = 120


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
