"""The REST GETs answered before Flask (http.rest_endpoint): the same bytes, log lines and state
changes as the Flask views, and one statement without a transaction for an idle agent."""

import logging

import pytest
from sqlalchemy import event, literal_column, select, table, update
from sqlalchemy.exc import DBAPIError
from werkzeug.test import Client

import schema
from fusion_bridge.app import REST_ENDPOINT, create_app
from fusion_bridge.adapters.db_probe import ReadProbe
from fusion_bridge.services.rest.calls import CONFIG_PROBES
from schema.constants import ItemType, Method, Module
from tests.helpers.inventory_rows import add_agent
from tests.helpers.statements import recorded_statements
from tests.helpers.task_rows import add_esx_host, add_job, add_run, add_task

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

IDLE, BUSY, LOCKED = "idle-2026-11-25-10-00-00", "busy-2026-11-25-10-00-00", "locked-2026-11-25-10-00-00"
CONFIG = "/plugins/fusioninventory/"
TASKS = "&task%5BDeploy%5D=2.8&task%5BCollect%5D=2.6&task%5BESX%5D=2.6"


@pytest.fixture
def agents(engine):
    with engine.begin() as conn:
        add_agent(conn, 1, IDLE)
        add_agent(conn, 2, BUSY, entities_id=0)
        add_agent(conn, 3, LOCKED, lock=1)
        add_task(conn, 1)
        add_esx_host(conn, "127.0.0.1:1")
        add_job(conn, 1, '[{"PluginFusioninventoryCredentialIp":"1"}]',
                '[{"PluginFusioninventoryAgent":"2"}]', Method.ESX, job_id=1)
        add_job(conn, 1, '[{"PluginFusioninventoryCollect":"1"}]', '[{"PluginFusioninventoryAgent":"2"}]',
                Method.COLLECT, job_id=2)
        add_run(conn, 2, 2, 2, ItemType.COLLECT, 1)
        for module in (Module.ESX, Module.COLLECT):
            conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == module)
                         .values(is_active=1))


def add_esx_run(engine):
    with engine.begin() as conn:
        conn.execute(schema.taskjoblogs.delete())
        conn.execute(schema.taskjobstates.delete().where(schema.taskjobstates.c.id == 1))
        add_run(conn, 1, 1, 2, ItemType.CREDENTIAL_IP, 1)


def fast_and_slow(app):
    endpoint = app.extensions[REST_ENDPOINT]
    # The endpoint itself: app.wsgi_app adds what every request gets (X-Request-Id, fusion_bridge/ops).
    return Client(endpoint), Client(endpoint.app)


def answer(client, url, **environ):
    response = client.get(url, environ_overrides=environ)
    return response.status, response.headers.to_wsgi_list(), response.get_data()


def run_rows(engine):
    runs, logs = schema.taskjobstates, schema.taskjoblogs
    with engine.connect() as conn:
        return ([tuple(row) for row in conn.execute(select(runs.c.id, runs.c.state).order_by(runs.c.id))],
                [(row.plugin_fusioninventory_taskjobstates_id, row.state, row.comment)
                 for row in conn.execute(select(logs).order_by(logs.c.id))])


