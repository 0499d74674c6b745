"""Deploy end to end with the DEFAULT repository setting (``FUSION_BRIDGE_DEPLOY_REPOSITORY``
unset, i.e. ``fusion-bridge-files`` in the working directory), run from a working directory that
is not the checkout: ``fusion-bridge deploy …`` and ``fusion-bridge serve`` both started in the
test's own folder, and the real agent 2.6 downloads the file's parts from the bridge.

Before the setting was resolved at start, the CLI stored the parts under the working directory
while ``getFilePart`` looked for them under the installed package's folder (Flask's
``send_file`` resolves a relative path there): every part answered 500 and the agent reported
"download failed". Needs root and the Debian packages ``fusioninventory-agent`` and
``fusioninventory-agent-task-deploy``: when one is missing this test fails, it never skips.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schema.constants import TaskjobState as State
from tests.e2e.test_agent_e2e import ROOT, checkout_env, server  # noqa: F401 - the serve fixture
from tests.e2e.test_deploy_cli_e2e import (DEVICEID, add_computer, context, prepare_once, run_deploy_agent,
                                           run_of)
from tests.e2e.test_deploy_e2e import deploy_task  # noqa: F401 - fails when the Deploy task is missing
from tests.e2e.test_rest_tasks_e2e import state_of

pytestmark = pytest.mark.e2e

DEFAULT_REPOSITORY = "fusion-bridge-files"


@pytest.fixture
def default_bridge(request, monkeypatch, tmp_path):
    """``serve`` in ``tmp_path`` (the server fixture's working directory) with no repository set."""
    monkeypatch.delenv("FUSION_BRIDGE_DEPLOY_REPOSITORY", raising=False)
    assert Path.cwd() != tmp_path and tmp_path != ROOT
    return request.getfixturevalue("server")


def cli_here(workdir: Path, database_url: str, *args: str) -> object:
    """``fusion-bridge <args> --json`` of this checkout, started in ``workdir``, with the
    repository setting left at its default."""
    env = checkout_env()
    env.pop("FUSION_BRIDGE_DEPLOY_REPOSITORY", None)
    done = subprocess.run([sys.executable, "-m", "fusion_bridge", *args, "--database", database_url, "--json"],
                          capture_output=True, text=True, timeout=120, cwd=workdir, env=env)
    assert done.returncode == 0, f"fusion-bridge {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def test_deploy_with_the_default_repository(deploy_task, default_bridge, engine, database_url, tmp_path):
    computer, agent = add_computer(engine, "e2e-pc", DEVICEID)
    data = os.urandom(1024 * 1024 + 4096)  # two parts
    source = tmp_path / "payload.bin"
    source.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()

    stored = cli_here(tmp_path, database_url, "deploy", "file", "add", str(source))
    assert stored["parts"] == 2, stored
    assert (tmp_path / DEFAULT_REPOSITORY / "files" / "manifests" / stored["sha512"]).is_file()
    package = cli_here(tmp_path, database_url, "deploy", "package", "create", "--name", "default repository")
    pid = str(package["id"])
    cli_here(tmp_path, database_url, "deploy", "package", "attach-file", pid, str(stored["id"]))
    cli_here(tmp_path, database_url, "deploy", "package", "add-action", pid, "--type", "copy",
             "--from", "payload.bin", "--to", f"{out}/", "--name", "copy out")
    cli_here(tmp_path, database_url, "deploy", "run", pid, "--computer", str(computer))
    prepare_once(database_url)
    run = run_of(engine, agent)
    assert run["state"] == State.PREPARED

    agent_run = run_deploy_agent(default_bridge, tmp_path)
    ctx = context(agent_run, default_bridge, engine, run["id"])
    assert "download failed" not in agent_run.log, ctx
    assert state_of(engine, run["id"]) == State.FINISHED, ctx
    copied = out / "payload.bin"
    assert copied.is_file() and hashlib.sha512(copied.read_bytes()).hexdigest() == stored["sha512"], ctx
