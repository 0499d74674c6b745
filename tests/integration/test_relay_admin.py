"""Seeing and acting on the relay through ``fusion-bridge relay ...`` and ``/api/relay``, on
SQLite and MariaDB: status, list, retry, purge and an agent's last delivery."""

import json
import zlib

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

import schema
from fusion_bridge.app import create_app
from fusion_bridge.cli.main import main
from fusion_bridge.domain.text import local_now
from tests.helpers.agent_requests import ZLIB_HEADERS, inventory_xml
from tests.helpers.relay_upstream import relay_config

pytestmark = pytest.mark.both_flavours

TOKEN = "relay-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DEVICES = ["pc01-2024-01-01-00-00-00", "pc02-2024-01-01-00-00-00"]


@pytest.fixture
def api(database_url):
    app = create_app(relay_config(database_url, "https://glpi:secret@glpi.example/front/inventory.php",
                                  ADMIN_TOKEN=TOKEN))
    client = app.test_client()
    for device in DEVICES:
        assert client.post("/plugins/fusioninventory/", data=zlib.compress(inventory_xml(device)),
                           headers=ZLIB_HEADERS).status_code == 200
    yield client
    app.extensions["fusion_bridge"].dispose()


def kill(engine, device, reason="400 Bad Request: no"):
    with engine.begin() as conn:
        conn.execute(update(schema.bridge_relayqueue).where(schema.bridge_relayqueue.c.device_id == device)
                     .values(state="dead", rejections=5, last_status=400, last_error=reason))


def cli(database_url, *args):
    result = CliRunner().invoke(main, ["relay", *args, "--database", database_url])
    return result


def test_api_status_list_retry_purge(api, engine):
    status = api.get("/api/relay", headers=AUTH).get_json()
    assert status["upstream"] == "https://glpi.example/front/inventory.php"  # credentials never shown
    assert (status["documents"], status["queued"], status["in_flight"], status["dead"]) == (2, 2, 0, 0)
    assert status["oldest_age_seconds"] >= 0 and status["caps"]["max_documents"] == 10000
    kill(engine, DEVICES[0])
    documents = api.get("/api/relay/documents?dead=1", headers=AUTH).get_json()["documents"]
    assert [(d["device_id"], d["state"], d["last_error"]) for d in documents] == \
        [(DEVICES[0], "dead", "400 Bad Request: no")]
    assert len(api.get("/api/relay/documents", headers=AUTH).get_json()["documents"]) == 2
    assert api.post(f"/api/relay/documents/{documents[0]['id']}/retry", headers=AUTH).get_json() == {"retried": 1}
    kill(engine, DEVICES[1])
    assert api.post("/api/relay/dead/retry", headers=AUTH).get_json() == {"retried": 1}
    kill(engine, DEVICES[1])
    assert api.delete("/api/relay/dead", headers=AUTH).get_json() == {"purged": 1}
    assert api.get("/api/relay", headers=AUTH).get_json()["documents"] == 1


def test_api_errors(api):
    assert api.get("/api/relay").status_code == 401
    assert api.post("/api/relay/documents/999999/retry", headers=AUTH).status_code == 404
    assert api.get("/api/relay/documents?limit=x", headers=AUTH).status_code == 400
    assert api.get("/api/relay/agents/nobody", headers=AUTH).get_json() == {
        "error": "no agent with id or DEVICEID 'nobody'"}


def test_api_agent_view(api, engine):
    view = api.get(f"/api/relay/agents/{DEVICES[1]}", headers=AUTH).get_json()
    assert view["agent"]["device_id"] == DEVICES[1] and view["last_delivery"] is None
    assert [d["state"] for d in view["documents"]] == ["queued"]
    with engine.begin() as conn:
        agent_id = conn.execute(select(schema.agents.c.id).where(schema.agents.c.device_id == DEVICES[1])).scalar()
        conn.execute(schema.bridge_relaydeliveries.insert().values(
            plugin_fusioninventory_agents_id=agent_id, device_id=DEVICES[1], date=local_now(), outcome="delivered",
            http_status=200, latency_ms=42, delivered_at=local_now(), delivered=3))
    by_id = api.get(f"/api/relay/agents/{agent_id}", headers=AUTH).get_json()
    assert by_id["last_delivery"]["latency_ms"] == 42 and by_id["last_delivery"]["delivered"] == 3


def test_cli(api, engine, database_url):
    result = cli(database_url, "status")
    assert result.exit_code == 0, result.output
    assert "queued:" in result.output and "2" in result.output
    data = json.loads(cli(database_url, "status", "--json").output)
    assert data["queued"] == 2
    kill(engine, DEVICES[0], "ERROR: Plugin FusionInventory not installed!")
    listing = cli(database_url, "list", "--dead")
    assert DEVICES[0] in listing.output and "Plugin FusionInventory not installed!" in listing.output
    assert DEVICES[1] not in listing.output
    document_id = json.loads(cli(database_url, "list", "--json").output)[0]["id"]
    assert "1 document(s) queued again" in cli(database_url, "retry", str(document_id)).output
    assert cli(database_url, "retry").exit_code != 0  # an id or --all-dead
    kill(engine, DEVICES[0])
    assert "1 document(s) queued again" in cli(database_url, "retry", "--all-dead").output
    kill(engine, DEVICES[0])
    assert "1 dead document(s) deleted" in cli(database_url, "purge", "--dead").output
    view = cli(database_url, "agent", DEVICES[1])
    assert view.exit_code == 0 and "no delivery attempt yet" in view.output and "queued" in view.output
    assert cli(database_url, "agent", "nobody").exit_code != 0