SAME_ANSWERS = [
    f"{CONFIG}?action=getConfig&machineid={IDLE}{TASKS}",
    f"{CONFIG}?action=getConfig&machineid={BUSY}{TASKS}",
    f"{CONFIG}?action=getConfig&machineid={BUSY}&task%5Bcollect%5D=2.6",
    f"/glpi/plugins/fusioninventory/front/communication.php?action=getConfig&machineid={BUSY}{TASKS}",
    f"/ocsinventory?action=getConfig&machineid={BUSY}&task%5BCollect%5D=2.6",
    f"{CONFIG}?action=getConfig&machineid=unknown-2026-11-25-10-00-00{TASKS}",
    f"{CONFIG}?action=getConfig&machineid={LOCKED}{TASKS}",
    f"{CONFIG}?action=getConfig{TASKS}",
    f"{CONFIG}?action=getConfig&machineid=",
    f"{CONFIG}?machineid={IDLE}&action=getConfig&action=getJobs",
    "/plugins/fusioninventory/b/deploy/?action=getJobs&machineid=" + IDLE + "&version=2.8",
    "/plugins/fusioninventory/b/collect/?action=getJobs&machineid=" + IDLE,
    "/plugins/fusioninventory/b/esx?action=getJobs&machineid=" + IDLE,
    "/glpi/plugins/fusioninventory/b/esx/?action=getJobs&machineid=unknown",
    "/plugins/fusioninventory/b/deploy/?action=getJobs&machineid=" + LOCKED,
    "/plugins/fusioninventory/b/collect/?action=getJobs",
    "/plugins/fusioninventory/b/esx/?action=getJobs&machineid=%C3%A9t%C3%A9",
    "/plugins/fusioninventory/b/esx//?action=getJobs&machineid=" + IDLE,
    "/glpi//plugins/fusioninventory/?action=getConfig&machineid=" + IDLE,
    "/static/plugins/fusioninventory/?action=getConfig&machineid=" + IDLE,
    "/api/plugins/fusioninventory/?action=getConfig&machineid=" + IDLE,
    "/plugins/fusioninventory/b/collect/?action=getConfig&machineid=" + IDLE,
    "/plugins/fusioninventory/?action=getJobs&machineid=" + IDLE,
    "/caf%C3%A9/plugins/fusioninventory/?action=getConfig&machineid=" + IDLE,
]


@pytest.mark.parametrize("url", SAME_ANSWERS)
def test_same_status_headers_body_and_log_line_as_flask(app, agents, url, caplog):
    fast, slow = fast_and_slow(app)
    with caplog.at_level(logging.INFO, logger="fusion_bridge"):
        expected = answer(slow, url, HTTP_HOST="bridge.example:8080", SCRIPT_NAME="/root")
        slow_log = [record.getMessage() for record in caplog.records]
        caplog.clear()
        got = answer(fast, url, HTTP_HOST="bridge.example:8080", SCRIPT_NAME="/root")
        fast_log = [record.getMessage() for record in caplog.records]
    assert got == expected
    assert fast_log == slow_log


def test_scheduled_getconfig_uses_the_entity_url_like_flask(app, engine, agents):
    with engine.begin() as conn:
        conn.execute(update(schema.entities).where(schema.entities.c.entities_id == 0)
                     .values(agent_base_url="https://glpi.example/glpi"))
    fast, slow = fast_and_slow(app)
    url = f"{CONFIG}?action=getConfig&machineid={BUSY}{TASKS}"
    assert answer(fast, url) == answer(slow, url)
    assert b"https:\\/\\/glpi.example\\/glpi\\/plugins\\/fusioninventory\\/b\\/collect\\/" in answer(fast, url)[2]


def test_handing_out_a_run_changes_the_same_rows(app, engine, agents):
    fast, slow = fast_and_slow(app)
    url = f"/plugins/fusioninventory/b/esx/?action=getJobs&machineid={BUSY}"
    add_esx_run(engine)
    expected, expected_rows = answer(slow, url), run_rows(engine)
    add_esx_run(engine)
    got, got_rows = answer(fast, url), run_rows(engine)
    assert b'"uuid":"uniq000000001"' in got[2]
    assert got == expected
    assert got_rows == expected_rows
    # Asked again while Started: the run goes to Error, both ways.
    assert answer(fast, url) == (expected[0], expected[1][:1] + [("Content-Length", "2")] + expected[1][2:], b"{}")


