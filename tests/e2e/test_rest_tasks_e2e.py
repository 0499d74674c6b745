"""Collect and ESX end to end: the real agent 2.6 against ``fusion-bridge serve``, on each database.

The task rows go in as GLPI's UI writes them and the bridge's preparation makes the run; the
agent (foreground, ``--tasks collect`` / ``--tasks esx``, isolated as in tests/helpers/real_agent.py, on
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

import pytest
from sqlalchemy import insert, select

import schema
from schema.constants import ItemType, Method, Module, TaskjobLogState as Log, TaskjobState as State
from tests.helpers import real_agent as agentlib
from tests.helpers.e2e_tasks import (REST_AGENT, add_agent_and_task, context, installed_tasks_or_fail,
                                     prepare_one_run, run_real_agent)
from tests.helpers.task_rows import add_esx_host, run_logs, run_state, set_module

pytestmark = pytest.mark.e2e

COMPUTER_ID = 42


@pytest.fixture(scope="module")
def collect_and_esx_tasks() -> str:
    return installed_tasks_or_fail(("Collect", "collect"), ("ESX", "esx"))


def test_collect_find_file_to_finished(collect_and_esx_tasks, server, engine, tmp_path):
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
    add_agent_and_task(engine, REST_AGENT, Method.COLLECT, (ItemType.COLLECT, 1), computers_id=COMPUTER_ID)
    run_id = prepare_one_run(engine, REST_AGENT, 1, (ItemType.COLLECT, 1))

    run = run_real_agent(REST_AGENT, server, "collect", tmp_path / "agent")
    ctx = context(run, server, engine, run_id)
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    assert not agentlib.problem_lines(run.log), "agent complained:\n" + "\n".join(agentlib.problem_lines(run.log)) + ctx
    assert "running task Collect" in run.log, ctx
    # Both answers were POSTed, each with the token the previous reply handed out.
    tokens = re.findall(r"\[http client\] POST: .*_glpi_csrf_token=([0-9a-f]+)", run.log)
    assert len(tokens) == 2 and len(set(tokens)) == 2, f"POSTed tokens {tokens}{ctx}"
    assert run_state(engine, run_id) == State.FINISHED, ctx

    expected = {(str(folder / "hello.txt"), 6), (str(folder / "sub" / "HELLO.txt"), 12)}
    with engine.connect() as conn:
        stored = {(row.pathfile, row.size) for row in conn.execute(
            select(schema.collects_files_contents).where(
                schema.collects_files_contents.c.computers_id == COMPUTER_ID,
                schema.collects_files_contents.c.plugin_fusioninventory_collects_files_id == 7))}
    assert stored == expected, ctx
    logs = run_logs(engine, run_id, with_item=True)
    assert logs[0][:2] == (Log.PREPARED, ""), ctx
    assert logs[1] == (Log.STARTED, "", ItemType.AGENT, REST_AGENT.agent_id), ctx
    assert logs[-1] == (Log.OK, "", ItemType.COLLECT, 1), ctx
    running = sorted(comment for state, comment, *_ in logs if state == Log.RUNNING)
    assert running == sorted(f"file {path} | size {size}" for path, size in expected), ctx
    infos = [json.loads(comment) for state, comment, *_ in logs if state == Log.INFO]
    assert sorted((info["7"]["path"], int(info["7"]["size"])) for info in infos) == sorted(expected), ctx


def test_esx_unreachable_host_to_error(collect_and_esx_tasks, server, engine, tmp_path):
    with engine.begin() as conn:
        add_esx_host(conn, "127.0.0.1:1", password="secret", credential_id=1)
        # InventoryComputerESX is inactive at install: enable it as GLPI's UI would.
        set_module(conn, Module.ESX, True)
    add_agent_and_task(engine, REST_AGENT, Method.ESX, (ItemType.CREDENTIAL_IP, 1), computers_id=COMPUTER_ID)
    run_id = prepare_one_run(engine, REST_AGENT, 1, (ItemType.CREDENTIAL_IP, 1))

    run = run_real_agent(REST_AGENT, server, "esx", tmp_path / "agent")
    ctx = context(run, server, engine, run_id)
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    assert "running task ESX" in run.log, ctx
    assert "b/esx/?action=getJobs" in run.log, ctx
    # The agent reports the failed login; its own log may call that an error.
    problems = agentlib.problem_lines(run.log, re.compile(r"Can't connect|connect to 127\.0\.0\.1:1"))
    assert not problems, "agent complained:\n" + "\n".join(problems) + ctx
    assert run_state(engine, run_id) == State.IN_ERROR, ctx
    logs = run_logs(engine, run_id, with_item=True)
    assert [state for state, *_ in logs] == [Log.PREPARED, Log.STARTED, Log.ERROR], ctx
    state, comment, itemtype, items_id = logs[-1]
    assert comment.startswith("500 Can't connect to 127.0.0.1:1"), ctx
    assert (itemtype, items_id) == (ItemType.CREDENTIAL_IP, 1), ctx
