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
from tests.helpers.bridge_server import ROOT, checkout_env, prepare_once
from tests.helpers.e2e_tasks import add_computer_with_real_agent, context, run_deploy_agent
from tests.helpers.task_rows import run_of, run_state

pytestmark = pytest.mark.e2e

DEFAULT_REPOSITORY = "fusion-bridge-files"
DEVICEID = "e2e-deploy-default-2026-11-25-19-00-00"


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
    computer, agent = add_computer_with_real_agent(engine, "e2e-pc", DEVICEID)
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

    agent_run = run_deploy_agent(default_bridge, tmp_path, DEVICEID)
    ctx = context(agent_run, default_bridge, engine, run["id"])
    assert "download failed" not in agent_run.log, ctx
    assert run_state(engine, run["id"]) == State.FINISHED, ctx
    copied = out / "payload.bin"
    assert copied.is_file() and hashlib.sha512(copied.read_bytes()).hexdigest() == stored["sha512"], ctx