def test_only_plain_rest_gets_skip_flask(app, agents, monkeypatch):
    endpoint = app.extensions[REST_ENDPOINT]
    seen = []
    flask_app = endpoint.app
    monkeypatch.setattr(endpoint, "app", lambda environ, start: seen.append(environ["PATH_INFO"]) or
                        flask_app(environ, start))
    client = app.test_client()
    for url in (f"{CONFIG}?action=getConfig&machineid={IDLE}", f"/ocsinventory/?action=getConfig&machineid={IDLE}",
                f"/plugins/fusioninventory/b/collect?action=getJobs&machineid={IDLE}"):
        assert client.get(url).status_code == 200
    assert seen == []
    for url in (f"{CONFIG}?xaction=getConfig&machineid={IDLE}", "/api/plugins/fusioninventory/?action=getConfig", "/plugins/fusioninventory/b/esx/?action=setLog",
                "/plugins/fusioninventory/b/deploy/?action=getFilePart&x=action=getJobs",
                "/static/plugins/fusioninventory/?action=getConfig", "/plugins/fusioninventory/b/?action=getJobs",
                "/plugins/fusioninventory/b/collect/?action=getConfig", "/plugins/fusioninventory?action=getJobs"):
        client.get(url)
    client.head(f"{CONFIG}?action=getConfig&machineid={IDLE}")
    client.post(f"/plugins/fusioninventory/b/collect/?action=getJobs&machineid={IDLE}")
    app.config["TRUSTED_HOSTS"] = ["bridge.example"]
    assert client.get(f"{CONFIG}?action=getConfig&machineid={IDLE}").status_code == 400  # Flask: untrusted host
    assert seen.pop() == CONFIG
    assert seen == [CONFIG, "/api/plugins/fusioninventory/", "/plugins/fusioninventory/b/esx/",
                    "/plugins/fusioninventory/b/deploy/", "/static/plugins/fusioninventory/",
                    "/plugins/fusioninventory/b/", "/plugins/fusioninventory/b/collect/", "/plugins/fusioninventory",
                    CONFIG, "/plugins/fusioninventory/b/collect/"]


def test_idle_agent_run_costs_one_statement_per_call_without_transaction(app, agents):
    runtime = app.extensions["fusion_bridge"]
    transactions = []
    if runtime.autocommit_engine is not runtime.engine:  # MariaDB: the transactional engine is not used
        event.listen(runtime.engine, "begin", transactions.append)
    client = app.test_client()
    with recorded_statements(runtime) as statements:
        for task in ("Deploy", "Collect", "ESX"):
            url = f"{CONFIG}?action=getConfig&machineid={IDLE}&task%5B{task}%5D=2.6"
            assert client.get(url).data == b'{"configValidityPeriod":600,"schedule":[]}'
        for task in ("deploy", "collect", "esx"):
            assert client.get(f"/plugins/fusioninventory/b/{task}/?action=getJobs&machineid={IDLE}").data == b"{}"
    # SETTINGS_TTL is 0 in tests: a settings reload would show here too.
    assert len(statements) == 6, statements
    assert transactions == []


def test_probe_errors_are_dbapi_errors_and_the_pool_recovers(engine, agents):
    probe = CONFIG_PROBES[frozenset({"collect"})]
    broken = ReadProbe(select(literal_column("1")).select_from(table("no_such_table")))
    with pytest.raises(DBAPIError):
        broken.first(engine)
    for _ in range(engine.pool.size() + 2 if hasattr(engine.pool, "size") else 3):
        assert probe.first(engine, device_id=IDLE).id == 1
    assert probe.first(engine, device_id="nobody") is None


@pytest.mark.parametrize("url", ["mysql+pymysql://root@127.0.0.1:1/nowhere", "sqlite:////nonexistent-dir/nowhere.db"])
def test_unreachable_database_is_the_same_503(url, caplog):
    app = create_app({"DATABASE_URL": url, "SETTINGS_TTL": 0, "LOG_INTERVAL": 0})
    try:
        fast, slow = fast_and_slow(app)
        for path in (f"{CONFIG}?action=getConfig&machineid={IDLE}&task%5BCollect%5D=2.6",
                     f"/plugins/fusioninventory/b/collect/?action=getJobs&machineid={IDLE}"):
            with caplog.at_level(logging.ERROR, logger="fusion_bridge"):
                expected = answer(slow, path)
                got = answer(fast, path)
            assert expected[0] == "503 SERVICE UNAVAILABLE"
            assert got == expected
            assert [r.getMessage()[:40] for r in caplog.records][-1] == [r.getMessage()[:40] for r in caplog.records][-2]
    finally:
        app.extensions["fusion_bridge"].dispose()
