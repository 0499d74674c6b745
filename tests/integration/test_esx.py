"""ESX over REST (docs/plugin-semantics.md §7.7), replaying the shapes of recordings g1 and g2."""

import pytest
from sqlalchemy import update

import schema
from schema.constants import ItemType, Method, Module, TaskjobLogState as Log, TaskjobState as State
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_esx_host, add_job, add_run, add_task, run_logs, run_state

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

DEVICE = "vm-2026-11-25-14-54-18"
ESX = "/plugins/fusioninventory/b/esx/"
UUID = "uniq000000001"
G1_MESSAGE = "500 Can't connect to 127.0.0.1:1 (Connection refused)"


@pytest.fixture
def esx_run(engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
        add_agent(conn, 4, "other-agent")
        add_task(conn, 1)
        add_esx_host(conn, "127.0.0.1:1", password="s3cr\u00e9t")
        add_job(conn, 1, '[{"PluginFusioninventoryCredentialIp":"1"}]',
                '[{"PluginFusioninventoryAgent":"3"}]', Method.ESX, job_id=1)
        add_run(conn, 1, 1, 3, ItemType.CREDENTIAL_IP, 1)
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == Module.ESX)
                     .values(is_active=1))


def get(client, **args):
    return client.get(ESX, query_string=args)


def test_g1_unreachable_host_ends_in_error_with_the_agents_message(client, engine, esx_run):
    config = client.get(f"/plugins/fusioninventory/?action=getConfig&task%5BESX%5D=2.6&machineid={DEVICE}")
    assert config.json["schedule"] == [{"periodicity": 3600, "delayStartup": 3600, "task": "ESX",
                                        "remote": "http://localhost" + ESX}]
    response = get(client, action="getJobs", machineid=DEVICE)
    assert response.status_code == 200
    # ASCII-only JSON, the password as stored.
    assert response.data == (b'{"jobs":[{"uuid":"uniq000000001","host":"127.0.0.1:1","user":"root",'
                             b'"password":"s3cr\\u00e9t"}]}')
    assert run_state(engine, 1) == State.SERVER_HAS_SENT_DATA
    assert run_logs(engine, 1, with_item=True) == [(Log.STARTED, "", ItemType.AGENT, 3)]
    # As recorded (random argument order, part=login).
    response = client.get(f"{ESX}?action=setLog&uuid={UUID}&machineid={DEVICE}&msg=500%20Can%27t%20connect%20to%20"
                          "127.0.0.1%3A1%20%28Connection%20refused%29&part=login&code=ko")
    assert response.status_code == 200 and response.data == b"{}"
    assert run_state(engine, 1) == State.IN_ERROR
    assert run_logs(engine, 1, with_item=True)[-1] == (Log.ERROR, G1_MESSAGE, ItemType.CREDENTIAL_IP, 1)
    assert get(client, action="getJobs", machineid=DEVICE).data == b"{}"


def test_ok_finishes_and_running_is_logged(client, engine, esx_run):
    get(client, action="getJobs", machineid=DEVICE)
    assert get(client, action="setLog", machineid=DEVICE, uuid=UUID, code="running", msg="inventory").status_code \
        == 200
    assert get(client, action="setLog", machineid=DEVICE, uuid=UUID, code="ok").status_code == 200
    assert run_state(engine, 1) == State.FINISHED
    assert [(state, comment) for state, comment, *_ in run_logs(engine, 1)] == [
        (Log.STARTED, ""), (Log.RUNNING, "inventory"), (Log.OK, "ok")]
    # Over: a second report is refused and changes nothing.
    assert get(client, action="setLog", machineid=DEVICE, uuid=UUID, code="ko", msg="late").status_code == 409
    assert run_state(engine, 1) == State.FINISHED


def test_g2_no_job_is_an_empty_object(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
    assert get(client, action="getJobs", machineid=DEVICE).data == b"{}"


def test_uuid_must_belong_to_the_calling_agent(client, engine, esx_run):
    get(client, action="getJobs", machineid=DEVICE)
    refused = get(client, action="setLog", machineid="other-agent", uuid=UUID, code="ok")
    assert refused.status_code == 400 and "error" in refused.json
    assert get(client, action="setLog", machineid=DEVICE, uuid="unknown", code="ok").status_code == 400
    assert get(client, action="setLog", machineid="unknown", uuid=UUID, code="ok").status_code == 400
    assert get(client, action="setLog", machineid=DEVICE, uuid=UUID, code="maybe").status_code == 400
    assert get(client, action="setLog", uuid=UUID, code="ok").status_code == 400
    assert run_state(engine, 1) == State.SERVER_HAS_SENT_DATA
    assert len(run_logs(engine, 1)) == 1


def test_inactive_task_cancels_and_missing_host_fails(client, engine, esx_run):
    with engine.begin() as conn:
        add_task(conn, 2, is_active=0)
        add_job(conn, 2, '[{"PluginFusioninventoryCredentialIp":"1"}]',
                '[{"PluginFusioninventoryAgent":"3"}]', Method.ESX, job_id=2)
        add_run(conn, 2, 2, 3, ItemType.CREDENTIAL_IP, 1)
        conn.execute(update(schema.credentialips).values(plugin_fusioninventory_credentials_id=99))
    assert get(client, action="getJobs", machineid=DEVICE).data == b"{}"
    assert run_state(engine, 1) == State.IN_ERROR
    assert run_logs(engine, 1)[-1][:2] == (Log.ERROR, "The ESX host or its credential of this job no longer exists.")
    assert run_state(engine, 2) == State.CANCELLED
    assert run_logs(engine, 2)[-1][:2] == (Log.INFO, "The task has been deactivated after preparation of this job.")


def test_post_is_refused(client, esx_run):
    assert client.post(f"{ESX}?action=getJobs&machineid={DEVICE}").status_code == 405


@pytest.mark.parametrize("database_url", ["mariadb"], indirect=True)  # SQLite serialises the two
def test_a_run_handed_out_by_a_concurrent_get_jobs_is_not_handed_out_again(engine, esx_run):
    """InnoDB REPEATABLE READ: the snapshot of a getJobs that read its agent before another
    getJobs committed the hand-out still shows the run Prepared; the locked state does not."""
    from datetime import datetime

    from fusion_bridge.services.rest.esx import EsxCalls
    from fusion_bridge.services.rest.calls import rest_agent, runnable_runs

    now = datetime(2026, 11, 25, 12, 0)
    with engine.begin() as late:
        agent = rest_agent(late, DEVICE)  # the snapshot is taken here
        assert EsxCalls(engine).get_jobs(DEVICE, now)["jobs"][0]["uuid"] == UUID  # committed meanwhile
        assert runnable_runs(late, agent, Method.ESX, now) == []
    # Asked again while handed out: the plugin's rule, the run goes to Error.
    assert run_state(engine, 1) == State.IN_ERROR
