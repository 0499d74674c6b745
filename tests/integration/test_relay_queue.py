"""The relay's accept path and queue, on SQLite and MariaDB: INVENTORYs stored as sent in the
contact's transaction, one document per agent, caps answered 503, claims that expire."""

import gzip
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import protocol
import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.app import create_app
from fusion_bridge.domain.relay_policy import DELIVERED, Verdict
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.relay import queue
from tests.helpers.agent_requests import (USER_AGENT, ZLIB_HEADERS, inventory_xml, netdiscovery_start_xml,
                                          prolog)
from tests.helpers.inventory_rows import add_agent
from tests.helpers.layouts import GLPIINVENTORY
from tests.helpers.relay_upstream import relay_config
from tests.helpers.task_rows import add_job, add_run, add_task

pytestmark = pytest.mark.both_flavours

EMPTY_REPLY = b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n</REPLY>\n'


def glpiinventory(engine) -> bool:
    with engine.connect() as conn:  # an engine learns its layout at its first connection
        return layout_of(conn).flavour == GLPIINVENTORY


def empty_reply(engine) -> bytes:
    """The empty REPLY as the database's GLPI writes it (docs/glpi10-protocol.md §3)."""
    if glpiinventory(engine):
        return protocol.write_reply(protocol.EmptyReply(), protocol.ReplyStyle.GLPI10)
    return EMPTY_REPLY


def make_app(database_url, upstream_url="http://127.0.0.1:9/", **settings):
    return create_app(relay_config(database_url, upstream_url, **settings))


@pytest.fixture
def relay_app(database_url):
    app = make_app(database_url)
    yield app
    app.extensions["fusion_bridge"].dispose()


@pytest.fixture
def relay_client(relay_app):
    return relay_app.test_client()


def post(client, body, headers=ZLIB_HEADERS, address="192.0.2.10"):
    return client.post("/plugins/fusioninventory/", data=body, headers=headers,
                       environ_base={"REMOTE_ADDR": address})


def rows(engine, table=schema.bridge_relayqueue):
    with engine.connect() as conn:
        return conn.execute(select(table).order_by(table.c.id)).mappings().all()


