"""GLPI Agent's CONTACT flow through Flask, replayed from the GLPI 10 recordings (scenarios 01,
02 and 07 of fixtures/recorded-glpi10): tasks announced, the following XML PROLOG answered,
bad JSON refused with a clear 4xx (docs/glpi10-protocol.md §4, §5)."""

import json
import zlib

import pytest
from sqlalchemy import select

import fusion_bridge
import protocol
from fusion_bridge.services.agent.contact import ContactCalls, ContactPolicy
from tests.helpers import glpi_agents
from tests.helpers.inventory_rows import add_agent
from tests.helpers.recorded_glpi10 import (AGENT_ID, DEVICE, GLPI_VERSION, PLUGIN_VERSION, Exchange, exchange)
from tests.helpers.task_rows import add_iprange, add_job, add_run, add_task

GLPI_POLICY = ContactPolicy(plugin_version=PLUGIN_VERSION, inventory_version=GLPI_VERSION, wakeonlan=False)
SENT_HEADERS = ("Content-Type", "User-Agent", "GLPI-Agent-ID", "GLPI-Request-ID")
SCENARIO_02 = "02-glpi-agent-netdiscovery/run1-snmpd-as-computer"


def replay(client, recorded: Exchange, path: str | None = None):
    return client.post(path or recorded.path, data=recorded.request_raw, headers=recorded.request_headers(*SENT_HEADERS))


def as_glpi(app, policy=GLPI_POLICY):
    """The app's services answering as GLPI 10 + glpiinventory 1.5.8 would."""
    services = app.extensions["fusion_bridge"]
    services.contact = ContactCalls(services.engine, policy)
    services.reply_style = protocol.ReplyStyle.GLPI10


@pytest.fixture
def recorded_discovery(engine):
    """The discovery run of scenario 02 (run 1 = PID 1) prepared for the GLPI Agent's deviceid."""
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
        add_iprange(conn, "127.0.0.1", "127.0.0.3", range_id=1, credentials=((2, 1),))
        add_task(conn, 1)
        add_job(conn, 1, '[{"PluginFusioninventoryIPRange":"1"}]', '[{"PluginFusioninventoryAgent":"3"}]',
                "networkdiscovery", job_id=1)
        add_run(conn, 1, 1, 3, "PluginFusioninventoryIPRange", 1)


def test_contact_then_prolog_as_glpi_10_answers_them(app, client, recorded_discovery):
    as_glpi(app)
    contact = exchange(f"{SCENARIO_02}/001-POST-CONTACT")
    response = replay(client, contact)
    assert response.status_code == 200 and response.content_type == "application/x-compress-zlib"
    assert response.data == contact.reply_raw  # {"expiration":"24","status":"ok","tasks":{"netdiscovery":…}}
    assert response.headers["GLPI-Agent-ID"] == AGENT_ID
    assert response.headers["GLPI-Request-ID"] == contact.request_header("GLPI-Request-ID")

    prolog = exchange(f"{SCENARIO_02}/002-POST-PROLOG")
    response = replay(client, prolog)
    assert response.status_code == 200 and "GLPI-Agent-ID" not in response.headers
    assert zlib.decompress(response.data) == prolog.reply_decoded  # the OPTION NETDISCOVERY, GLPI 10's bytes

    start = exchange(f"{SCENARIO_02}/003-POST-NETDISCOVERY-START")
    response = replay(client, start)
    assert response.status_code == 200
    # Not GLPI 10's <REPLY/>, which agent 2.x refuses (docs/glpi10-protocol.md §7).
    assert zlib.decompress(response.data) == b'<?xml version="1.0"?>\n<REPLY></REPLY>'


