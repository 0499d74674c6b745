"""GLPI Agent's JSON inventory in relay mode on a GLPI 10 database (docs/glpi10-protocol.md §4.6):
announced at CONTACT, queued as the agent sent it in the transaction that records the agent,
answered as GLPI 10 answers, and forwarded to a real HTTP upstream that answers in JSON; without
an upstream it is refused with the reason. Recorded GLPI Agent 1.11 traffic (fixtures/recorded-glpi10)."""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import func, select, text

import schema
from fusion_bridge.adapters.upstream_http import UpstreamClient
from fusion_bridge.app import create_app
from fusion_bridge.services.relay import views
from fusion_bridge.services.relay.forwarder import Forwarder
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.layouts import GLPIINVENTORY
from tests.helpers.exposition import parse, value
from tests.helpers.recorded_glpi10 import AGENT_ID, exchange
from tests.helpers.relay import document
from tests.helpers.relay_upstream import MovableClock, error_reply, relay_config, relay_settings

pytestmark = pytest.mark.parametrize("database_url", [
    pytest.param(("sqlite", GLPIINVENTORY), id="sqlite-glpiinventory"),
    pytest.param(("mariadb", GLPIINVENTORY), id="mariadb-glpiinventory", marks=pytest.mark.mariadb),
], indirect=True)

HEADERS = ("Content-Type", "User-Agent", "GLPI-Agent-ID", "GLPI-Request-ID")
CONTACT = exchange("01-glpi-agent-inventory/run2/001-POST-CONTACT")
INVENTORY = exchange("01-glpi-agent-inventory/run2/002-POST-INVENTORY")
DEVICE = json.loads(INVENTORY.request_decoded)["deviceid"]


@pytest.fixture
def relay_app(database_url, upstream):
    app = create_app(relay_config(database_url, upstream.url, LOG_INTERVAL=0))
    yield app
    app.extensions["fusion_bridge"].dispose()


def post(client, recorded, body: bytes | None = None):
    return client.post(recorded.path, data=recorded.request_raw if body is None else body,
                       headers=recorded.request_headers(*HEADERS))


def with_content(**changes) -> bytes:
    """The recorded inventory with ``content`` keys changed, compressed as the agent does."""
    document_ = json.loads(INVENTORY.request_decoded)
    document_["content"].update(changes)
    return zlib.compress(json.dumps(document_).encode())


def glpi_agents(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT deviceid, useragent, version FROM glpi_agents")).mappings().all()


def test_contact_announces_inventory_and_the_detecting_prolog_is_answered_in_json(relay_app):
    client = relay_app.test_client()
    reply = json.loads(zlib.decompress(post(client, CONTACT).data))
    assert "disabled" not in reply
    assert reply["tasks"]["inventory"]["server"] == "glpi"
    response = client.post("/front/inventory.php", data=prolog(DEVICE),
                           headers={**ZLIB_HEADERS, "GLPI-Agent-ID": AGENT_ID})
    assert zlib.decompress(response.data) == b'{"expiration":"24","status":"ok"}'


def test_a_json_inventory_is_queued_as_sent_answered_as_glpi_and_delivered(relay_app, engine, database_url,
                                                                          upstream):
    client = relay_app.test_client()
    response = post(client, INVENTORY)
    assert response.status_code == 200
    assert zlib.decompress(response.data) == INVENTORY.reply_decoded  # GLPI 10's own answer, recorded
    assert response.headers["Content-Type"] == "application/x-compress-zlib"
    assert response.headers["GLPI-Agent-ID"] == AGENT_ID
    # The agent is made as for an XML inventory, with the version its content gives.
    [agent] = glpi_agents(engine)
    assert (agent["deviceid"], agent["useragent"], agent["version"]) == (DEVICE, "GLPI-Agent_v1.11", "1.11")
    queued = document(engine)
    assert (queued["device_id"], queued["body"], queued["content_type"], queued["subject"]) == (
        DEVICE, INVENTORY.request_raw, "application/x-compress-zlib", "")

    forwarder = Forwarder(engine, relay_settings(database_url, upstream.url), clock=MovableClock())
    sender = UpstreamClient(forwarder.settings.upstream)
    try:
        assert forwarder.forward_one(sender) == "delivered"
    finally:
        sender.close()
    [request] = upstream.delivered
    assert (request.device_id, request.body) == (DEVICE, INVENTORY.request_raw)
    assert request.headers["content-type"] == "application/x-compress-zlib"
    assert request.headers["user-agent"] == "GLPI-Agent_v1.11"
    assert document(engine) is None
    assert views.agent_view(engine, DEVICE)["last_delivery"]["outcome"] == "delivered"


def test_a_newer_json_inventory_replaces_the_waiting_one(relay_app, engine):
    client = relay_app.test_client()
    assert post(client, INVENTORY).status_code == 200
    newer = with_content(accesslog={"logdate": "2026-12-05 08:00:00"})
    assert post(client, INVENTORY, newer).status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.bridge_relayqueue)).scalar_one() == 1
    assert document(engine)["body"] == newer


