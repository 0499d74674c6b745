"""Deploy over REST (docs/plugin-semantics.md §7.5, docs/agent-protocol.md §5.2), replaying the requests of
recordings e1 (one job, success) and e5 (a skipped job, a failing job) of the real agent 2.6."""

from datetime import datetime

import pytest
from sqlalchemy import insert, select, update

import schema
from schema.constants import ItemType, Method, Module, TaskjobLogState as Log, TaskjobState as State
from tests.helpers.deploy_rest import DEPLOY, DEVICE, E1_JOBS, add_deploy_run, get
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_job, add_run, run_logs, run_state, set_module

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

E5_SKIPPED = {"checks": [{"type": "fileExists", "path": "/nonexistent/fusrec", "return": "skip",
                          "name": "needs missing file"}],
              "associatedFiles": [], "actions": E1_JOBS["actions"], "userinteractions": []}
E5_FAILING = {"checks": [], "associatedFiles": [],
              "actions": [{"cmd": {"exec": "echo first; echo second &gt;&2; exit 3", "name": "fails",
                                   "retChecks": [{"type": "okCode", "values": [0]}]}},
                          {"cmd": {"exec": "echo never", "name": "not reached"}}],
              "userinteractions": []}

# The setStatus query strings the agent sent in e1 (after getJobs), verbatim.
E1_STATUS = """\
action=setStatus&currentStep=checking&uuid=fixture-deploy-job-0001&part=job&machineid=vm-2026-11-25-14-54-18&msg=starting
action=setStatus&msg=check%20%231%2C%20tmp%20exists%20passed&status=ok&part=job&machineid=vm-2026-11-25-14-54-18&uuid=fixture-deploy-job-0001&currentStep=checking
action=setStatus&msg=all%20checks%20are%20ok&status=ok&part=job&machineid=vm-2026-11-25-14-54-18&uuid=fixture-deploy-job-0001&currentStep=checking
action=setStatus&machineid=vm-2026-11-25-14-54-18&part=job&msg=downloading%20files&currentStep=downloading&uuid=fixture-deploy-job-0001
action=setStatus&currentStep=downloading&uuid=fixture-deploy-job-0001&status=ok&part=job&machineid=vm-2026-11-25-14-54-18&msg=success
action=setStatus&currentStep=prepare&uuid=fixture-deploy-job-0001&status=ok&part=job&machineid=vm-2026-11-25-14-54-18&msg=success
action=setStatus&uuid=fixture-deploy-job-0001&currentStep=processing&msg=say%20hello%3A%20%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D%3D&machineid=vm-2026-11-25-14-54-18&part=job
action=setStatus&currentStep=processing&uuid=fixture-deploy-job-0001&part=job&machineid=vm-2026-11-25-14-54-18&msg=say%20hello%3A%20Started%20cmd%3A%20echo%20hello
action=setStatus&uuid=fixture-deploy-job-0001&currentStep=processing&msg=say%20hello%3A%20hello&part=job&machineid=vm-2026-11-25-14-54-18
action=setStatus&msg=say%20hello%3A%20exit%20status%3A%20%600%27&part=job&machineid=vm-2026-11-25-14-54-18&uuid=fixture-deploy-job-0001&currentStep=processing
action=setStatus&msg=say%20hello%2C%20processing%20success&status=ok&part=job&machineid=vm-2026-11-25-14-54-18&uuid=fixture-deploy-job-0001&currentStep=processing
action=setStatus&uuid=fixture-deploy-job-0001&msg=job%20successfully%20completed&status=ok&part=job&machineid=vm-2026-11-25-14-54-18"""
E1_LOGS = ["Checks:starting", "Checks:check #1, tmp exists passed", "Checks:all checks are ok",
           "Files download:downloading files", "Files download:success", "Files preparation:success",
           "Actions:say hello: ================================", "Actions:say hello: Started cmd: echo hello",
           "Actions:say hello: hello", "Actions:say hello: exit status: `0'", "Actions:say hello, processing success"]

