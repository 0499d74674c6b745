"""/metrics, /healthz and /readyz of one app (fusion_bridge/ops), on SQLite and MariaDB.

The app runs in this process (no serve, no multiprocess directory): the counters are the
process's own and other tests move them too, so every check compares before and after.
"""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import text

from fusion_bridge.app import create_app
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.dispatch_rows import ACTOR, DEVICE, DISCOVERY_TARGETS
from tests.helpers.exposition import parse, value
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_iprange, add_job, add_run, add_task

AGENT_PATH = "/plugins/fusioninventory/"


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def test_requests_are_counted_by_kind_and_status(client):
    before = scrape(client)
    for number in range(3):
        response = client.post(AGENT_PATH, data=prolog(f"ops-{number}-2026-01-01-00-00-00"), headers=ZLIB_HEADERS)
        assert response.status_code == 200 and response.headers["X-Request-Id"]
    assert client.post(AGENT_PATH, data=b"junk", headers=ZLIB_HEADERS).status_code == 400
    assert client.get(AGENT_PATH + "?action=getConfig&machineid=ops-0-2026-01-01-00-00-00").status_code == 200
    assert client.get(AGENT_PATH + "?action=getConfig&machineid=nobody").status_code == 400
    assert client.get("/plugins/fusioninventory/b/deploy/?action=getJobs&machineid=ops-1-2026-01-01-00-00-00"
                      ).status_code == 200
    assert client.get("/plugins/fusioninventory/b/esx/?action=setLog&machineid=x").status_code == 400
    after = scrape(client)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("fusion_bridge_requests_total", kind="PROLOG", status="200") == 3
    assert moved("fusion_bridge_request_duration_seconds_count", kind="PROLOG") == 3
    assert moved("fusion_bridge_request_duration_seconds_bucket", kind="PROLOG", le="+Inf") == 3
    assert moved("fusion_bridge_requests_total", kind="XML", status="400") == 1
    assert moved("fusion_bridge_requests_total", kind="getConfig", status="200") == 1
    assert moved("fusion_bridge_requests_total", kind="getConfig", status="400") == 1
    assert moved("fusion_bridge_requests_total", kind="deploy.getJobs", status="200") == 1
    assert moved("fusion_bridge_requests_total", kind="esx.setLog", status="400") == 1
    # Refusals by kind of reason, never by their text.
    assert moved("fusion_bridge_refusals_total", reason="protocol_error") == 1
    assert moved("fusion_bridge_refusals_total", reason="unknown_agent") == 1
    assert moved("fusion_bridge_refusals_total", reason="invalid_request") == 1
    kinds = {dict(labels).get("kind") for name, labels in after if name == "fusion_bridge_requests_total"}
    assert kinds <= {"PROLOG", "INVENTORY", "NETDISCOVERY", "SNMPQUERY", "XML", "getConfig", "api", "ops", "other",
                     "agent.other", "deploy.getJobs", "deploy.getFilePart", "deploy.setStatus", "deploy.setUserEvent",
                     "deploy.other", "collect.getJobs", "collect.setAnswer", "collect.jobsDone", "collect.other",
                     "esx.getJobs", "esx.setLog", "esx.other", "CONTACT", "JSON-inventory", "JSON-other"}, kinds


def test_database_gauges_at_scrape_time(client, engine):
    for number in range(2):
        client.post(AGENT_PATH, data=prolog(f"seen-{number}-2026-01-01-00-00-00"), headers=ZLIB_HEADERS)
    with engine.begin() as conn:
        add_task(conn, 1)
        add_job(conn, 1, DISCOVERY_TARGETS, ACTOR, "networkdiscovery", job_id=1)
        add_run(conn, 11, 1, 1, "PluginFusioninventoryIPRange", 1)
        add_run(conn, 12, 1, 2, "PluginFusioninventoryIPRange", 1, state=4)
        conn.execute(text("UPDATE glpi_plugin_fusioninventory_agents SET last_contact = :old WHERE device_id = :id"),
                     {"old": "2020-01-01 00:00:00", "id": "seen-1-2026-01-01-00-00-00"})
    samples = scrape(client)
    assert value(samples, "fusion_bridge_database_up") == 1
    assert value(samples, "fusion_bridge_agents_seen", window="1h") == 1
    assert value(samples, "fusion_bridge_agents_seen", window="1d") == 1
    assert value(samples, "fusion_bridge_runs", state="prepared") == 1
    assert value(samples, "fusion_bridge_runs", state="in_error") == 1
    assert ("fusion_bridge_runs", frozenset({("state", "postponed")})) in samples  # every state, 0 too


