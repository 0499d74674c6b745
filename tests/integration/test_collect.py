"""Collect over REST (docs/plugin-semantics.md §7.6), replaying the shapes of recordings f1, f2, f3."""

import json

import pytest
from sqlalchemy import insert, select, update

import schema
from fusion_bridge.adapters.db_layout import layout_of
from schema.constants import ItemType, Method, Module, TaskjobLogState as Log, TaskjobState as State
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_job, add_run, add_task, run_logs, run_state

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

DEVICE = "vm-2026-11-25-14-54-18"
COLLECT = "/plugins/fusioninventory/b/collect/"
UUID = "uniq000000001"
ALREADY_SENT = ("The agent is requesting a configuration that has already been sent to him by the server. "
                "It is more likely that the agent is subject to a critical error.")


def add_collect(conn, collect_id, kind, job_id=None, run_id=None, agent_id=3, task_id=1):
    conn.execute(insert(schema.collects).values(id=collect_id, name=f"collect {collect_id}", entities_id=0,
                                                type=kind, is_active=1))
    if job_id:
        add_job(conn, task_id, f'[{{"PluginFusioninventoryCollect":"{collect_id}"}}]',
                f'[{{"PluginFusioninventoryAgent":"{agent_id}"}}]', Method.COLLECT, job_id=job_id)
        add_run(conn, run_id, job_id, agent_id, ItemType.COLLECT, collect_id)


@pytest.fixture
def file_collect(engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE, computers_id=5)
        add_task(conn, 1)
        add_collect(conn, 1, "file", job_id=1, run_id=1)
        conn.execute(insert(schema.collects_files).values(
            id=7, name="hello", plugin_fusioninventory_collects_id=1, dir="/tmp/fusrec-collect-fixture", limit=10,
            is_recursive=1, filter_iname="HELLO.TXT", filter_is_file=1, filter_is_dir=0))
        # A result of an earlier run: getJobs clears it, as the plugin does.
        conn.execute(insert(schema.collects_files_contents).values(
            computers_id=5, plugin_fusioninventory_collects_files_id=7, pathfile="/old", size=1))


@pytest.fixture
def windows_collects(engine):
    """f2's Windows-only jobs: one registry and one WMI collect."""
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE, computers_id=5)
        add_task(conn, 1)
        add_collect(conn, 2, "registry", job_id=2, run_id=2)
        conn.execute(insert(schema.collects_registries).values(
            id=3, name="key", plugin_fusioninventory_collects_id=2, hive="HKEY_LOCAL_MACHINE",
            path="/SOFTWARE/Fixture/", key="Key"))
        add_collect(conn, 3, "wmi", job_id=3, run_id=3)
        conn.execute(insert(schema.collects_wmis).values(
            id=4, name="os", plugin_fusioninventory_collects_id=3, moniker="", properties="Caption",
            **{"class": "Win32_OperatingSystem"}))


def get(client, **args):
    return client.get(COLLECT, query_string=args)


def post_answer(client, uuid, body):
    # As the agent: the query has action, uuid and method; the form body has everything.
    return client.post(f"{COLLECT}?action=setAnswer&uuid={uuid}&method=POST", data=body,
                       content_type="application/x-www-form-urlencoded")


def rows(engine, table, *columns):
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(*[table.c[c] for c in columns]).order_by(table.c.id))]