E5_STATUS = """\
action=setStatus&uuid=fixture-deploy-job-0002&currentStep=checking&msg=starting&part=job&machineid=vm-2026-11-25-14-54-18
action=setStatus&part=job&machineid=vm-2026-11-25-14-54-18&currentStep=checking&msg=check%20%231%2C%20needs%20missing%20file%20not%20successful%20then%20skip%20job&status=ok&uuid=fixture-deploy-job-0002
action=setStatus&status=ok&uuid=fixture-deploy-job-0002&part=job&machineid=vm-2026-11-25-14-54-18&currentStep=checking&msg=job%20skipped
action=setStatus&uuid=fixture-deploy-job-0003&msg=starting&currentStep=checking&machineid=vm-2026-11-25-14-54-18&part=job
action=setStatus&uuid=fixture-deploy-job-0003&status=ok&msg=success&currentStep=prepare&machineid=vm-2026-11-25-14-54-18&part=job
action=setStatus&currentStep=processing&msg=fails%3A%20Started%20cmd%3A%20echo%20first%3B%20echo%20second%20%3E%262%3B%20exit%203&part=job&machineid=vm-2026-11-25-14-54-18&uuid=fixture-deploy-job-0003
action=setStatus&uuid=fixture-deploy-job-0003&currentStep=processing&msg=fails%3A%20exit%20status%3A%20%603%27&part=job&machineid=vm-2026-11-25-14-54-18
action=setStatus&part=job&machineid=vm-2026-11-25-14-54-18&currentStep=processing&msg=fails%2C%20processing%20failure&status=ko&uuid=fixture-deploy-job-0003"""


def replay(client, lines):
    for line in lines.splitlines():
        response = client.get(f"{DEPLOY}?{line}")
        assert (response.status_code, response.data) == (200, b"{}"), (line, response.data)


def test_e1_get_config_get_jobs_and_status_sequence_to_finished(client, engine, deploy_agents):
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, E1_JOBS, uniqid="fixture-deploy-job-0001")
    config = client.get(f"/plugins/fusioninventory/?action=getConfig&task%5BDeploy%5D=2.8&machineid={DEVICE}")
    assert config.data == (b'{"configValidityPeriod":600,"schedule":[{"task":"Deploy","remote":'
                           b'"http:\\/\\/localhost\\/plugins\\/fusioninventory\\/b\\/deploy\\/"}]}')
    response = client.get(f"{DEPLOY}?action=getJobs&machineid={DEVICE}&version=2.8")
    assert response.status_code == 200
    assert response.data == (
        b'{"jobs":[{"checks":[{"type":"directoryExists","path":"\\/tmp","return":"error","name":"tmp exists"}],'
        b'"associatedFiles":[],"actions":[{"cmd":{"exec":"echo hello","name":"say hello","logLineLimit":10,'
        b'"retChecks":[{"type":"okCode","values":[0]}]}}],"userinteractions":[],"uuid":"fixture-deploy-job-0001"}],'
        b'"associatedFiles":{}}')
    assert run_state(engine, 1) == State.SERVER_HAS_SENT_DATA
    assert run_logs(engine, 1) == [(Log.STARTED, "")]
    # Handed out: no longer scheduled, and asked again it is nothing to do.
    assert client.get(f"/plugins/fusioninventory/?action=getConfig&task%5BDeploy%5D=2.8&machineid={DEVICE}") \
        .json["schedule"] == []
    replay(client, E1_STATUS)
    assert run_state(engine, 1) == State.FINISHED
    assert run_logs(engine, 1) == [(Log.STARTED, "")] + [(Log.RUNNING, text) for text in E1_LOGS] + [
        (Log.OK, "job successfully completed")]
    assert get(client, action="getJobs", machineid=DEVICE, version="2.8").data == b"{}"


def test_e5_skipped_job_finishes_and_failing_command_ends_in_error(client, engine, deploy_agents):
    with engine.begin() as conn:
        add_deploy_run(conn, 2, 2, E5_SKIPPED, uniqid="fixture-deploy-job-0002")
        add_deploy_run(conn, 3, 3, E5_FAILING, uniqid="fixture-deploy-job-0003")
    jobs = get(client, action="getJobs", machineid=DEVICE, version="2.8").json["jobs"]
    assert [job["uuid"] for job in jobs] == ["fixture-deploy-job-0002", "fixture-deploy-job-0003"]
    # GLPI stores commands HTML-encoded; the agent gets them as typed.
    assert jobs[1]["actions"][0]["cmd"]["exec"] == "echo first; echo second >&2; exit 3"
    assert jobs[0]["checks"][0]["return"] == "skip"
    replay(client, E5_STATUS)
    assert run_state(engine, 2) == State.FINISHED
    assert run_logs(engine, 2) == [(Log.STARTED, ""), (Log.RUNNING, "Checks:starting"),
                                   (Log.RUNNING, "Checks:check #1, needs missing file not successful then skip job"),
                                   (Log.OK, "job skipped")]
    assert run_state(engine, 3) == State.IN_ERROR
    assert run_logs(engine, 3) == [
        (Log.STARTED, ""), (Log.RUNNING, "Checks:starting"), (Log.RUNNING, "Files preparation:success"),
        # Stored HTML-escaped, as the plugin does.
        (Log.RUNNING, "Actions:fails: Started cmd: echo first; echo second &gt;&amp;2; exit 3"),
        (Log.RUNNING, "Actions:fails: exit status: `3'"), (Log.ERROR, "Actions:fails, processing failure")]


