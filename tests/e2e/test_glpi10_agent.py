"""The real FusionInventory agent 2.6 against ``fusion-bridge serve`` on a GLPI 10 + glpiinventory
1.5.x database (MariaDB, made with ``schema.init_database(engine, flavour="glpiinventory", glpi=10)``:
GLPI 10's exact tables, docs/glpi10-schema.md): Deploy and Collect through the agent's REST calls.

Rows are written and checked with raw SQL on GLPI 10's own table names (tests/helpers/glpi10_rows.py),
never through the bridge's layout: what GLPI itself would read. Tasks are written as GLPI 10's UI
writes them and prepared by the bridge's own preparation. The agent runs on the host's loopback,
isolated as in tests/helpers/real_agent.py. Needs root and the Debian packages
``fusioninventory-agent``, ``-task-deploy``, ``-task-collect``: when one is missing these tests fail,
they never skip.
"""

from __future__ import annotations

import json

import pytest
from schema.detect import detect_flavour
from tests.helpers import glpi10_rows as g10
from tests.helpers.e2e_tasks import installed_tasks_or_fail
from tests.helpers.glpi10_e2e import (GLPI10_DATABASE, RUN_STATES, TASK_LOG_STATES, RunnerAgent, check_agent,
                                      check_prepared, context, run_glpi10_agent)
from tests.helpers.layouts import GLPIINVENTORY

pytestmark = [pytest.mark.e2e, GLPI10_DATABASE]

REST_AGENT = RunnerAgent("e2e-glpi10-rest-2026-11-25-14-54-18", timeout=120)


@pytest.fixture(scope="module")
def rest_tasks() -> str:
    return installed_tasks_or_fail(("Deploy", "deploy"), ("Collect", "collect"))


def test_the_database_is_glpi10(engine):
    with engine.connect() as conn:
        detected = detect_flavour(conn)
    assert (detected.flavour, detected.glpi) == (GLPIINVENTORY, 10), detected


def agent_of_computer(engine, name: str) -> tuple[int, int]:
    """(computer id, agent id): the REST agent as GLPI 10's inventory leaves it, on its computer."""
    computer_id = g10.add_computer(engine, name)
    return computer_id, g10.add_agent(engine, REST_AGENT.deviceid, computer_id=computer_id)


def test_deploy_through_the_rest_calls_to_finished(rest_tasks, server, engine, tmp_path):
    out = tmp_path / "deployed.txt"
    jobs = {"checks": [{"type": "directoryExists", "path": "/tmp", "return": "error", "name": "tmp exists"}],
            "associatedFiles": [],
            "actions": [{"cmd": {"exec": f"echo deployed > {out}", "name": "write",
                                 "retChecks": [{"type": "okCode", "values": [0]}]}}],
            "userinteractions": []}
    package_id = g10.add_package(engine, "e2e glpi10 package", jobs)
    _computer, agent_id = agent_of_computer(engine, "e2e-glpi10-deploy")
    task_id = g10.add_task(engine, "deploy on GLPI 10")
    job_id = g10.add_job(engine, task_id, "install", "deployinstall",
                         [("PluginGlpiinventoryDeployPackage", package_id)],
                         [("Agent", agent_id)])
    run_id = check_prepared(engine, job_id, agent_id, ("PluginGlpiinventoryDeployPackage", package_id))

    run = run_glpi10_agent(REST_AGENT, server, "deploy", tmp_path / "agent")
    ctx = context(run, server, engine, run_id)
    check_agent(run, server, "Deploy", ctx)
    assert "b/deploy/?action=getJobs" in run.log, ctx
    assert out.read_text() == "deployed\n", ctx
    assert g10.run_state(engine, run_id) == RUN_STATES["FINISHED"], ctx
    logs = g10.joblogs(engine, run_id)
    package = ("PluginGlpiinventoryDeployPackage", package_id)
    # GLPI 10 logs the agent's reports on the package, as FusionInventory did.
    assert logs[0] == (TASK_LOG_STATES["PREPARED"], None, 0, ""), ctx
    assert logs[1][0] == TASK_LOG_STATES["STARTED"], ctx
    assert logs[-1] == (TASK_LOG_STATES["OK"], *package, "job successfully completed"), ctx
    running = [(itemtype, items_id, comment) for state, itemtype, items_id, comment in logs
               if state == TASK_LOG_STATES["RUNNING"]]
    assert (*package, "Checks:all checks are ok") in running, ctx
    assert (*package, "Actions:write, processing success") in running, ctx
    assert {(itemtype, items_id) for itemtype, items_id, _ in running} == {package}, ctx


def test_collect_through_the_rest_calls_to_finished(rest_tasks, server, engine, tmp_path):
    folder = tmp_path / "collect-fixture"
    folder.mkdir()
    (folder / "hello.txt").write_text("hello\n")
    (folder / "other.log").write_text("not this one\n")
    collect_id, search_id = g10.add_file_collect(engine, "hello files", str(folder), "HELLO.TXT")
    computer_id, agent_id = agent_of_computer(engine, "e2e-glpi10-collect")
    task_id = g10.add_task(engine, "collect on GLPI 10")
    job_id = g10.add_job(engine, task_id, "collect", "collect", [("PluginGlpiinventoryCollect", collect_id)],
                         [("Agent", agent_id)])
    run_id = check_prepared(engine, job_id, agent_id, ("PluginGlpiinventoryCollect", collect_id))

    run = run_glpi10_agent(REST_AGENT, server, "collect", tmp_path / "agent")
    ctx = context(run, server, engine, run_id)
    check_agent(run, server, "Collect", ctx)
    assert "b/collect/?action=getJobs" in run.log, ctx
    assert g10.run_state(engine, run_id) == RUN_STATES["FINISHED"], ctx
    assert g10.collected_files(engine, search_id) == [(computer_id, str(folder / "hello.txt"), 6)], ctx
    # As GLPI 10 writes them (recorded with this agent): the file search's lines start with its name.
    collect = ("PluginGlpiinventoryCollect", collect_id)
    path = str(folder / "hello.txt")
    logs = g10.joblogs(engine, run_id)
    assert logs[:3] == [
        (TASK_LOG_STATES["PREPARED"], None, 0, ""),
        (TASK_LOG_STATES["STARTED"], "Agent", agent_id, ""),
        (TASK_LOG_STATES["RUNNING"], *collect, f"hello files: file {path} | size 6"),
    ], ctx
    # The Info line holds the agent's answer as JSON, keys in the order the agent sent them
    # (a Perl hash: any order).
    state, itemtype, items_id, comment = logs[3]
    assert (state, itemtype, items_id) == (TASK_LOG_STATES["INFO"], *collect), ctx
    assert comment.startswith("hello files: "), ctx
    assert json.loads(comment[len("hello files: "):]) == {str(search_id): {"size": "6", "path": path}}, ctx
    assert logs[4:] == [(TASK_LOG_STATES["OK"], *collect, "")], ctx
