"""What the end-to-end tests do around the real agent: its row, a task for it prepared by the
bridge's own preparation, running it, and checking its log and its run's history.

The network tasks run the agent and ``fusion-bridge serve`` in a private network namespace
(agent ``NETWORK_AGENT``); the REST tasks (Collect, ESX, Deploy) on the host's loopback
(agent ``REST_AGENT``).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import insert, select

import schema
from fusion_bridge.services.scheduling.preparation import prepare_runs
from schema.constants import ItemType, TaskjobLogState as Log, TaskjobState as State
from tests.helpers import netns as netnslib
from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import Server
from tests.helpers.db import reading, writing
from tests.helpers.inventory_rows import add_agent, add_computer
from tests.helpers.task_rows import add_job, add_task

PUBLIC_V2C = 2  # install-time credential "Public community v2c"
runs_t, logs_t = schema.taskjobstates, schema.taskjoblogs
DEPLOY_AGENT_TIMEOUT = 180  # seconds


@dataclass(frozen=True)
class E2EAgent:
    agent_id: int
    device_id: str
    timeout: int  # seconds the agent may take for one run

    def add_row(self, bind, **values) -> int:
        """Its row as its first PROLOG leaves it, plus ``values``."""
        return add_real_agent(bind, self.agent_id, self.device_id, **values)


NETWORK_AGENT = E2EAgent(7, "e2e-network-2025-06-01-12-00-00", 60)
REST_AGENT = E2EAgent(9, "e2e-rest-2026-11-25-14-54-18", 120)


def add_real_agent(bind, agent_id: int, device_id: str, **values) -> int:
    """The real agent's row as its first PROLOG leaves it (its token and User-Agent), plus ``values``."""
    return add_agent(bind, agent_id, device_id, is_recursive=1, token="12345678",
                     useragent="FusionInventory-Agent_v2.6", lock=0, **values)


def add_task_for(engine, agent: E2EAgent, task_id: int, method: str, target: tuple[str, int] | str,
                 reprepare_if_successful: int = 1) -> None:
    """Task ``task_id`` with one job (same id) of ``method`` on ``target`` (an item or the stored
    JSON), run by ``agent``."""
    targets = target if isinstance(target, str) else [target]
    with engine.begin() as conn:
        add_task(conn, task_id, reprepare_if_successful=reprepare_if_successful)
        add_job(conn, task_id, targets, [(ItemType.AGENT, agent.agent_id)], method, job_id=task_id)


def run_history(bind, run_id: int) -> list:
    """The run's log lines (rows), oldest first."""
    with reading(bind) as conn:
        return conn.execute(select(logs_t).where(logs_t.c.plugin_fusioninventory_taskjobstates_id == run_id)
                            .order_by(logs_t.c.id)).all()


def prepare_one_run(engine, agent: E2EAgent, job_id: int, target: tuple[str, int]) -> int:
    """Prepare runs the bridge's way; the job must then have one PREPARED run of ``target`` for
    ``agent``, with its Prepared log line. Its id."""
    report = prepare_runs(engine)
    assert not report.busy and not report.errors, report.lines()
    assert not any(task.error for task in report.tasks.values()), report.lines()
    with engine.connect() as conn:
        rows = conn.execute(select(runs_t).where(runs_t.c.plugin_fusioninventory_taskjobs_id == job_id)).all()
    assert len(rows) == 1, f"job {job_id}: expected one run, found {rows} ({report.lines()})"
    run = rows[0]
    assert (run.state, run.itemtype, run.items_id, run.plugin_fusioninventory_agents_id) == \
        (State.PREPARED, target[0], target[1], agent.agent_id), run
    assert [(row.state, row.comment) for row in run_history(engine, run.id)] == [(Log.PREPARED, "")]
    return run.id


def run_real_agent(agent: E2EAgent, server: Server, tasks: str, workdir: Path,
                   netns: netnslib.NetNamespace | None = None) -> agentlib.AgentRun:
    """The real agent in the foreground (``--tasks tasks``, ``--debug --debug``) as ``agent``
    against ``server``, inside ``netns`` when given."""
    return run_agent_at(server.url, agent.device_id, agent.timeout, tasks, workdir, netns)


def run_agent_at(url: str, device_id: str, timeout: int, tasks: str, workdir: Path,
                 netns: netnslib.NetNamespace | None = None) -> agentlib.AgentRun:
    """The real agent in the foreground (``--tasks tasks``, ``--debug --debug``) as ``device_id``
    against the server ``url``, inside ``netns`` when given; a test failure if it is missing, runs
    longer than ``timeout`` seconds or runs under another DEVICEID."""
    prefix = tuple(netns.command([])) if netns is not None else ()
    try:
        run = agentlib.run_agent(url, tasks, deviceid=device_id, timeout=timeout, workdir=workdir, debug=2,
                                 prefix=prefix)
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the agent did not finish within {timeout} s:\n"
                    f"{(expired.stderr or b'').decode(errors='replace')[-4000:]}")
    assert run.deviceid == device_id, f"the agent ran as {run.deviceid}:\n{run.log[-4000:]}"
    return run