def test_action_level_check_failure_keeps_the_run_going(client, engine, deploy_agents):
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, E1_JOBS, uniqid="job-a")
        add_deploy_run(conn, 2, 2, E1_JOBS, uniqid="job-b")
    get(client, action="getJobs", machineid=DEVICE, version="2.8")
    # After the files preparation, a ko at "checking" is an action's own check: logged only.
    get(client, action="setStatus", machineid=DEVICE, uuid="job-a", status="ok", currentStep="prepare", msg="success")
    get(client, action="setStatus", machineid=DEVICE, uuid="job-a", status="ko", currentStep="checking",
        msg="check #1, failure on x, /y file is missing", actionnum="1")
    assert run_state(engine, 1) == State.SERVER_HAS_SENT_DATA
    assert run_logs(engine, 1)[-1] == (Log.RUNNING, "Checks:check #1, failure on x, /y file is missing")
    # Before it, it is the job's check: the run fails.
    get(client, action="setStatus", machineid=DEVICE, uuid="job-b", status="ko", currentStep="checking", msg="no")
    assert run_state(engine, 2) == State.IN_ERROR
    assert run_logs(engine, 2)[-1] == (Log.ERROR, "Checks:no")


def test_message_arrays_lines_and_column_size(client, engine, deploy_agents):
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, E1_JOBS, uniqid="job-a")
    get(client, action="getJobs", machineid=DEVICE, version="2.8")
    response = client.get(f"{DEPLOY}?action=setStatus&machineid={DEVICE}&uuid=job-a&currentStep=processing"
                          "&msg[]=line%201&msg[]=%3Cb%3E%22two%22%3C/b%3E&msg[]=%F0%9F%98%80")
    assert response.status_code == 200
    assert run_logs(engine, 1)[-1] == (
        Log.RUNNING, "Actions:line 1<br />\n&lt;b&gt;&quot;two&quot;&lt;/b&gt;<br />\n\ufffd")
    long = "\u00e9" * 40000  # 80000 bytes of UTF-8: more than a TEXT column holds
    assert get(client, action="setStatus", machineid=DEVICE, uuid="job-a", msg=long).status_code == 200
    stored = run_logs(engine, 1)[-1][1]
    assert stored == "\u00e9" * (65535 // 2)
    # An unknown step gives the plugin's empty label.
    get(client, action="setStatus", machineid=DEVICE, uuid="job-a", currentStep="end", msg="x")
    assert run_logs(engine, 1)[-1] == (Log.RUNNING, ":x")


def test_status_ownership_and_refusals(client, engine, deploy_agents):
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, E1_JOBS, uniqid="job-a")
        add_agent(conn, 5, "locked-agent", lock=1)
    assert get(client, action="setStatus", machineid=DEVICE, uuid="job-a", msg="early").status_code == 409
    get(client, action="getJobs", machineid=DEVICE, version="2.8")
    other = get(client, action="setStatus", machineid="other-agent", uuid="job-a", status="ko", msg="x")
    assert other.status_code == 403 and "error" in other.json
    assert get(client, action="setStatus", machineid="unknown", uuid="job-a", msg="x").status_code == 400
    assert get(client, action="setStatus", machineid="locked-agent", uuid="job-a", msg="x").status_code == 400
    assert get(client, action="setStatus", machineid=DEVICE, uuid="nope", msg="x").status_code == 403
    assert get(client, action="setStatus", machineid=DEVICE, msg="x").status_code == 400
    assert get(client, action="setStatus", machineid=DEVICE, uuid="job-a", status="maybe").status_code == 400
    assert get(client, action="nothing", machineid=DEVICE).status_code == 400
    assert client.post(f"{DEPLOY}?action=getJobs&machineid={DEVICE}").status_code == 405
    assert run_state(engine, 1) == State.SERVER_HAS_SENT_DATA and run_logs(engine, 1) == [(Log.STARTED, "")]
    get(client, action="setStatus", machineid=DEVICE, uuid="job-a", status="ok", msg="job successfully completed")
    assert get(client, action="setStatus", machineid=DEVICE, uuid="job-a", status="ko", msg="late").status_code == 409
    assert run_state(engine, 1) == State.FINISHED


