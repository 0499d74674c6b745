"""Collect and ESX end to end: the real agent 2.6 against ``fusion-bridge serve``, on each database.

The task rows go in as GLPI's UI writes them and the bridge's preparation makes the run; the
agent (foreground, ``--tasks collect`` / ``--tasks esx``, isolated as in tests/e2e/agent.py, on
the host's loopback) asks getConfig, getJobs and reports. Collect: a ``findFile`` on a folder
made here, answered by POST with the token rotated, reaches Finished with the file rows stored.
ESX: a host at 127.0.0.1:1 (closed port, as in recording g1) reaches Error with the agent's
"Can't connect" message. Needs root and the Debian packages ``fusioninventory-agent``,
``fusioninventory-agent-task-collect``, ``fusioninventory-agent-task-esx``: when one is missing
these tests fail, they never skip.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

import schema
from schema.constants import ItemType, Method, Module, TaskjobLogState as Log, TaskjobState as State
from tests import task_rows
from tests.e2e import agent as agentlib
from tests.e2e.test_agent_e2e import server  # noqa: F401 - the fusion-bridge serve fixture

pytestmark = pytest.mark.e2e

AGENT_TIMEOUT = 120
DEVICEID = "e2e-rest-2026-11-25-14-54-18"
AGENT_ID = 9
COMPUTER_ID = 42

runs_t, logs_t = schema.taskjobstates, schema.taskjoblogs


def items(itemtype: str, item_id: int) -> str:
    return json.dumps([{itemtype: str(item_id)}], separators=(",", ":"))


@pytest.fixture(scope="module")
def agent_tasks() -> None:
    try:
        binary = agentlib.agent_binary()
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    listed = subprocess.run([binary, "--list-tasks"], capture_output=True, text=True, timeout=60)
    out = listed.stdout + listed.stderr
    for task, package in (("Collect", "collect"), ("ESX", "esx")):
        if not re.search(rf"^\s*{task} \(v", out, re.M):
            pytest.fail(f"the agent has no {task} task: apt-get install -y "
                        f"fusioninventory-agent-task-{package}\n{out}")


def add_agent_and_task(engine, method: str, target: tuple[str, int]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(schema.agents).values(
            id=AGENT_ID, name=DEVICEID, device_id=DEVICEID, entities_id=0, is_recursive=1, token="12345678",
            useragent="FusionInventory-Agent_v2.6", computers_id=COMPUTER_ID, lock=0))
        task_rows.add_task(conn, 1)
        task_rows.add_job(conn, 1, 1, method, items(*target), items(ItemType.AGENT, AGENT_ID))


def prepare(engine, target: tuple[str, int]) -> int:
    from fusion_bridge.services.scheduling.preparation import prepare_runs

    report = prepare_runs(engine)
    assert not report.busy and not report.errors, report.lines()
    with engine.connect() as conn:
        rows = conn.execute(select(runs_t).where(runs_t.c.plugin_fusioninventory_taskjobs_id == 1)).all()
    assert len(rows) == 1, f"expected one run, found {rows} ({report.lines()})"
    run = rows[0]
    assert (run.state, run.itemtype, run.items_id, run.plugin_fusioninventory_agents_id) == \
        (State.PREPARED, target[0], target[1], AGENT_ID), run
    return run.id


def run_agent(server, tasks: str, tmp_path: Path) -> agentlib.AgentRun:
    url = f"http://127.0.0.1:{server.port}/plugins/fusioninventory/"
    try:
        return agentlib.run_agent(url, tasks, deviceid=DEVICEID, timeout=AGENT_TIMEOUT, workdir=tmp_path / "agent",
                                  debug=2)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the agent did not finish within {AGENT_TIMEOUT} s:\n"
                    f"{(expired.stderr or b'').decode(errors='replace')[-3000:]}")


def logs_of(engine, run_id: int) -> list[tuple[int, str, str, int]]:
    with engine.connect() as conn:
        return [(row.state, row.comment, row.itemtype, row.items_id) for row in conn.execute(
            select(logs_t).where(logs_t.c.plugin_fusioninventory_taskjobstates_id == run_id).order_by(logs_t.c.id))]


def state_of(engine, run_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(select(runs_t.c.state).where(runs_t.c.id == run_id)).scalar()


def context(run: agentlib.AgentRun, server, engine, run_id: int) -> str:
    return (f"\n--- agent log (end) ---\n{run.log[-5000:]}\n--- server log (end) ---\n{server.log_tail()}"
            f"\n--- run {run_id}: state {state_of(engine, run_id)}, logs {logs_of(engine, run_id)}")


def test_collect_find_file_to_finished(agent_tasks, server, engine, tmp_path):
    folder = tmp_path / "collect-fixture"
    (folder / "sub").mkdir(parents=True)
    (folder / "hello.txt").write_text("hello\n")
    (folder / "sub" / "HELLO.txt").write_text("hello again\n")
    (folder / "other.log").write_text("not this one\n")
    with engine.begin() as conn:
        conn.execute(insert(schema.collects).values(id=1, name="hello files", entities_id=0, type="file",
                                                    is_active=1))
        conn.execute(insert(schema.collects_files).values(
            id=7, name="hello", plugin_fusioninventory_collects_id=1, dir=str(folder), limit=10, is_recursive=1,
            filter_iname="HELLO.TXT", filter_is_file=1, filter_is_dir=0))
    add_agent_and_task(engine, Method.COLLECT, (ItemType.COLLECT, 1))
    run_id = prepare(engine, (ItemType.COLLECT, 1))

    run = run_agent(server, "collect", tmp_path)
    ctx = context(run, server, engine, run_id)
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    assert not agentlib.problem_lines(run.log), "agent complained:\n" + "\n".join(agentlib.problem_lines(run.log)) + ctx
    assert "running task Collect" in run.log, ctx
    # Both answers were POSTed, each with the token the previous reply handed out.
    tokens = re.findall(r"\[http client\] POST: .*_glpi_csrf_token=([0-9a-f]+)", run.log)
    assert len(tokens) == 2 and len(set(tokens)) == 2, f"POSTed tokens {tokens}{ctx}"
    assert state_of(engine, run_id) == State.FINISHED, ctx

    expected = {(str(folder / "hello.txt"), 6), (str(folder / "sub" / "HELLO.txt"), 12)}
    with engine.connect() as conn:
        stored = {(row.pathfile, row.size) for row in conn.execute(
            select(schema.collects_files_contents).where(
                schema.collects_files_contents.c.computers_id == COMPUTER_ID,
                schema.collects_files_contents.c.plugin_fusioninventory_collects_files_id == 7))}
    assert stored == expected, ctx
    logs = logs_of(engine, run_id)
    assert logs[0][:2] == (Log.PREPARED, "") and logs[1] == (Log.STARTED, "", ItemType.AGENT, AGENT_ID), ctx
    assert logs[-1] == (Log.OK, "", ItemType.COLLECT, 1), ctx
    running = sorted(comment for state, comment, *_ in logs if state == Log.RUNNING)
    assert running == sorted(f"file {path} | size {size}" for path, size in expected), ctx
    infos = [json.loads(comment) for state, comment, *_ in logs if state == Log.INFO]
    assert sorted((info["7"]["path"], int(info["7"]["size"])) for info in infos) == sorted(expected), ctx


def test_esx_unreachable_host_to_error(agent_tasks, server, engine, tmp_path):
    with engine.begin() as conn:
        conn.execute(insert(schema.credentials).values(id=1, name="esx", username="root", password="secret",
                                                       itemtype="PluginFusioninventoryInventoryComputerESX"))
        conn.execute(insert(schema.credentialips).values(id=1, name="esx01", plugin_fusioninventory_credentials_id=1,
                                                         ip="127.0.0.1:1"))
        # InventoryComputerESX is inactive at install: enable it as GLPI's UI would.
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == Module.ESX)
                     .values(is_active=1))
    add_agent_and_task(engine, Method.ESX, (ItemType.CREDENTIAL_IP, 1))
    run_id = prepare(engine, (ItemType.CREDENTIAL_IP, 1))

    run = run_agent(server, "esx", tmp_path)
    ctx = context(run, server, engine, run_id)
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    assert "running task ESX" in run.log, ctx
    assert "b/esx/?action=getJobs" in run.log, ctx
    # The agent reports the failed login; its own log may call that an error.
    problems = agentlib.problem_lines(run.log, re.compile(r"Can't connect|connect to 127\.0\.0\.1:1"))
    assert not problems, "agent complained:\n" + "\n".join(problems) + ctx
    assert state_of(engine, run_id) == State.IN_ERROR, ctx
    logs = logs_of(engine, run_id)
    assert [state for state, *_ in logs] == [Log.PREPARED, Log.STARTED, Log.ERROR], ctx
    state, comment, itemtype, items_id = logs[-1]
    assert comment.startswith("500 Can't connect to 127.0.0.1:1"), ctx
    assert (itemtype, items_id) == (ItemType.CREDENTIAL_IP, 1), ctx
