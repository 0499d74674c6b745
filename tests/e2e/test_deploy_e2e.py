"""Deploy end to end: the real agent 2.6 (``--tasks deploy``) against ``fusion-bridge serve``, on
each database.

A package is stored as GLPI's UI stores it (``json`` column) and the bridge's preparation makes
the run. (a) Its file (random bytes, more than 1 MiB: two gzip parts, put in the repository with
``FileRepository.add_file``) is downloaded part by part from the bridge's own mirror URL
(``getFilePart``), reassembled by the agent, checked with ``sha512sum`` against an ``okPattern``
and copied out: the run reaches Finished with the plugin's log lines and the copy is
byte-identical. (b) A command exiting 1 with ``okCode`` 0 ends the run in Error. Needs root and
the Debian packages ``fusioninventory-agent`` and ``fusioninventory-agent-task-deploy``: when
one is missing these tests fail, they never skip.
"""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State
from tests.helpers import real_agent as agentlib
from tests.helpers.e2e_tasks import REST_AGENT, add_agent_and_task, context, prepare_one_run, run_real_agent
from tests.helpers.task_rows import add_package, run_logs, run_state

pytestmark = pytest.mark.e2e

PACKAGE = (ItemType.DEPLOY_PACKAGE, 1)


@pytest.fixture
def deploy_server(request, monkeypatch, deploy_repository):
    # ``fusion-bridge serve`` (this checkout's, see ``serve_command``) reads its settings from
    # the environment it inherits.
    monkeypatch.setenv("FUSION_BRIDGE_DEPLOY_REPOSITORY", str(deploy_repository.root))
    return request.getfixturevalue("server")


def deploy(deploy_server, engine, tmp_path) -> tuple[agentlib.AgentRun, int, str]:
    add_agent_and_task(engine, REST_AGENT, Method.DEPLOY, PACKAGE)
    run_id = prepare_one_run(engine, REST_AGENT, 1, PACKAGE)
    run = run_real_agent(REST_AGENT, deploy_server, "deploy", tmp_path / "agent")
    ctx = context(run, deploy_server, engine, run_id)
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    assert "running task Deploy" in run.log, ctx
    assert "b/deploy/?action=getJobs" in run.log, ctx
    return run, run_id, ctx


def test_file_downloaded_from_the_bridge_and_command_run_to_finished(deploy_task, deploy_server, engine,
                                                                      deploy_repository, tmp_path):
    data = os.urandom(1024 * 1024 + 300 * 1024)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)
    stored = deploy_repository.add_file(engine, source, "payload.bin")
    assert len(stored.parts) == 2
    out = tmp_path / "out"
    out.mkdir()
    jobs = {"checks": [{"type": "directoryExists", "path": "/tmp", "return": "error", "name": "tmp exists"}],
            "associatedFiles": [stored.sha512],
            "actions": [
                {"cmd": {"exec": "sha512sum payload.bin", "name": "checksum", "logLineLimit": 10,
                         "retChecks": [{"type": "okPattern", "values": [stored.sha512]}]}},
                {"cmd": {"exec": f"cp payload.bin {out}/payload.bin", "name": "copy out",
                         "retChecks": [{"type": "okCode", "values": [0]}]}}],
            "userinteractions": []}
    files = {stored.sha512: {"name": "payload.bin", "p2p": 0, "p2p-retention-duration": 0, "uncompress": 0}}
    add_package(engine, jobs, files, package_id=1, name="e2e package", is_recursive=1)

    run, run_id, ctx = deploy(deploy_server, engine, tmp_path)
    assert not agentlib.problem_lines(run.log), "agent complained:\n" + "\n".join(agentlib.problem_lines(run.log)) + ctx
    # Both parts came from the bridge's getFilePart, with the agent's machineid.
    fetched = set(re.findall(r"action=getFilePart&machineid=[^&\s]+&file=/\w/\w\w/([0-9a-f]{128})", run.log))
    assert fetched == set(stored.parts), f"parts fetched: {fetched}{ctx}"
    assert run_state(engine, run_id) == State.FINISHED, ctx
    copied = out / "payload.bin"
    assert copied.is_file() and hashlib.sha512(copied.read_bytes()).digest() == hashlib.sha512(data).digest(), ctx

    logs = run_logs(engine, run_id, with_item=True)
    comments = [(state, comment) for state, comment, *_ in logs]
    assert comments[0] == (Log.PREPARED, "") and logs[1][:2] == (Log.STARTED, ""), ctx
    assert comments[-1] == (Log.OK, "job successfully completed"), ctx
    for line in ("Checks:starting", "Checks:check #1, tmp exists passed", "Checks:all checks are ok",
                 "Files download:downloading files", "Files download:fetching payload.bin",
                 "Files download:payload.bin downloaded", "Files download:success", "Files preparation:success",
                 "Actions:checksum, processing success", "Actions:copy out, processing success"):
        assert (Log.RUNNING, line) in comments, f"missing log {line!r}{ctx}"
    assert any(state == Log.RUNNING and comment.startswith(f"Actions:checksum: {stored.sha512}")
               for state, comment in comments), ctx
    # Every log of the agent's reports carries the package.
    assert {(itemtype, items_id) for state, _c, itemtype, items_id in logs if state == Log.RUNNING} == {PACKAGE}, ctx


def test_failing_command_ends_in_error(deploy_task, deploy_server, engine, tmp_path):
    jobs = {"checks": [], "associatedFiles": [],
            "actions": [{"cmd": {"exec": "echo about to fail; exit 1", "name": "fails",
                                 "retChecks": [{"type": "okCode", "values": [0]}]}},
                        {"cmd": {"exec": "echo never", "name": "not reached"}}],
            "userinteractions": []}
    add_package(engine, jobs, package_id=1, name="e2e package", is_recursive=1)

    run, run_id, ctx = deploy(deploy_server, engine, tmp_path)
    assert run_state(engine, run_id) == State.IN_ERROR, ctx
    comments = [(state, comment) for state, comment, *_ in run_logs(engine, run_id, with_item=True)]
    assert comments[-1] == (Log.ERROR, "Actions:fails, processing failure"), ctx
    assert (Log.RUNNING, "Actions:fails: about to fail") in comments, ctx
    assert not any("not reached" in comment for _state, comment in comments), ctx