def test_get_jobs_refusals_disabled_module_and_postponed_runs(client, engine, deploy_agents):
    from datetime import datetime, timedelta
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, E1_JOBS)
        add_deploy_run(conn, 2, 2, E1_JOBS)
        conn.execute(update(schema.taskjobstates).where(schema.taskjobstates.c.id == 2)
                     .values(date_start=datetime.now() + timedelta(hours=1)))
    assert get(client, action="getJobs", machineid="unknown").status_code == 400
    jobs = get(client, action="getJobs", machineid=DEVICE, version="2.8").json["jobs"]
    assert [job["uuid"] for job in jobs] == ["uniq000000001"]
    assert run_state(engine, 2) == State.PREPARED and run_logs(engine, 2) == []
    # Asked again while Started: the plugin's "already sent" error.
    assert get(client, action="getJobs", machineid=DEVICE, version="2.8").data == b"{}"
    assert run_state(engine, 1) == State.IN_ERROR
    assert run_logs(engine, 1)[-1][1].startswith("The agent is requesting a configuration that has already been sent")
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobstates).where(schema.taskjobstates.c.id == 2).values(date_start=None))
    set_module(engine, Module.DEPLOY, False)
    config = client.get(f"/plugins/fusioninventory/?action=getConfig&task%5BDeploy%5D=2.8&machineid={DEVICE}")
    assert config.json["schedule"] == []
    assert get(client, action="getJobs", machineid=DEVICE, version="2.8").data == b"{}"
    assert run_state(engine, 2) == State.CANCELLED
    assert run_logs(engine, 2) == [(Log.INFO, "Deploy module has been disabled for this agent")]


def test_old_agents_user_interactions_and_missing_package(client, engine, deploy_agents):
    jobs = {"checks": [{"type": "fileExists", "path": "/a", "return": "skip"},
                       {"type": "fileExists", "path": "/b", "return": "error"}],
            "associatedFiles": [], "actions": [],
            "userinteractions": [{"name": "ask", "title": "Install?", "text": "one$#r$#ntwo", "type": "before",
                                  "template": "7"}]}
    with engine.begin() as conn:
        conn.execute(insert(schema.deployuserinteractiontemplates).values(
            id=7, name="t", entities_id=0, json='{"platform":"win","timeout":"60","retry_after":"600",'
                                                '"nb_max_retry":"2"}'))
        add_deploy_run(conn, 1, 1, jobs)
        add_deploy_run(conn, 2, 2, jobs)
        conn.execute(update(schema.taskjobstates).where(schema.taskjobstates.c.id == 2).values(nb_retry=2, max_retry=2))
        add_job(conn, 1, '[{"PluginFusioninventoryDeployPackage":"99"}]',
                '[{"PluginFusioninventoryAgent":"3"}]', Method.DEPLOY, job_id=9)
        add_run(conn, 9, 9, 3, ItemType.DEPLOY_PACKAGE, 99)
    answer = get(client, action="getJobs", machineid=DEVICE, version="2.8").json
    first, forced = answer["jobs"]
    assert first["userinteractions"] == [{"name": "ask", "title": "Install?", "text": "one\r\ntwo", "type": "before",
                                          "platform": "win", "timeout": "60", "retry_after": "600",
                                          "nb_max_retry": "2"}]
    assert "userinteractions" not in forced and list(forced) == ["checks", "associatedFiles", "actions", "uuid"]
    assert run_state(engine, 9) == State.IN_ERROR
    assert run_logs(engine, 9) == [(Log.ERROR, "The deploy package of this job no longer exists.")]
    with engine.begin() as conn:
        add_deploy_run(conn, 3, 3, jobs)
    old = get(client, action="getJobs", machineid=DEVICE, version="2.1").json["jobs"][0]
    assert [check["return"] for check in old["checks"]] == ["ignore", "error"]
    assert old["userinteractions"][0]["template"] == "7"