def count(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_an_inventory_is_queued_as_sent_and_not_imported(relay_client, engine):
    body = zlib.compress(inventory_xml("pc01-2024-01-01-00-00-00"), 1)  # not the level the bridge writes
    response = post(relay_client, body)
    assert response.status_code == 200 and zlib.decompress(response.data) == empty_reply(engine)
    [row] = rows(engine)
    assert row["body"] == body and row["size"] == len(body)
    assert (row["content_type"], row["user_agent"], row["remote_addr"]) == \
        ("application/x-compress-zlib", USER_AGENT, "192.0.2.10")
    assert (row["state"], row["generation"], row["attempts"], row["subject"]) == ("queued", 1, 0, "")
    assert row["queued_at"] == row["arrived"] and row["next_attempt"] <= local_now()
    with engine.connect() as conn:
        agent = conn.execute(select(schema.agents)).mappings().one()
    assert row["plugin_fusioninventory_agents_id"] == agent["id"] and row["device_id"] == agent["device_id"]
    # FusionInventory keeps versions by module; GLPI 10/11 the agent's plain version (docs/glpi10-protocol.md §5.2).
    expected = "2.6-3" if layout_of(engine).renames else '{"INVENTORY":"v2.6-3"}'
    assert agent["version"] == expected and agent["computers_id"] == 0
    # GLPI imports it: the bridge writes no computer and keeps no copy of its own.
    assert count(engine, schema.glpi_computers) == 0
    assert count(engine, schema.bridge_inventories) == 0


@pytest.mark.parametrize("encode, content_type", [(lambda x: x, "application/xml"),
                                                  (gzip.compress, "application/x-compress-gzip")])
def test_plain_and_gzip_bodies_are_kept_as_they_came(relay_client, engine, encode, content_type):
    body = encode(inventory_xml("pc01-2024-01-01-00-00-00"))
    assert post(relay_client, body, {"Content-Type": content_type, "User-Agent": USER_AGENT}).status_code == 200
    [row] = rows(engine)
    assert row["body"] == body and row["content_type"] == content_type


def test_a_refused_inventory_is_not_queued(relay_client, engine):
    response = post(relay_client, zlib.compress(b"<REQUEST><QUERY>INVENTORY</QUERY><CONTENT/></REQUEST>"))
    assert response.status_code == 400 and b"missing DEVICEID" in zlib.decompress(response.data)
    response = post(relay_client, zlib.compress(b"<!DOCTYPE x [<!ENTITY a 'b'>]><REQUEST/>"))
    assert response.status_code == 400
    assert rows(engine) == []


def test_a_newer_inventory_of_the_agent_replaces_the_queued_one_and_keeps_its_place(relay_client, engine):
    first, other, second = (zlib.compress(inventory_xml(device, name)) for device, name in (
        ("pc01-2024-01-01-00-00-00", "first"), ("pc02-2024-01-01-00-00-00", "other"),
        ("pc01-2024-01-01-00-00-00", "second")))
    for body in (first, other, second):
        assert post(relay_client, body).status_code == 200
    documents = rows(engine)
    assert [d["device_id"] for d in documents] == ["pc01-2024-01-01-00-00-00", "pc02-2024-01-01-00-00-00"]
    assert documents[0]["body"] == second and documents[0]["generation"] == 2
    assert documents[0]["queued_at"] <= documents[1]["queued_at"] <= documents[0]["arrived"]


def test_caps_answer_503_and_a_replacement_still_goes_in(database_url, engine, caplog):
    app = make_app(database_url, RELAY_MAX_DOCUMENTS=2)
    client = app.test_client()
    try:
        for device in ("pc01-2024-01-01-00-00-00", "pc02-2024-01-01-00-00-00"):
            assert post(client, zlib.compress(inventory_xml(device))).status_code == 200
        for _ in range(3):
            full = post(client, zlib.compress(inventory_xml("pc03-2024-01-01-00-00-00")))
            assert full.status_code == 503
            assert b"inventory queue full (2 documents" in zlib.decompress(full.data)
        # One log line for the three refusals (the next comes after the interval, with a count).
        assert sum("inventory queue full" in r.getMessage() for r in caplog.records) == 1
        again = post(client, zlib.compress(inventory_xml("pc01-2024-01-01-00-00-00", "newer")))
        assert again.status_code == 200
        assert len(rows(engine)) == 2
        # Nothing of the refused agent's message was written (its contact neither).
        with engine.connect() as conn:
            names = conn.execute(select(schema.agents.c.device_id)).scalars().all()
        assert "pc03-2024-01-01-00-00-00" not in names
    finally:
        app.extensions["fusion_bridge"].dispose()


def test_byte_cap(database_url, engine):
    body = zlib.compress(inventory_xml("pc01-2024-01-01-00-00-00"))
    app = make_app(database_url, RELAY_MAX_BYTES=len(body) + 10)
    try:
        client = app.test_client()
        assert post(client, body).status_code == 200
        assert post(client, zlib.compress(inventory_xml("pc02-2024-01-01-00-00-00"))).status_code == 503
        assert [r["device_id"] for r in rows(engine)] == ["pc01-2024-01-01-00-00-00"]
    finally:
        app.extensions["fusion_bridge"].dispose()


def test_prologs_and_discovery_results_stay_the_bridges(relay_client, engine):
    device = "pc01-2024-01-01-00-00-00"
    assert post(relay_client, prolog(device)).status_code == 200
    with engine.begin() as conn:
        if glpiinventory(engine):  # GLPI 10's PROLOG creates no agent: its CONTACT or inventory does
            add_agent(conn, device_id=device)
        agent_id = conn.execute(select(schema.agents.c.id)).scalar_one()
        add_task(conn, 1)
        add_job(conn, 1, '[{"PluginFusioninventoryIPRange":"1"}]',
                f'[{{"PluginFusioninventoryAgent":"{agent_id}"}}]', "networkdiscovery", job_id=1)
        add_run(conn, 11, 1, agent_id, "PluginFusioninventoryIPRange", 1, state=1)
    assert post(relay_client, zlib.compress(netdiscovery_start_xml(device))).status_code == 200
    with engine.connect() as conn:
        assert conn.execute(select(schema.taskjobstates.c.state)).scalar_one() == 2
    assert rows(engine) == []


def incoming(body=b"x"):
    return queue.Incoming(body, "application/x-compress-zlib", USER_AGENT, "192.0.2.1")


def enqueue(engine, agent_id, body=b"doc", now=None):
    with engine.begin() as conn:
        queue.enqueue(conn, agent_id, f"agent{agent_id}", "", incoming(body), now or local_now(),
                      queue.Caps(100, 10**9))


def test_claims_are_exclusive_and_expire(engine):
    now = local_now()
    enqueue(engine, 1, now=now)
    first = queue.claim(engine, now, claim_seconds=60)
    assert first is not None and first.attempts == 1
    assert queue.claim(engine, now, claim_seconds=60) is None  # claimed
    later = now + timedelta(seconds=61)
    second = queue.claim(engine, later, claim_seconds=60)  # the first forwarder died
    assert second is not None and second.id == first.id and second.token != first.token
    # The first forwarder comes back: its claim is gone, it changes nothing.
    assert queue.finish(engine, first, Verdict(DELIVERED, 200), later, 0.1, 1, 3) == DELIVERED
    assert len(rows(engine)) == 1
    queue.finish(engine, second, Verdict(DELIVERED, 200), later, 0.1, 1, 3)
    assert rows(engine) == []


def test_a_document_replaced_in_flight_stays_queued(engine):
    now = local_now()
    enqueue(engine, 1, b"old", now)
    in_flight = queue.claim(engine, now, claim_seconds=60)
    enqueue(engine, 1, b"new", now)
    queue.finish(engine, in_flight, Verdict(DELIVERED, 200), now, 0.1, 1, 3)
    [row] = rows(engine)
    assert (row["body"], row["generation"], row["claim_token"], row["state"]) == (b"new", 2, None, "queued")
    again = queue.claim(engine, now, claim_seconds=60)
    assert again.body == b"new"


def test_oldest_first(engine):
    now = local_now()
    for agent_id in (3, 1, 2):
        enqueue(engine, agent_id, now=now)
    enqueue(engine, 3, b"newer", now)  # replaced, keeps its place
    claimed = [queue.claim(engine, now, 60).agent_id for _ in range(3)]
    assert claimed == [3, 1, 2]


def test_without_an_upstream_the_bridge_imports_and_keeps_the_agents_zlib_body(client, engine):
    body = zlib.compress(inventory_xml("pc01-2024-01-01-00-00-00", "pc01"), 1)
    assert post(client, body).status_code == 200
    with engine.connect() as conn:
        stored = conn.execute(select(schema.bridge_inventories)).mappings().one()
        computer = conn.execute(select(schema.glpi_computers)).mappings().one()
    assert stored["content"] == body and stored["compression"] == "zlib"  # not recompressed
    assert computer["name"] == "pc01"
    assert rows(engine) == []


def test_esx_host_inventories_are_not_coalesced_with_the_agents_own(relay_client, engine):
    device = "esxagent-2024-01-01-00-00-00"
    assert post(relay_client, zlib.compress(inventory_xml(device, "own"))).status_code == 200
    with engine.begin() as conn:
        agent_id = conn.execute(select(schema.agents.c.id)).scalar_one()
        add_task(conn, 1)
        add_job(conn, 1, '[{"PluginFusioninventoryCredentialIp":"1"}]',
                f'[{{"PluginFusioninventoryAgent":"{agent_id}"}}]', "InventoryComputerESX", job_id=1)
        add_run(conn, 11, 1, agent_id, "PluginFusioninventoryCredentialIp", 1, state=1)

    def host(uuid, name):
        return zlib.compress(inventory_xml(device, name).replace(
            b"</HARDWARE>", f"<UUID>{uuid}</UUID></HARDWARE>".encode()))

    for body in (host("AAAA-1", "esx1"), host("BBBB-2", "esx2"), host("aaaa-1", "esx1 again")):
        assert post(relay_client, body).status_code == 200
    documents = rows(engine)
    assert [d["subject"] for d in documents] == ["", "uuid:aaaa-1", "uuid:bbbb-2"]
    assert b"esx1 again" in zlib.decompress(documents[1]["body"])


def test_a_body_sent_without_content_type_is_queued_with_its_encodings(relay_client, engine):
    body = zlib.compress(inventory_xml("pc01-2024-01-01-00-00-00"))
    assert post(relay_client, body, {"User-Agent": USER_AGENT}).status_code == 200
    assert rows(engine)[0]["content_type"] == "application/x-compress-zlib"