def test_f1_findfile_post_with_token_rotation(client, engine, file_collect):
    config = client.get(f"/plugins/fusioninventory/?action=getConfig&machineid={DEVICE}&task%5BCollect%5D=2.6")
    assert config.json["schedule"] == [{"task": "Collect", "remote": "http://localhost" + COLLECT}]

    response = get(client, action="getJobs", machineid=DEVICE)
    assert response.status_code == 200
    answer = response.json
    token = answer["token"]
    assert len(token) >= 32
    # The plugin's job, its key order and its string values.
    expected = ('{"jobs":[{"function":"findFile","dir":"\\/tmp\\/fusrec-collect-fixture","limit":"10",'
                '"recursive":"1","filter":{"is_file":"1","is_dir":"0","iname":"HELLO.TXT"},'
                '"uuid":"uniq000000001","_sid":"7"}],"postmethod":"POST","token":"' + token + '"}')
    assert response.data.decode() == expected
    assert run_state(engine, 1) == State.SERVER_HAS_SENT_DATA
    assert run_logs(engine, 1, with_item=True) == [(Log.STARTED, "", ItemType.AGENT, 3)]
    assert rows(engine, schema.collects_files_contents, "pathfile") == []

    first = post_answer(client, UUID, f"action=setAnswer&uuid={UUID}&_glpi_csrf_token={token}&_sid=7&_cpt=2"
                                      "&path=%2Ftmp%2Ffusrec-collect-fixture%2Fhello.txt&size=6")
    assert first.status_code == 200, first.data
    next_token = first.json["token"]
    assert next_token != token
    # The token just used is spent.
    replay = post_answer(client, UUID, f"action=setAnswer&uuid={UUID}&_glpi_csrf_token={token}&_sid=7&_cpt=1"
                                       "&path=%2Fetc%2Fshadow&size=1")
    assert replay.status_code == 403
    second = post_answer(client, UUID, f"action=setAnswer&_sid=7&uuid={UUID}&_glpi_csrf_token={next_token}"
                                       "&path=%2Ftmp%2Ffusrec-collect-fixture%2Fsub%2Fhello.txt&_cpt=1&size=12")
    assert second.status_code == 200 and set(second.json) == {"token"}
    assert run_state(engine, 1) == State.AGENT_HAS_SENT_DATA

    done = get(client, action="jobsDone", uuid=UUID)
    assert done.status_code == 200 and done.data == b"{}"
    assert run_state(engine, 1) == State.FINISHED
    assert rows(engine, schema.collects_files_contents, "computers_id", "plugin_fusioninventory_collects_files_id",
                "pathfile", "size") == [(5, 7, "/tmp/fusrec-collect-fixture/hello.txt", 6),
                                        (5, 7, "/tmp/fusrec-collect-fixture/sub/hello.txt", 12)]
    # glpiinventory starts a file search's lines with its name (docs/glpi10-protocol.md §9).
    with engine.connect() as conn:
        named = "hello: " if layout_of(conn).renames else ""
    assert run_logs(engine, 1, with_item=True) == [
        (Log.STARTED, "", ItemType.AGENT, 3),
        (Log.RUNNING, f"{named}file /tmp/fusrec-collect-fixture/hello.txt | size 6", ItemType.COLLECT, 1),
        (Log.INFO, named + '{"7":{"path":"/tmp/fusrec-collect-fixture/hello.txt","size":"6"}}', ItemType.COLLECT, 1),
        (Log.RUNNING, f"{named}file /tmp/fusrec-collect-fixture/sub/hello.txt | size 12", ItemType.COLLECT, 1),
        (Log.INFO, named + '{"7":{"path":"/tmp/fusrec-collect-fixture/sub/hello.txt","size":"12"}}', ItemType.COLLECT,
         1),
        (Log.OK, "", ItemType.COLLECT, 1),
    ]
    # Nothing left to do: {} (never "jobs": []), and getConfig schedules nothing.
    assert get(client, action="getJobs", machineid=DEVICE).data == b"{}"
    assert client.get(f"/plugins/fusioninventory/?action=getConfig&machineid={DEVICE}&task%5BCollect%5D=2.6"
                      ).json["schedule"] == []


def test_f2_windows_jobs_on_linux_answer_cpt_0_by_get(client, engine, windows_collects):
    answer = get(client, action="getJobs", machineid=DEVICE).json
    token = answer["token"]
    assert answer["jobs"] == [
        {"function": "getFromRegistry", "path": "HKEY_LOCAL_MACHINE/SOFTWARE/Fixture/Key", "uuid": "uniq000000002",
         "_sid": "3"},
        {"function": "getFromWMI", "class": "Win32_OperatingSystem", "properties": ["Caption"],
         "uuid": "uniq000000003", "_sid": "4"},
    ]
    # GET answers carry the token as an argument; each answer gives the next one.
    first = get(client, action="setAnswer", uuid="uniq000000002", _cpt="0", _sid="3", _glpi_csrf_token=token)
    assert first.status_code == 200
    second = get(client, action="setAnswer", _cpt="0", uuid="uniq000000003", _sid="4",
                 _glpi_csrf_token=first.json["token"])
    assert second.status_code == 200
    for run_id, uuid in ((2, "uniq000000002"), (3, "uniq000000003")):
        assert get(client, action="jobsDone", uuid=uuid).status_code == 200
        assert [(state, comment) for state, comment, *_ in run_logs(engine, run_id)] == [
            (Log.STARTED, ""), (Log.ERROR, "Path not found"), (Log.OK, "")]
        assert run_state(engine, run_id) == State.FINISHED


def test_registry_and_wmi_values_replace_the_computers_set(client, engine, windows_collects):
    contents = schema.collects_registries_contents
    with engine.begin() as conn:
        conn.execute(insert(contents).values(computers_id=5, plugin_fusioninventory_collects_registries_id=3,
                                             key="Kept", value="old"))
        conn.execute(insert(contents).values(computers_id=5, plugin_fusioninventory_collects_registries_id=3,
                                             key="Gone", value="old"))
        conn.execute(insert(contents).values(computers_id=6, plugin_fusioninventory_collects_registries_id=3,
                                             key="Gone", value="other computer"))
    token = get(client, action="getJobs", machineid=DEVICE).json["token"]
    response = post_answer(client, "uniq000000002", f"action=setAnswer&uuid=uniq000000002&_glpi_csrf_token={token}"
                                                    "&_sid=3&_cpt=1&Kept=new&Version=0x1F&Name=caf%C3%A9")
    assert response.status_code == 200
    assert sorted(rows(engine, contents, "computers_id", "key", "value")) == [
        (5, "Kept", "new"), (5, "Name", "café"), (5, "Version", "31"), (6, "Gone", "other computer")]
    assert run_logs(engine, 2)[-1][:2] == (Log.INFO, '{"Kept":"new","Version":"0x1F","Name":"caf\\u00e9"}')
    response = post_answer(client, "uniq000000003", "action=setAnswer&uuid=uniq000000003&_glpi_csrf_token="
                                                    f"{response.json['token']}&_sid=4&_cpt=1&Caption=Windows")
    assert response.status_code == 200
    assert rows(engine, schema.collects_wmis_contents, "computers_id", "plugin_fusioninventory_collects_wmis_id",
                "property", "value") == [(5, 4, "Caption", "Windows")]