def test_user_events_stop_and_postpone(client, engine, deploy_agents):
    jobs = dict(E1_JOBS, userinteractions=[{"type": "before", "template": "7", "text": "x"}])
    with engine.begin() as conn:
        conn.execute(insert(schema.deployuserinteractiontemplates).values(
            id=7, name="t", entities_id=0, json='{"retry_after":"3600","nb_max_retry":"2"}'))
        add_deploy_run(conn, 1, 1, jobs, uniqid="job-a")
        add_deploy_run(conn, 2, 2, jobs, uniqid="job-b")
        # As a push task's run: woken once already.
        conn.execute(insert(schema.bridge_runs).values(plugin_fusioninventory_taskjobstates_id=2, pushes=1,
                                                       pushed_at=datetime(2026, 1, 1, 8, 0)))
    get(client, action="getJobs", machineid=DEVICE, version="2.8")
    stop = get(client, action="setUserEvent", machineid=DEVICE, uuid="job-a", type="before", behavior="stop",
               event="on_nouser", user="bob", currentStep="checking")
    assert stop.status_code == 200 and stop.data == b"{}"
    assert run_state(engine, 1) == State.CANCELLED
    assert run_logs(engine, 1)[1:] == [
        (Log.ERROR, "Checks:user interaction before, event on_nouser, user bob: the job is cancelled"),
        (Log.INFO, "User canceled the job")]
    get(client, action="setUserEvent", machineid=DEVICE, uuid="job-b", type="before", behavior="postpone",
        event="on_no", user="bob")
    assert run_state(engine, 2) == State.PREPARED
    states = [state for state, _comment in run_logs(engine, 2)]
    assert states == [Log.STARTED, Log.RUNNING, Log.INFO, Log.INFO, Log.STARTED, Log.INFO]
    assert run_logs(engine, 2)[-1] == (Log.INFO, "Retry #1")
    with engine.connect() as conn:  # offered anew: pushed again from its new start
        assert conn.execute(select(schema.bridge_runs.c.pushes, schema.bridge_runs.c.pushed_at)).one() == (0, None)
    # Not before its new start.
    assert get(client, action="getJobs", machineid=DEVICE, version="2.8").data == b"{}"
    assert get(client, action="setUserEvent", machineid=DEVICE, uuid="job-b", behavior="dance").status_code == 400


def test_idle_get_jobs_costs_one_statement(client, engine, deploy_agents):
    from tests.helpers.statements import recorded_statements

    with recorded_statements(client.application.extensions["fusion_bridge"]) as queries:
        assert get(client, action="getJobs", machineid=DEVICE, version="2.8").data == b"{}"
    assert len(queries) == 1, queries
    # A run of another method does not make it busy.
    with engine.begin() as conn:
        add_job(conn, 1, '[{"PluginFusioninventoryCollect":"1"}]', '[{"PluginFusioninventoryAgent":"3"}]',
                Method.COLLECT, job_id=1)
        add_run(conn, 1, 1, 3, ItemType.COLLECT, 1)
    assert get(client, action="getJobs", machineid=DEVICE, version="2.8").data == b"{}"
    assert run_state(engine, 1) == State.PREPARED


def test_hostile_requests_get_clear_4xx(client, engine, deploy_agents):
    with engine.begin() as conn:
        add_deploy_run(conn, 1, 1, E1_JOBS, uniqid="job-a")
    get(client, action="getJobs", machineid=DEVICE, version="2.8")
    for query in (f"action=setStatus&machineid={DEVICE}&uuid=job-a&msg=%FF%FE%00bad",
                  f"action=setStatus&machineid={DEVICE}&uuid=job-a&currentStep=%00&msg[]=" + "x" * 5000,
                  f"action=getJobs&machineid={'m' * 5000}&version=%FF",
                  f"action=getFilePart&machineid={DEVICE}&file=" + "/" * 3000,
                  "action=setUserEvent&machineid=&uuid=job-a&behavior=stop",
                  "action=getJobs&machineid=other-agent&version=999999999999999999999999.1"):
        response = client.get(f"{DEPLOY}?{query}")
        assert response.status_code in (200, 400, 403), (query[:80], response.status_code)
        assert response.is_json
    assert run_state(engine, 1) == State.SERVER_HAS_SENT_DATA