def test_glpis_json_refusal_dead_letters_the_document_with_its_message(relay_app, engine, database_url, upstream):
    assert post(relay_app.test_client(), INVENTORY).status_code == 200
    upstream.push(error_reply("Inventory is not valid", 400), error_reply("Inventory is not valid", 400))
    clock = MovableClock()
    forwarder = Forwarder(engine, relay_settings(database_url, upstream.url), clock=clock)
    sender = UpstreamClient(forwarder.settings.upstream)
    try:
        assert forwarder.forward_one(sender) == "rejected"
        clock.advance(60)
        assert forwarder.forward_one(sender) == "dead"  # RELAY_MAX_ATTEMPTS=2
    finally:
        sender.close()
    assert upstream.delivered == []
    [refused] = upstream.requests[-1:]
    assert refused.body == INVENTORY.request_raw
    dead = document(engine)
    assert dead["state"] == "dead" and "Inventory is not valid" in dead["last_error"]
    assert "Inventory is not valid" in views.status(engine)["last_error"]["error"]


@pytest.mark.parametrize("document_, reason", [
    ({"action": "inventory", "content": {"hardware": {"name": "pc"}}}, "inventory has no deviceid"),
    ({"action": "inventory", "deviceid": "pc-2026-12-05-00-00-00"}, "inventory has no content object"),
    ({"action": "inventory", "deviceid": "x" * 256, "content": {"bios": {}}}, "deviceid longer than 255"),
])
def test_an_invalid_json_inventory_is_refused_and_nothing_is_written(relay_app, engine, document_, reason):
    client = relay_app.test_client()
    refused_before = _refused_inventories(client)
    response = client.post("/plugins/glpiinventory/", data=zlib.compress(json.dumps(document_).encode()),
                           headers=ZLIB_HEADERS)
    assert response.status_code == 400
    answer = json.loads(zlib.decompress(response.data))
    assert answer["status"] == "error" and reason in answer["message"]
    assert document(engine) is None and glpi_agents(engine) == []
    # Counted as a refused JSON inventory, not as some other request.
    assert _refused_inventories(client) - refused_before == 1


def _refused_inventories(client) -> float:
    metrics = parse(client.get("/metrics").get_data(as_text=True))
    return value(metrics, "fusion_bridge_requests_total", kind="JSON-inventory", status="400")


def test_a_full_queue_answers_503_in_json(database_url, upstream, engine):
    app = create_app(relay_config(database_url, upstream.url, RELAY_MAX_DOCUMENTS=1, LOG_INTERVAL=0))
    try:
        client = app.test_client()
        assert post(client, INVENTORY).status_code == 200
        other = json.loads(INVENTORY.request_decoded)
        other["deviceid"] = "other-2026-12-05-00-00-00"
        response = post(client, INVENTORY, zlib.compress(json.dumps(other).encode()))
        assert response.status_code == 503
        assert json.loads(zlib.decompress(response.data))["status"] == "error"
    finally:
        app.extensions["fusion_bridge"].dispose()


def test_without_an_upstream_json_inventories_are_refused_and_contact_says_so(client, engine):
    reply = json.loads(zlib.decompress(post(client, CONTACT).data))
    assert "inventory" in reply["disabled"] and "inventory" not in reply.get("tasks", {})
    response = post(client, INVENTORY)
    assert response.status_code == 400
    assert "only when an inventory upstream" in json.loads(zlib.decompress(response.data))["message"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.bridge_relayqueue)).scalar_one() == 0
