"""What the GLPI 10 end-to-end tests do around the real agent: a MariaDB database with GLPI 10 +
glpiinventory's tables, the agent pointed at the plugin's GLPI 10 folder, the bridge's own
preparation of a task written as GLPI 10's UI writes it, and the checks of the agent's log and a
run's history on GLPI 10's tables (tests/helpers/glpi10_rows.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from fusion_bridge.services.scheduling.preparation import prepare_runs
from tests.helpers import glpi10_rows as g10
from tests.helpers import netns as netnslib
from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import Server
from tests.helpers.e2e_tasks import run_agent_at
from tests.helpers.layouts import GLPIINVENTORY

# The tests' ``database_url``: a MariaDB database made by ``init_database(flavour="glpiinventory")``,
# GLPI 10 (tests/conftest.py, tests/helpers/layouts.py).
GLPI10_DATABASE = pytest.mark.parametrize(
    "database_url", [pytest.param(("mariadb", GLPIINVENTORY), id="mariadb-glpi10", marks=pytest.mark.mariadb)],
    indirect=True)

TASK_LOG_STATES = {"STARTED": 1, "OK": 2, "ERROR": 4, "INFO": 5, "RUNNING": 6, "PREPARED": 7}
RUN_STATES = {"PREPARED": 0, "SERVER_HAS_SENT_DATA": 1, "AGENT_HAS_SENT_DATA": 2, "FINISHED": 3, "IN_ERROR": 4}


@dataclass(frozen=True)
class RunnerAgent:
    """The real agent under a fixed DEVICEID, allowed ``timeout`` seconds per run."""

    deviceid: str
    timeout: int = 60


def glpiinventory_url(port: int) -> str:
    """The agent's server URL on GLPI 10: the plugin's folder (its REST calls are answered only
    there, docs/glpi10-protocol.md §2)."""
    return f"http://127.0.0.1:{port}/plugins/glpiinventory/"


def run_glpi10_agent(agent: RunnerAgent, server: Server, tasks: str, workdir: Path,
                     netns: netnslib.NetNamespace | None = None) -> agentlib.AgentRun:
    """The real agent in the foreground (``--tasks tasks``, ``--debug --debug``) as ``agent``
    against ``server``'s glpiinventory folder, inside ``netns`` when given."""
    return run_agent_at(glpiinventory_url(server.port), agent.deviceid, agent.timeout, tasks, workdir, netns)


def context(run: agentlib.AgentRun, server: Server, engine=None, run_id: int | None = None) -> str:
    """The end of the agent's and the server's logs, and the run's state and history."""
    ctx = f"\n--- agent log (end) ---\n{run.log[-5000:]}\n--- server log (end) ---\n{server.tail()}"
    if engine is not None and run_id is not None:
        history = "\n".join(f"  {state} {itemtype}:{items_id} {comment}"
                            for state, itemtype, items_id, comment in g10.joblogs(engine, run_id))
        ctx += f"\n--- run {run_id}: state {g10.run_state(engine, run_id)} ---\n{history}"
    return ctx


def check_agent(run: agentlib.AgentRun, server: Server, task_name: str, ctx: str,
                allowed: re.Pattern[str] | None = None) -> None:
    """The agent ran ``task_name`` against the glpiinventory folder and accepted every reply; no
    traceback in the server's log."""
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    problems = agentlib.problem_lines(run.log, allowed)
    assert not problems, "agent complained:\n" + "\n".join(problems) + ctx
    assert f"target server0: server {glpiinventory_url(server.port)}" in run.log, ctx
    assert f"running task {task_name}" in run.log, f"the agent did not run {task_name}{ctx}"
    assert "Traceback" not in server.log_text(), f"server raised{ctx}"


def check_prepared(engine, job_id: int, agent_id: int, target: tuple[str, int]) -> int:
    """The bridge's preparation (``prepare_runs``) makes one run of ``target`` for ``agent_id`` in
    job ``job_id``, Prepared, its class name in glpiinventory's spelling, with GLPI 10's Prepared
    log line (items_id 0, itemtype NULL, state 7, comment ''). Its id."""
    report = prepare_runs(engine)
    assert not report.busy and not report.errors, report.lines()
    assert not any(task.error for task in report.tasks.values()), report.lines()
    runs = g10.runs_of_job(engine, job_id)
    assert len(runs) == 1, f"job {job_id}: expected one run, found {runs} ({report.lines()})"
    run = runs[0]
    assert (run["state"], run["itemtype"], run["items_id"], run["agents_id"]) == \
        (RUN_STATES["PREPARED"], target[0], target[1], agent_id), run
    assert re.fullmatch(r"[0-9a-f]{13}", run["uniqid"] or ""), f"uniqid not as PHP uniqid() writes it: {run}"
    assert g10.joblogs(engine, run["id"]) == [(TASK_LOG_STATES["PREPARED"], None, 0, "")]
    return run["id"]
