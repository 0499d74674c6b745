"""Deploy end to end through the bridge's own tools: the real agent 2.6 (``--tasks deploy``)
installs packages made with ``fusion-bridge deploy …``, on each database.

Only the computers and their agents go into the database directly (GLPI's inventory import makes
them); everything else is the command line of THIS checkout (``python3 -m fusion_bridge`` with
PYTHONPATH = the repository root) against ``fusion-bridge serve`` of this checkout:
``deploy file add`` of a file of more than 1 MiB (two gzip parts), ``deploy package create``,
```add-check``, ``attach-file``, ``add-action`` (a command judged by its retChecks, a copy of the
file to an output folder), ``deploy mirror add`` (a mirror that is down), ``deploy run``, ``prepare --once``, then the agent.

* The package reaches Finished with the log lines the plugin's ``setStatus`` writes
  (docs/plugin-semantics.md §7.5) and the copied file is byte-identical.
* The getJobs answer for that package (taken from the server for a second computer's run, an
  agent that never runs) has the plugin's shape and key order, and its parts are served only to
  an agent that was handed a job using them: any other hash, agent or moment is refused (403).
* A package whose command fails (made through the admin API this time) ends in Error with the
  step label in the log.

Needs root and the Debian packages ``fusioninventory-agent`` and
``fusioninventory-agent-task-deploy``: when one is missing these tests fail, they never skip.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from schema.constants import ItemType, TaskjobLogState as Log, TaskjobState as State
from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import cli_json, prepare_once
from tests.helpers.e2e_tasks import add_computer_with_real_agent, context, run_deploy_agent
from tests.helpers.task_rows import run_logs, run_of, run_state

pytestmark = pytest.mark.e2e

DEVICEID = "e2e-deploy-cli-2026-11-25-19-00-00"
# A second computer's agent that never runs: its getJobs answer is read by the test.
OBSERVER_DEVICEID = "e2e-deploy-observer-2026-11-25-19-00-00"
# Nothing listens on port 1 of the loopback (as in recording g1).
DEAD_MIRROR = "http://127.0.0.1:1/deploy/"
AGENT_DEPLOY_VERSION = "2.8"
CHECKSUM_COMMAND = "sha512sum < payload.bin; echo '?a=1&param=2'"  # what the Debian agent 2.6 sends as its Deploy task version
ADMIN_TOKEN = "e2e-admin-token"
# What the agent may log about the dead mirror.
DEAD_MIRROR_LINES = re.compile(r"127\.0\.0\.1:1\b")


@pytest.fixture
def repository_dir(tmp_path) -> Path:
    return tmp_path / "deploy-repository"


@pytest.fixture
def bridge(request, monkeypatch, repository_dir):
    # ``serve`` reads the repository setting from the environment it inherits.
    monkeypatch.setenv("FUSION_BRIDGE_DEPLOY_REPOSITORY", str(repository_dir))
    monkeypatch.setenv("FUSION_BRIDGE_ADMIN_TOKEN", ADMIN_TOKEN)
    return request.getfixturevalue("server")


def http_get(server, query: str) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{server.port}/plugins/fusioninventory/b/deploy/?{query}"
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def admin_post(server, path: str, body: dict) -> dict:
    """POST a JSON body to the admin API (``/api/deploy/…``); its JSON answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/deploy/{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            assert reply.status == 201, reply.status
            return json.loads(reply.read())
    except urllib.error.HTTPError as error:
        pytest.fail(f"POST /api/deploy/{path}: HTTP {error.code} {error.read()[:500]!r}\n{server.tail()}")


def part_query(deviceid: str, part: str) -> str:
    return f"action=getFilePart&machineid={deviceid}&file=/{part[0]}/{part[:2]}/{part}"


def test_package_made_with_the_cli_is_installed_by_the_agent(deploy_task, bridge, engine, database_url,
                                                             repository_dir, tmp_path):
    computer, agent = add_computer_with_real_agent(engine, "e2e-pc", DEVICEID)
    observer_computer, observer = add_computer_with_real_agent(engine, "e2e-observer", OBSERVER_DEVICEID)
    data = os.urandom(1024 * 1024 + 300 * 1024)
    source = tmp_path / "payload.bin"
    source.write_bytes(data)
    sha512 = hashlib.sha512(data).hexdigest()
    out = tmp_path / "out"
    out.mkdir()

    def deploy(*args: str) -> object:
        return cli_json(database_url, "deploy", *args, FUSION_BRIDGE_DEPLOY_REPOSITORY=str(repository_dir))

    stored = deploy("file", "add", str(source))
    assert (stored["sha512"], stored["parts"], stored["added"]) == (sha512, 2, True), stored
    parts = (repository_dir / "files" / "manifests" / sha512).read_text().split()
    assert len(parts) == 2, parts
    package = deploy("package", "create", "--name", "e2e cli package", "--comment", "made by the e2e test")
    pid = str(package["id"])
    deploy("package", "add-check", pid, "--type", "directoryExists", "--path", "/tmp", "--name", "tmp exists")
    deploy("package", "add-check", pid, "--type", "freespaceGreater", "--path", "/tmp", "--value", "1",
           "--unit", "MB", "--name", "room for it", "--return", "skip")
    deploy("package", "attach-file", pid, str(stored["id"]))
    # `<` is stored as `&lt;` (GLPI's UI sanitising), `&` as typed: getJobs must hand the agent the
    # command as typed.
    deploy("package", "add-action", pid, "--type", "cmd", "--exec", CHECKSUM_COMMAND, "--name", "checksum",
           "--ok-pattern", sha512, "--error-code", "1")
    deploy("package", "add-action", pid, "--type", "mkdir", "--path", f"{out}/made/a", "--path", f"{out}/made/b",
           "--name", "make dirs")
    deploy("package", "add-action", pid, "--type", "copy", "--from", "payload.bin", "--to", f"{out}/made/a/",
           "--name", "copy out")
    # A mirror that is down comes first: the agent falls back to the bridge, which comes last.
    deploy("mirror", "add", "--name", "down", "--url", DEAD_MIRROR)
    task = deploy("run", pid, "--computer", str(computer), "--computer", str(observer_computer))
    assert task["is_active"], task
    prepare_once(database_url)
    run, observer_run = run_of(engine, agent), run_of(engine, observer)
    assert run["state"] == observer_run["state"] == State.PREPARED

    # Parts go only to an agent that was handed a job using them: not before getJobs.
    assert http_get(bridge, part_query(OBSERVER_DEVICEID, parts[0]))[0] == 403

    status, body = http_get(bridge, f"action=getJobs&machineid={OBSERVER_DEVICEID}&version={AGENT_DEPLOY_VERSION}")
    assert status == 200, body
    check_get_jobs_answer(body, bridge, sha512, parts, observer_run["uniqid"], out)

    status, first_part = http_get(bridge, part_query(OBSERVER_DEVICEID, parts[0]))
    assert status == 200 and hashlib.sha512(first_part).hexdigest() == parts[0]
    assert gzip.decompress(first_part) == data[:1024 * 1024]
    for refused in (part_query(OBSERVER_DEVICEID, "a" * 128),  # a hash no job of the agent uses
                    part_query(DEVICEID, parts[0]),  # an agent not (yet) handed the job
                    part_query("someone-else", parts[0]),  # an unknown agent
                    f"action=getFilePart&file=/{parts[0][0]}/{parts[0][:2]}/{parts[0]}"):  # no machineid
        assert http_get(bridge, refused)[0] == 403, refused

    agent_run = run_deploy_agent(bridge, tmp_path, DEVICEID)
    ctx = context(agent_run, bridge, engine, run["id"])
    problems = agentlib.problem_lines(agent_run.log, DEAD_MIRROR_LINES)
    assert not problems, "agent complained:\n" + "\n".join(problems) + ctx
    assert f"{DEAD_MIRROR}{parts[0][0]}/{parts[0][:2]}/{parts[0]}" in agent_run.log, ctx
    assert run_state(engine, run["id"]) == State.FINISHED, ctx
    assert (out / "made" / "b").is_dir(), ctx
    copied = out / "made" / "a" / "payload.bin"
    assert copied.is_file() and copied.read_bytes() == data, ctx
    # Both parts came from the bridge, asked for with the agent's own machineid.
    assert all(f"action=getFilePart&machineid={DEVICEID}&file=/{p[0]}/{p[:2]}/{p}" in agent_run.log
               for p in parts), ctx

    logs = run_logs(engine, run["id"], with_item=True)
    assert logs[0][:2] == (Log.PREPARED, "") and logs[1][:2] == (Log.STARTED, ""), ctx
    assert logs[-1] == (Log.OK, "job successfully completed", ItemType.DEPLOY_PACKAGE, package["id"]), ctx
    # setStatus writes "<step label>:<msg>" Running lines, in the order the agent reports.
    running = [comment for state, comment, *_ in logs if state == Log.RUNNING]
    expected = ["Checks:starting", "Checks:check #1, tmp exists passed", "Checks:check #2, room for it passed",
                "Checks:all checks are ok", "Files download:downloading files",
                "Files download:fetching payload.bin", "Files download:payload.bin downloaded",
                "Files download:success", "Files preparation:success", "Actions:checksum, processing success",
                "Actions:make dirs, processing success", "Actions:copy out, processing success"]
    assert [line for line in running if line in expected] == expected, ctx
    assert f"Actions:checksum: {sha512}  -" in running, ctx
    assert "Actions:checksum: ?a=1&amp;param=2" in running, ctx  # HTML-escaped as the plugin stores it
    assert {(itemtype, items_id) for state, _c, itemtype, items_id in logs[2:]} == \
        {(ItemType.DEPLOY_PACKAGE, package["id"])}, ctx

    # A finished job's parts are no longer served to its agent; the observer still holds its job.
    assert http_get(bridge, part_query(DEVICEID, parts[1]))[0] == 403
    assert http_get(bridge, part_query(OBSERVER_DEVICEID, parts[1]))[0] == 200
    assert run_state(engine, observer_run["id"]) == State.SERVER_HAS_SENT_DATA


def check_get_jobs_answer(body: bytes, server, sha512: str, parts: list[str], uuid: str, out: Path) -> None:
    """The getJobs answer has the plugin's shapes and key order (docs/plugin-semantics.md §7.5)."""
    text = body.decode("ascii")
    mirror = (f"http://127.0.0.1:{server.port}/plugins/fusioninventory/b/deploy/?action=getFilePart"
              f"&machineid={OBSERVER_DEVICEID}&file=")
    # PHP's json_encode: slashes escaped.
    assert mirror.replace("/", "\\/") in text, text
    answer = json.loads(text, object_pairs_hook=list)  # pairs in wire order
    assert [key for key, _value in answer] == ["jobs", "associatedFiles"], text
    answer = json.loads(text)
    [job] = answer["jobs"]
    assert list(job) == ["checks", "associatedFiles", "actions", "userinteractions", "uuid"], text
    assert job == {
        "checks": [
            {"name": "tmp exists", "type": "directoryExists", "path": "/tmp", "value": "", "return": "error"},
            {"name": "room for it", "type": "freespaceGreater", "path": "/tmp", "value": "1", "return": "skip"}],
        "associatedFiles": [sha512],
        "actions": [
            {"cmd": {"exec": CHECKSUM_COMMAND, "name": "checksum", "logLineLimit": "10",
                     "retChecks": [{"type": "errorCode", "values": ["1"]}, {"type": "okPattern", "values": [sha512]}]}},
            {"mkdir": {"list": [f"{out}/made/a", f"{out}/made/b"], "name": "make dirs"}},
            {"copy": {"from": "payload.bin", "to": f"{out}/made/a/", "name": "copy out"}}],
        "userinteractions": [],
        "uuid": uuid,
    }, text
    for check in job["checks"]:
        assert list(check) == ["name", "type", "path", "value", "return"], text
    assert list(job["actions"][0]["cmd"]) == ["exec", "name", "logLineLimit", "retChecks"], text
    assert list(answer["associatedFiles"]) == [sha512], text
    entry = answer["associatedFiles"][sha512]
    assert list(entry) == ["name", "p2p", "p2p-retention-duration", "uncompress", "mirrors", "multiparts"], text
    assert entry == {"name": "payload.bin", "p2p": 0, "p2p-retention-duration": 0, "uncompress": 0,
                     "mirrors": [DEAD_MIRROR, mirror], "multiparts": parts}, text


def test_package_whose_command_fails_ends_in_error(deploy_task, bridge, engine, database_url, tmp_path):
    _computer, agent = add_computer_with_real_agent(engine, "e2e-pc", DEVICEID)

    # This time through the admin API of the running server.
    package = admin_post(bridge, "packages", {"name": "e2e failing package"})
    # Codes are stored as strings ("0"), as GLPI's form stores them: the agent must still match them.
    admin_post(bridge, f"packages/{package['id']}/actions", {
        "type": "cmd", "exec": "echo fine", "name": "succeeds", "retChecks": [{"type": "okCode", "values": [0]}]})
    admin_post(bridge, f"packages/{package['id']}/actions", {
        "type": "cmd", "exec": "echo about to fail; exit 3", "name": "fails",
        "retChecks": [{"type": "okCode", "values": [0]}]})
    admin_post(bridge, f"packages/{package['id']}/actions", {"type": "cmd", "exec": "echo never", "name": "not reached"})
    admin_post(bridge, f"packages/{package['id']}/deploy", {"agents": [agent]})
    prepare_once(database_url)
    run = run_of(engine, agent)
    assert run["state"] == State.PREPARED

    agent_run = run_deploy_agent(bridge, tmp_path, DEVICEID)
    ctx = context(agent_run, bridge, engine, run["id"])
    assert run_state(engine, run["id"]) == State.IN_ERROR, ctx
    logs = run_logs(engine, run["id"], with_item=True)
    comments = [(state, comment) for state, comment, *_ in logs]
    assert comments[-1] == (Log.ERROR, "Actions:fails, processing failure"), ctx
    assert logs[-1][2:] == (ItemType.DEPLOY_PACKAGE, package["id"]), ctx
    assert (Log.RUNNING, "Actions:succeeds, processing success") in comments, ctx
    assert (Log.RUNNING, "Actions:fails: about to fail") in comments, ctx
    assert not any("not reached" in comment or "never" in comment for _state, comment in comments), ctx