def test_the_bridge_announces_its_own_tasks(client, engine):
    contact = exchange("07-glpi-agent-default-run-all-tasks/001-POST-CONTACT")
    response = replay(client, contact)
    assert response.status_code == 200 and response.headers["GLPI-Agent-ID"] == AGENT_ID
    answer = json.loads(zlib.decompress(response.data))
    ours = {"server": "glpiinventory", "version": fusion_bridge.__version__}
    assert answer["tasks"] == {name: ours for name in ("collect", "deploy", "esx", "netdiscovery", "netinventory",
                                                        "wakeonlan")}
    # JSON inventories are not taken: inventory is not run here; the agent's PROLOG follows.
    assert answer["disabled"] == ["inventory", "remoteinventory"]
    assert (answer["expiration"], answer["status"]) == ("24", "ok")

    prolog = replay(client, exchange("07-glpi-agent-default-run-all-tasks/002-POST-PROLOG"))
    assert prolog.status_code == 200
    assert zlib.decompress(prolog.data).startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>')


def test_contact_records_the_agent_and_its_flags_in_glpi_agents(app, client, engine):
    services = app.extensions["fusion_bridge"]
    with glpi_agents.created_in(engine) as table:
        services.contact = ContactCalls(services.engine, ContactPolicy(), agents_table=table)
        assert replay(client, exchange(f"{SCENARIO_02}/001-POST-CONTACT")).status_code == 200
        with engine.connect() as conn:
            [row] = conn.execute(select(table)).mappings().all()
        assert (row["deviceid"], row["name"], row["agenttypes_id"], row["itemtype"], row["items_id"]) == (
            DEVICE, DEVICE, 1, "Computer", 0)
        assert (row["useragent"], row["threads_networkdiscovery"], row["version"]) == ("GLPI-Agent_v1.11", 0, None)
        assert {name: row[name] for name in glpi_agents.MODULE_COLUMNS if row[name]} == {
            "use_module_network_discovery": 1}
        # The next CONTACT (all tasks) updates the same row.
        assert replay(client, exchange("07-glpi-agent-default-run-all-tasks/001-POST-CONTACT")).status_code == 200
        with engine.connect() as conn:
            rows = conn.execute(select(table)).mappings().all()
        assert len(rows) == 1 and all(rows[0][name] == 1 for name in glpi_agents.MODULE_COLUMNS)


def test_detecting_prolog_stays_xml_unless_json_inventories_are_taken(app, client):
    detecting = exchange("01-glpi-agent-inventory/run1/001-POST-PROLOG")
    response = replay(client, detecting)
    assert response.status_code == 200 and response.headers["GLPI-Agent-ID"] == AGENT_ID
    assert b"<PROLOG_FREQ>24</PROLOG_FREQ>" in zlib.decompress(response.data)
    as_glpi(app)
    response = replay(client, detecting)
    assert response.data == detecting.reply_raw  # {"expiration":"24","status":"ok"}, compressed


@pytest.mark.parametrize("body, content_type, reason", [
    (zlib.compress(b"{not json"), "application/x-compress-zlib", "malformed JSON"),
    (b"[]", "application/json", "not an object"),
    (b"garbage", "application/json", "malformed JSON"),
    (b'{"action":"contact"}', "application/json", "no deviceid"),
    (b'{"action":"contact","deviceid":"pc","enabled-tasks":"all"}', "application/json", "not a list"),
    (b'{"action":"inventory","deviceid":"pc","content":{}}', "application/json", "no content object"),
    (b'{"action":"inventory","deviceid":"pc","content":{"hardware":{"name":"pc"}}}', "application/json",
     "taken only when an inventory upstream"),  # no upstream here: inventories are imported, from XML
    (b'{"a":' + b"[" * 50000 + b"]" * 50000 + b"}", "application/json", "malformed JSON"),
])
def test_bad_json_is_a_clear_400(client, body, content_type, reason):
    response = client.post("/plugins/glpiinventory/", data=body,
                           headers={"Content-Type": content_type, "GLPI-Agent-ID": AGENT_ID})
    assert response.status_code == 400
    text = zlib.decompress(response.data) if content_type.endswith("zlib") else response.data
    answer = json.loads(text)
    assert answer["status"] == "error" and reason in answer["message"] and answer["expiration"] == 24
    assert response.headers["GLPI-Agent-ID"] == AGENT_ID