def run_deploy_agent(server: Server, workdir: Path, deviceid: str) -> agentlib.AgentRun:
    """The real agent (device id ``deviceid``, files under ``workdir``/agent) running its Deploy
    task once against ``server`` on the loopback; fails unless it exits 0 having asked getJobs."""
    url = f"http://127.0.0.1:{server.port}/plugins/fusioninventory/"
    try:
        run = agentlib.run_agent(url, "deploy", deviceid=deviceid, timeout=DEPLOY_AGENT_TIMEOUT,
                                 workdir=workdir / "agent", debug=2)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the agent did not finish within {DEPLOY_AGENT_TIMEOUT} s:\n"
                    f"{(expired.stderr or b'').decode(errors='replace')[-3000:]}")
    assert run.returncode == 0, f"agent exit code {run.returncode}\n{run.log[-4000:]}"
    assert "running task Deploy" in run.log and "b/deploy/?action=getJobs" in run.log, run.log[-4000:]
    return run


def context(run: agentlib.AgentRun, server: Server, engine=None, run_id: int | None = None) -> str:
    """The end of the agent's and the server's logs, and the run's state and history: what an
    assertion message needs."""
    text = f"\n--- agent log (end) ---\n{run.log[-5000:]}\n--- server log (end) ---\n{server.tail()}"
    if engine is not None and run_id is not None:
        with engine.connect() as conn:
            state = conn.execute(select(runs_t.c.state).where(runs_t.c.id == run_id)).scalar()
            history = "\n".join(f"  {Log(row.state).label:8} {row.itemtype or ''}:{row.items_id} "
                                f"{row.comment}" for row in run_history(conn, run_id))
        text += f"\n--- run {run_id}: state {state} ---\n{history}"
    return text


def check_agent(run: agentlib.AgentRun, server: Server, task_name: str,
                allowed: re.Pattern[str] | None = None, engine=None, run_id: int | None = None) -> None:
    """The agent ran ``task_name`` against ``server`` and accepted every reply; no traceback in
    the server's log."""
    ctx = context(run, server, engine, run_id)
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    problems = agentlib.problem_lines(run.log, allowed)
    assert not problems, "agent complained:\n" + "\n".join(problems) + ctx
    assert f"target server0: server {server.url}" in run.log, ctx
    assert f"running task {task_name}" in run.log, f"the PROLOG reply did not start {task_name}{ctx}"
    assert "Traceback" not in server.log_text(), f"server raised{ctx}"


def check_finished(engine, run_id: int, ctx: str) -> list:
    """The run is Finished; its history starts Prepared, Started and ends with one Ok. Returns it."""
    with engine.connect() as conn:
        state = conn.execute(select(runs_t.c.state).where(runs_t.c.id == run_id)).scalar()
        history = run_history(conn, run_id)
    assert state == State.FINISHED, f"run {run_id} in state {state}, not Finished{ctx}"
    states = [row.state for row in history]
    assert states[:2] == [Log.PREPARED, Log.STARTED], f"history {states}{ctx}"
    assert states[-1] == Log.OK and states.count(Log.OK) == 1, f"history {states}{ctx}"
    assert Log.ERROR not in states, f"history {states}{ctx}"
    return history


def installed_tasks_or_fail(*tasks: tuple[str, str]) -> str:
    """Fail (never skip) unless the agent is installed with each task (name as ``--list-tasks``
    shows it, Debian package suffix); the agent's path."""
    try:
        binary = agentlib.agent_binary()
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    listed = subprocess.run([binary, "--list-tasks"], capture_output=True, text=True, timeout=60)
    out = listed.stdout + listed.stderr
    for task, package in tasks:
        if not re.search(rf"^\s*{task} \(v", out, re.M):
            pytest.fail(f"the agent has no {task} task: apt-get install -y "
                        f"fusioninventory-agent-task-{package}\n{out}")
    return binary


def add_agent_and_task(engine, agent: E2EAgent, method: str, target: tuple[str, int],
                       computers_id: int = 0) -> None:
    """``agent``'s row (of computer ``computers_id``) and task 1 whose job 1 runs ``method`` on
    ``target`` with it."""
    agent.add_row(engine, computers_id=computers_id)
    add_task_for(engine, agent, 1, method, target)


def add_computer_with_real_agent(bind, name: str, device_id: str) -> tuple[int, int]:
    """A computer and the real agent's row on it, as GLPI's inventory import leaves them."""
    with writing(bind) as conn:
        computer = add_computer(conn, name)
        return computer, add_real_agent(conn, None, device_id, computers_id=computer)


def add_hello_file_collect(engine, tmp_path: Path) -> None:
    """Collect 1 (a file search) finding ``hello.txt`` in a folder of ``tmp_path``: what a
    Collect run of the real agent needs to end Finished."""
    folder = tmp_path / "collect-fixture"
    folder.mkdir()
    (folder / "hello.txt").write_text("hello\n")
    with engine.begin() as conn:
        conn.execute(insert(schema.collects).values(id=1, name="hello", entities_id=0, type="file", is_active=1))
        conn.execute(insert(schema.collects_files).values(
            id=7, name="hello", plugin_fusioninventory_collects_id=1, dir=str(folder), limit=10, is_recursive=0,
            filter_iname="HELLO.TXT", filter_is_file=1, filter_is_dir=0))