def test_f3_nothing_to_do_is_an_empty_object(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
    response = get(client, action="getJobs", machineid=DEVICE)
    assert response.status_code == 200 and response.data == b"{}"


def test_disabled_module_cancels_the_runs(client, engine, file_collect):
    with engine.begin() as conn:
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == Module.COLLECT)
                     .values(is_active=0))
    assert get(client, action="getJobs", machineid=DEVICE).data == b"{}"
    assert run_state(engine, 1) == State.CANCELLED
    assert run_logs(engine, 1, with_item=True) == [
        (Log.INFO, "Collect module has been disabled for this agent", ItemType.AGENT, 0)]


def test_run_asked_again_goes_to_error(client, engine, file_collect):
    assert "jobs" in get(client, action="getJobs", machineid=DEVICE).json
    assert get(client, action="getJobs", machineid=DEVICE).data == b"{}"
    assert run_state(engine, 1) == State.IN_ERROR
    assert run_logs(engine, 1)[-1][:2] == (Log.ERROR, ALREADY_SENT)


def test_answers_must_come_from_the_runs_agent(client, engine, file_collect):
    with engine.begin() as conn:
        add_agent(conn, 4, "intruder")
        add_collect(conn, 9, "file", job_id=9, run_id=9, agent_id=4)
        conn.execute(insert(schema.collects_files).values(id=8, name="x", plugin_fusioninventory_collects_id=9,
                                                          dir="/", limit=1))
    token = get(client, action="getJobs", machineid=DEVICE).json["token"]
    other_token = get(client, action="getJobs", machineid="intruder").json["token"]
    body = "action=setAnswer&uuid={uuid}&_glpi_csrf_token={token}&_sid={sid}&_cpt=1&path=%2Fx&size=1"
    # Another agent's token, no token, an unknown token, an unknown uuid, a foreign _sid.
    assert post_answer(client, UUID, body.format(uuid=UUID, token=other_token, sid=7)).status_code == 403
    assert post_answer(client, UUID, f"action=setAnswer&uuid={UUID}&_sid=7&_cpt=1&path=%2Fx&size=1"
                       ).status_code == 403
    assert post_answer(client, UUID, body.format(uuid=UUID, token="0" * 40, sid=7)).status_code == 403
    unknown = post_answer(client, "nope", body.format(uuid="nope", token=token, sid=7))
    assert unknown.status_code == 400 and "error" in unknown.json
    assert post_answer(client, UUID, body.format(uuid=UUID, token=token, sid=8)).status_code == 400
    assert rows(engine, schema.collects_files_contents, "pathfile") == []
    assert [state for state, *_ in run_logs(engine, 1)] == [Log.STARTED]
    # The token survived the refusals.
    assert post_answer(client, UUID, body.format(uuid=UUID, token=token, sid=7)).status_code == 200


def test_get_answer_without_token_only_when_none_was_issued(client, engine, file_collect):
    # A run handed out by another server (no token issued here) can still be answered by GET.
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobstates).values(state=int(State.SERVER_HAS_SENT_DATA)))
    response = get(client, action="setAnswer", uuid=UUID, _sid="7", _cpt="1", path="/srv/a.txt", size="8")
    assert response.status_code == 200 and response.data == b"{}"
    assert rows(engine, schema.collects_files_contents, "pathfile", "size")[-1] == ("/srv/a.txt", 8)


def test_jobs_done_needs_a_handed_out_collect_run(client, engine, file_collect):
    assert get(client, action="jobsDone", uuid=UUID).status_code == 409
    assert get(client, action="jobsDone", uuid="unknown").status_code == 400
    assert run_state(engine, 1) == State.PREPARED


def test_refusals(client, engine, file_collect):
    assert get(client, action="getJobs", machineid="unknown").status_code == 400
    assert get(client, action="getJobs").status_code == 400
    assert get(client, action="bogus").status_code == 400
    assert get(client).status_code == 400
    # Under a prefix the endpoint answers too.
    response = client.get("/glpi/plugins/fusioninventory/b/collect/", query_string={"action": "getJobs",
                                                                                      "machineid": DEVICE})
    assert response.status_code == 200 and json.loads(response.data)["jobs"][0]["uuid"] == UUID
