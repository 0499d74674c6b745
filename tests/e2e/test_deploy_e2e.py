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
import subprocess

import pytest
from sqlalchemy import insert

import schema
from fusion_bridge.adapters.deploy_repository import FileRepository
from fusion_bridge.domain.text import php_json
from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State
from tests.e2e import agent as agentlib
from tests.e2e.test_agent_e2e import server  # noqa: F401 - the fusion-bridge serve fixture
from tests.e2e.test_rest_tasks_e2e import add_agent_and_task, context, logs_of, prepare, run_agent, state_of

pytestmark = pytest.mark.e2e

PACKAGE = (ItemType.DEPLOY_PACKAGE, 1)


@pytest.fixture(scope="module")
def deploy_task() -> None:
    try:
        binary = agentlib.agent_binary()
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    listed = subprocess.run([binary, "--list-tasks"], capture_output=True, text=True, timeout=60)
    if not re.search(r"^\s*Deploy \(v", listed.stdout + listed.stderr, re.M):
        pytest.fail("the agent has no Deploy task: apt-get install -y fusioninventory-agent-task-deploy\n"
                    + listed.stdout + listed.stderr)


@pytest.fixture
def repository(tmp_path) -> FileRepository:
    return FileRepository(tmp_path / "deploy-repository")


@pytest.fixture
def deploy_server(request, monkeypatch, repository):
    # ``fusion-bridge serve`` (this checkout's, see ``serve_command``) reads its settings from
    # the environment it inherits.
    monkeypatch.setenv("FUSION_BRIDGE_DEPLOY_REPOSITORY", str(repository.root))
    return request.getfixturevalue("server")


def add_package(engine, jobs: dict, files: dict | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(insert(schema.deploypackages).values(
            id=1, name="e2e package", entities_id=0, is_recursive=1,
            json=php_json({"jobs": jobs, "associatedFiles": files or []})))


def deploy(deploy_server, engine, tmp_path) -> tuple[agentlib.AgentRun, int, str]:
    add_agent_and_task(engine, Method.DEPLOY, PACKAGE)
    run_id = prepare(engine, PACKAGE)
    run = run_agent(deploy_server, "deploy", tmp_path)
    ctx = context(run, deploy_server, engine, run_id)
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    assert "running task Deploy" in run.log, ctx
    assert "b/deploy/?action=getJobs" in run.log, ctx
    return run, run_id, ctx


def test_file_downloaded_from_the_bridge_and_command_run_to_finished(deploy_task, deploy_server, engine,
                                                                      repository, tmp_path):
    data = os.urandom(1024 * 1024 + 300 * 1024)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)
    stored = repository.add_file(engine, source, "payload.bin")
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
    add_package(engine, jobs, {stored.sha512: {"name": "payload.bin", "p2p": 0, "p2p-retention-duration": 0,
                                               "uncompress": 0}})

    run, run_id, ctx = deploy(deploy_server, engine, tmp_path)
    assert not agentlib.problem_lines(run.log), "agent complained:\n" + "\n".join(agentlib.problem_lines(run.log)) + ctx
    # Both parts came from the bridge's getFilePart, with the agent's machineid.
    fetched = set(re.findall(r"action=getFilePart&machineid=[^&\s]+&file=/\w/\w\w/([0-9a-f]{128})", run.log))
    assert fetched == set(stored.parts), f"parts fetched: {fetched}{ctx}"
    assert state_of(engine, run_id) == State.FINISHED, ctx
    copied = out / "payload.bin"
    assert copied.is_file() and hashlib.sha512(copied.read_bytes()).digest() == hashlib.sha512(data).digest(), ctx

    logs = logs_of(engine, run_id)
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
    add_package(engine, jobs)

    run, run_id, ctx = deploy(deploy_server, engine, tmp_path)
    assert state_of(engine, run_id) == State.IN_ERROR, ctx
    comments = [(state, comment) for state, comment, *_ in logs_of(engine, run_id)]
    assert comments[-1] == (Log.ERROR, "Actions:fails, processing failure"), ctx
    assert (Log.RUNNING, "Actions:fails: about to fail") in comments, ctx
    assert not any("not reached" in comment for _state, comment in comments), ctx
