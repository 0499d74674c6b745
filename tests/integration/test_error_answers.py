"""What agents and API clients read when the bridge refuses or fails, pinned byte for byte: one
request per kind of error on each way in (XML POSTs and REST GETs answered before Flask, the REST
task views, the admin API, the app's last-resort handler). The expected answers were recorded
before the services' errors moved to ``fusion_bridge.errors`` and their statuses to
``http/errors.py``, and are the same on both backends."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy import insert
from werkzeug.test import Client

import schema
from fusion_bridge.app import REST_ENDPOINT, create_app
from schema.constants import ItemType, Method
from tests.helpers.agent_requests import ZLIB_HEADERS, message_xml
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_job, add_run, add_task

TOKEN = "0123456789abcdef-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
A, B, LOCKED = "agent-a-2026-01-01-00-00-00", "agent-b-2026-01-01-00-00-00", "locked-2026-01-01-00-00-00"
PART = "a" * 128
JSON, XML_ZLIB, XML = "application/json", "application/x-compress-zlib", "application/xml"
CONFIG, COLLECT = "/plugins/fusioninventory/", "/plugins/fusioninventory/b/collect/"
ESX, DEPLOY = "/plugins/fusioninventory/b/esx/", "/plugins/fusioninventory/b/deploy/"


def xml_error(reason: str) -> bytes:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n   <ERROR>{reason}</ERROR>\n</REPLY>\n'.encode()


def agent_json(reason: str) -> bytes:  # the agents' REST calls: compact
    return b'{"error":"%s"}' % reason.encode()


def admin_json(reason: str) -> bytes:
    return b'{"error": "%s"}' % reason.encode()


def xml_post(device: str, query: str, content: str) -> dict:
    return {"method": "POST", "path": CONFIG, "headers": ZLIB_HEADERS,
            "data": zlib.compress(message_xml(device, query, content))}


def get(path: str) -> dict:
    return {"method": "GET", "path": path}


def admin(method: str, path: str, **kwargs) -> dict:
    return {"method": method, "path": path, "headers": AUTH, **kwargs}


START = "<AGENT><START>1</START></AGENT>"
REFUSALS = {  # name: (request, status, content type, body)
    # XML POSTs (http.xml_endpoint)
    "codec: not XML": ({"method": "POST", "path": CONFIG, "data": b"hello", "content_type": XML},
                       400, XML, xml_error("body is not XML")),
    "message without PROCESSNUMBER": (xml_post(A, "NETDISCOVERY", START), 400, XML_ZLIB,
                                      xml_error("NETDISCOVERY message without PROCESSNUMBER")),
    "run of another method": (xml_post(A, "NETDISCOVERY", START + "<PROCESSNUMBER>2</PROCESSNUMBER>"), 400, XML_ZLIB,
                              xml_error("PROCESSNUMBER 2 is not a networkdiscovery run of this agent")),
    "run of another agent": (xml_post(B, "SNMPQUERY", START + "<PROCESSNUMBER>4</PROCESSNUMBER>"), 400, XML_ZLIB,
                             xml_error("PROCESSNUMBER 4 is not a networkinventory run of this agent")),
    # getConfig and getJobs (http.rest_endpoint, before Flask)
    "getConfig without machineid": (get(f"{CONFIG}?action=getConfig"), 400, JSON, agent_json("missing machineid")),
    "getConfig of an unknown agent": (get(f"{CONFIG}?action=getConfig&machineid=nobody&task[Collect]=1"),
                                      400, JSON, agent_json("unknown or locked agent")),
    "getConfig of a locked agent": (get(f"{CONFIG}?action=getConfig&machineid={LOCKED}"),
                                    400, JSON, agent_json("unknown or locked agent")),
    "getJobs without machineid": (get(f"{COLLECT}?action=getJobs"), 400, JSON, agent_json("missing machineid")),
    "getJobs of an unknown agent": (get(f"{ESX}?action=getJobs&machineid=nobody"),
                                    400, JSON, agent_json("unknown or locked agent")),
    # the REST task views (http.rest_tasks)
    "setAnswer without uuid": ({"method": "POST", "path": f"{COLLECT}?action=setAnswer", "data": {"_sid": "7"}},
                               400, JSON, agent_json("missing uuid")),
    "setAnswer of an unknown uuid": (get(f"{COLLECT}?action=setAnswer&uuid=nope&_sid=7"),
                                     400, JSON, agent_json("unknown collect job uuid 'nope'")),
    "setAnswer with a token never issued": (
        get(f"{COLLECT}?action=setAnswer&uuid=uniq000000001&_sid=7&_glpi_csrf_token=guess"),
        403, JSON, agent_json("wrong token for this job")),
    "setAnswer of a run not handed out": (get(f"{COLLECT}?action=setAnswer&uuid=uniq000000001&_sid=7"),
                                          409, JSON, agent_json("this collect job is not waiting for answers")),
    "jobsDone of a run not handed out": (
        get(f"{COLLECT}?action=jobsDone&uuid=uniq000000001"),
        409, JSON, agent_json("this collect job was not handed out or is already over")),
    "setLog with an unknown code": (get(f"{ESX}?action=setLog&machineid={A}&uuid=uniq000000002&code=maybe"),
                                    400, JSON, agent_json("unknown code 'maybe': expected ok, ko or running")),
    "setLog of another agent's run": (
        get(f"{ESX}?action=setLog&machineid={B}&uuid=uniq000000002&code=ok"),
        400, JSON, agent_json("uuid 'uniq000000002' is not an ESX job of this agent")),
    "setLog of a run not handed out": (get(f"{ESX}?action=setLog&machineid={A}&uuid=uniq000000002&code=ok"),
                                       409, JSON, agent_json("this ESX job was not handed out or is already over")),
    "setStatus of a locked agent": (get(f"{DEPLOY}?action=setStatus&machineid={LOCKED}&uuid=uniq000000003"),
                                    400, JSON, agent_json("unknown or locked agent")),
    "setStatus of another agent's run": (
        get(f"{DEPLOY}?action=setStatus&machineid={B}&uuid=uniq000000003&msg=x"),
        403, JSON, agent_json("uuid 'uniq000000003' is not a deploy job of this agent")),
    "setStatus of a run not handed out": (
        get(f"{DEPLOY}?action=setStatus&machineid={A}&uuid=uniq000000003&msg=x"),
        409, JSON, agent_json("this deploy job was not handed out or is already over")),
    "setUserEvent with an unknown behavior": (
        get(f"{DEPLOY}?action=setUserEvent&machineid={A}&uuid=uniq000000003&behavior=dance"),
        400, JSON, agent_json("unknown behavior 'dance': expected one of stop, continue, postpone, error_bad_event")),
    "getFilePart of no sha512": (get(f"{DEPLOY}?action=getFilePart&machineid={A}&file=/x"),
                                 400, JSON, agent_json("file must end with the sha512 of a file part")),
    "getFilePart without machineid": (
        get(f"{DEPLOY}?action=getFilePart&file=/a/aa/{PART}"),
        403, JSON, agent_json("missing machineid: parts are served to the agents of deploy jobs only")),
    "getFilePart of no job of the agent": (
        get(f"{DEPLOY}?action=getFilePart&machineid={A}&file=/a/aa/{PART}"),
        403, JSON, agent_json("this agent has no deploy job in progress using this file part")),
    "setAnswer form too large (werkzeug, app handler)": (
        {"method": "POST", "path": f"{COLLECT}?action=setAnswer&uuid=u", "data": {"big": "x" * 5000}},
        413, XML, xml_error("Request Entity Too Large")),
    # the admin API (http.admin, admin_deploy, admin_executions)
    "admin: not a JSON object": (admin("POST", "/api/tasks", data=b"[1]"),
                                 400, JSON, admin_json("expected a JSON object in the request body")),
    "admin: bad definition": (admin("POST", "/api/tasks", json={"name": ""}),
                              400, JSON, admin_json("task name is required")),
    # The fields by the names users write (the CLI's options), task settings included; the
    # code's names (entities_id, ...) are still accepted but no longer listed.
    "admin: unknown field": (admin("POST", "/api/tasks", json={"name": "t", "colour": 1}), 400, JSON, admin_json(
        "unknown task field(s): colour (known: active, comment, communication, end, entity, exec_timeslot, name, "
        "period, periodicity_count, periodicity_type, prep_timeslot, push_retries, push_timeout, "
        "reprepare_if_successful, start)")),
    "admin: unknown task": (admin("GET", "/api/tasks/99"), 404, JSON, admin_json("task 99 does not exist")),
    "admin: unknown task settings": (admin("GET", "/api/tasks/99/settings"), 404, JSON, admin_json("no task 99")),
    "admin: unknown task executions": (admin("GET", "/api/tasks/99/executions"),
                                       404, JSON, admin_json("task 99 does not exist")),
    "admin: unknown package": (admin("GET", "/api/deploy/packages/99"),
                               404, JSON, admin_json("package 99 does not exist")),
    "admin: upload without a body": (
        admin("POST", "/api/deploy/files?name=a"),
        400, JSON, admin_json("send the file as the request body (with a Content-Length)")),
    "admin: bad mirror": (admin("POST", "/api/deploy/mirrors", json={"name": "m", "url": "ftp://x"}),
                          400, JSON, admin_json("mirror url must be an http:// or https:// URL, got 'ftp://x'")),
}


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "ADMIN_TOKEN": TOKEN,
                      "DEPLOY_REPOSITORY": str(tmp_path), "MAX_BODY_BYTES": 4096})
    yield app
    app.extensions["fusion_bridge"].dispose()


@pytest.fixture
def runs(engine):
    """Agent A has a prepared collect (1), ESX (2), deploy (3) and SNMP inventory (4) run."""
    with engine.begin() as conn:
        add_agent(conn, 1, A, computers_id=5)
        add_agent(conn, 2, B)
        add_agent(conn, 3, LOCKED, lock=1)
        add_task(conn, 1)
        conn.execute(insert(schema.collects).values(id=1, name="c", entities_id=0, type="file", is_active=1))
        for job, method, itemtype in ((1, Method.COLLECT, ItemType.COLLECT), (2, Method.ESX, ItemType.CREDENTIAL_IP),
                                      (3, Method.DEPLOY, ItemType.DEPLOY_PACKAGE),
                                      (4, Method.NETWORK_INVENTORY, ItemType.PRINTER)):
            add_job(conn, 1, f'[{{"{itemtype}":"1"}}]', '[{"PluginFusioninventoryAgent":"1"}]', method, job_id=job)
            add_run(conn, job, job, 1, itemtype, 1)


def answer(client, request: dict) -> tuple[int, str, bytes]:
    response = client.open(**request)
    body = response.get_data()
    return response.status_code, response.content_type, zlib.decompress(body) if body[:2] == b"\x78\x9c" else body


@pytest.mark.parametrize("name", REFUSALS)
def test_refusals_read_as_before(app, runs, name):
    request, status, content_type, body = REFUSALS[name]
    assert answer(app.test_client(), request) == (status, content_type, body)


@pytest.mark.parametrize("name", [name for name, (request, *_) in REFUSALS.items()
                                  if request["method"] == "GET" and not request["path"].startswith("/api/")])
def test_flask_answers_like_the_fast_path(app, runs, name):
    request = REFUSALS[name][0]
    assert answer(Client(app.extensions[REST_ENDPOINT].app), request) == answer(app.test_client(), request)


# Which failure it was is said (issue 10, item 7).
UNREACHABLE = "database unavailable (database unreachable), try again later"
UNAVAILABLE = {  # name: (request, status, content type, body)
    "XML POST": (xml_post(A, "PROLOG", ""), 503, XML_ZLIB, xml_error(UNREACHABLE)),
    "getConfig": (get(f"{CONFIG}?action=getConfig&machineid={A}&task[Collect]=1"),
                  503, JSON, agent_json(UNREACHABLE)),
    "setLog": (get(f"{ESX}?action=setLog&machineid={A}&uuid=u&code=ok"),
               503, JSON, agent_json(UNREACHABLE)),
    "collect setAnswer POST (app handler)": (
        {"method": "POST", "path": f"{COLLECT}?action=setAnswer&uuid=u", "headers": ZLIB_HEADERS,
         "data": {"_sid": "7"}}, 503, XML_ZLIB, xml_error(UNREACHABLE)),
    "admin": (admin("GET", "/api/tasks"), 503, JSON, admin_json(UNREACHABLE)),
    "admin deploy": (admin("GET", "/api/deploy/packages"),
                     503, JSON, admin_json(UNREACHABLE)),
}


@pytest.mark.parametrize("name", UNAVAILABLE)
def test_an_unreachable_database_reads_the_same_everywhere(name, tmp_path):
    app = create_app({"DATABASE_URL": "sqlite:////nonexistent-dir/nowhere.db", "SETTINGS_TTL": 0,
                      "ADMIN_TOKEN": TOKEN, "DEPLOY_REPOSITORY": str(tmp_path)})
    try:
        request, status, content_type, body = UNAVAILABLE[name]
        assert answer(app.test_client(), request) == (status, content_type, body)
    finally:
        app.extensions["fusion_bridge"].dispose()


def _fail(*args, **kwargs):
    raise RuntimeError("injected fault")


FAILING = {  # name: (what fails, request, content type, body)
    "XML POST": ("fusion_bridge.services.agent.exchange.AgentExchange.handle", xml_post(A, "PROLOG", ""),
                 XML_ZLIB, xml_error("internal server error")),
    "getConfig": ("fusion_bridge.services.rest.calls.RestCalls.get_config",
                  get(f"{CONFIG}?action=getConfig&machineid={A}"), JSON, agent_json("internal server error")),
    "getJobs": ("fusion_bridge.services.rest.collect.CollectCalls.get_jobs",
                get(f"{COLLECT}?action=getJobs&machineid={A}"), JSON, agent_json("internal server error")),
    "setLog": ("fusion_bridge.services.rest.esx.EsxCalls.set_log",
               get(f"{ESX}?action=setLog&machineid={A}&uuid=u&code=ok"), JSON, agent_json("internal server error")),
    "admin": ("fusion_bridge.services.admin.definitions.list_tasks", admin("GET", "/api/tasks"),
              JSON, admin_json("internal server error")),
    "admin deploy": ("fusion_bridge.services.deploy.packages.list_packages",
                     admin("GET", "/api/deploy/packages"), JSON, admin_json("internal server error")),
}


@pytest.mark.parametrize("name", FAILING)
def test_a_bug_reads_as_before(app, runs, monkeypatch, name):
    target, request, content_type, body = FAILING[name]
    monkeypatch.setattr(target, _fail)  # a fault injected into a correct service
    assert answer(app.test_client(), request) == (500, content_type, body)


def test_an_unusable_deploy_repository_reads_as_before(database_url, tmp_path):
    not_a_folder = tmp_path / "repository"
    not_a_folder.write_text("")
    app = create_app({"DATABASE_URL": database_url, "ADMIN_TOKEN": TOKEN, "DEPLOY_REPOSITORY": str(not_a_folder)})
    try:
        request = admin("POST", "/api/deploy/files?name=a.txt", data=b"abc")
        assert answer(app.test_client(), request) == (
            503, JSON, admin_json("deploy repository unavailable: Not a directory"))
    finally:
        app.extensions["fusion_bridge"].dispose()