def test_runs_handed_out_are_counted_once_committed(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 7, DEVICE)
        add_iprange(conn, "192.0.2.1", "192.0.2.254", range_id=1)
        add_task(conn, 1)
        add_job(conn, 1, DISCOVERY_TARGETS, ACTOR, "networkdiscovery", job_id=1)
        add_run(conn, 11, 1, 7, "PluginFusioninventoryIPRange", 1)
    before = scrape(client)
    reply = zlib.decompress(client.post(AGENT_PATH, data=prolog(DEVICE), headers=ZLIB_HEADERS).data)
    assert b"NETDISCOVERY" in reply
    client.post(AGENT_PATH, data=prolog(DEVICE), headers=ZLIB_HEADERS)  # nothing more to hand out
    after = scrape(client)
    assert (value(after, "fusion_bridge_runs_handed_out_total", method="networkdiscovery")
            - value(before, "fusion_bridge_runs_handed_out_total", method="networkdiscovery")) == 1


def test_healthz_and_readyz(client):
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.json["status"] == "alive"
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["status"] == "ready" and ready.json["problems"] == []
    checks = ready.json["checks"]
    assert checks["database"]["ok"] is True and checks["schema"]["ok"] is True
    assert checks["scheduler"]["ok"] is None  # no serve run directory: not this server's business
    assert client.post("/readyz").status_code == 405


def test_readyz_names_a_broken_schema(database_url, engine):
    logs = "glpi_plugin_fusioninventory_taskjoblogs"
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {logs} RENAME TO ops_test_hidden"))
    app = create_app({"DATABASE_URL": database_url})
    try:
        answer = app.test_client().get("/readyz")
    finally:
        app.extensions["fusion_bridge"].dispose()
        with engine.begin() as conn:  # back, for the next tests
            conn.execute(text(f"ALTER TABLE ops_test_hidden RENAME TO {logs}"))
    assert answer.status_code == 503
    body = answer.json
    assert body["status"] == "not ready" and body["checks"]["database"]["ok"] is True
    assert body["checks"]["schema"]["ok"] is False
    assert any("taskjoblogs" in problem for problem in body["checks"]["schema"]["problems"])
    assert body["problems"][0].startswith("schema: ")


def test_metrics_token_and_switch(database_url, monkeypatch):
    monkeypatch.setenv("FUSION_BRIDGE_METRICS_TOKEN", "s3cret")
    app = create_app({"DATABASE_URL": database_url})
    client = app.test_client()
    try:
        refused = client.get("/metrics")
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "s3cret" not in refused.get_data(as_text=True)
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/healthz").status_code == 200  # probes need no token
    finally:
        app.extensions["fusion_bridge"].dispose()
    monkeypatch.setenv("FUSION_BRIDGE_METRICS", "0")
    app = create_app({"DATABASE_URL": database_url})
    try:
        off = app.test_client().get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert off.status_code == 404 and "FUSION_BRIDGE_METRICS=0" in off.json["error"]
    finally:
        app.extensions["fusion_bridge"].dispose()


def test_metrics_only_on_the_metrics_listener(database_url, monkeypatch):
    monkeypatch.setenv("FUSION_BRIDGE_METRICS_BIND", "127.0.0.1:9464")
    app = create_app({"DATABASE_URL": database_url})
    client = app.test_client()
    try:
        on_agent_port = client.get("/metrics", environ_overrides={"SERVER_PORT": "8080"})
        assert on_agent_port.status_code == 404
        assert client.get("/metrics", environ_overrides={"SERVER_PORT": "9464"}).status_code == 200
        # The metrics listener serves the probes, nothing of the agents' or the API.
        assert client.get("/healthz", environ_overrides={"SERVER_PORT": "9464"}).status_code == 200
        agent = client.post(AGENT_PATH, data=prolog(DEVICE), headers=ZLIB_HEADERS,
                            environ_overrides={"SERVER_PORT": "9464"})
        assert agent.status_code == 404 and json.loads(agent.data)["error"]
        assert client.post(AGENT_PATH, data=prolog(DEVICE), headers=ZLIB_HEADERS,
                           environ_overrides={"SERVER_PORT": "8080"}).status_code == 200
    finally:
        app.extensions["fusion_bridge"].dispose()


@pytest.mark.parametrize("given, kept", [("abc-123", True), ("req.7:x/y+z=", True), ("x" * 129, False),
                                         ("has space", False), ("<script>", False), ("", False)])
def test_request_id_from_the_client_when_sane(client, given, kept):
    answer = client.get("/healthz", headers={"X-Request-Id": given})
    assert (answer.headers["X-Request-Id"] == given) is kept
    assert answer.headers["X-Request-Id"]
