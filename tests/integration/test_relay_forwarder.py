"""The forwarder against a real HTTP upstream on loopback (tests/helpers/relay_upstream.py),
scripted per request, on SQLite and MariaDB: each answer gives a delivery, a retry or a dead letter, with the
reason in ``relay status``; two forwarders on one queue send each document once."""

import time
import zlib

import pytest

from fusion_bridge.adapters.db import make_engine
from fusion_bridge.adapters.upstream_http import UpstreamClient
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.relay import queue, views
from fusion_bridge.services.relay.forwarder import Forwarder
from tests.helpers.agent_requests import USER_AGENT, inventory_xml
from tests.helpers.relay import add_agents, document, queue_inventory
from tests.helpers.relay_upstream import (DROP, GLPI10_OK, TIMEOUT, MovableClock, error_reply, relay_settings,
                                          status)

DEVICE = "pc01-2024-01-01-00-00-00"


@pytest.fixture
def setup(engine, database_url, upstream):
    add_agents(engine, 1)
    clock = MovableClock()
    forwarder = Forwarder(engine, relay_settings(database_url, upstream.url), clock=clock)
    client = UpstreamClient(forwarder.settings.upstream)
    yield forwarder, client, clock
    client.close()


def test_delivery_sends_the_document_as_the_agent_sent_it(setup, engine, upstream):
    forwarder, client, clock = setup
    body = queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00", now=clock.now)
    assert forwarder.forward_one(client) == "delivered"
    [request] = upstream.requests
    assert request.body == body
    assert request.headers["content-type"] == "application/x-compress-zlib"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["x-forwarded-for"] == "192.0.2.7"
    assert "authorization" not in request.headers
    assert document(engine) is None
    view = views.agent_view(engine, "pc0001-2024-01-01-00-00-00")
    assert view["last_delivery"]["outcome"] == "delivered" and view["last_delivery"]["http_status"] == 200
    assert view["last_delivery"]["delivered"] == 1 and view["documents"] == []
    state = views.status(engine)
    assert (state["documents"], state["delivered_last_minute"], state["last_error"]) == (0, 1, None)
    assert forwarder.forward_one(client) is None


def test_glpi10_reply_is_a_delivery(setup, engine, upstream):
    forwarder, client, clock = setup
    upstream.push(GLPI10_OK)
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00", now=clock.now)
    assert forwarder.forward_one(client) == "delivered"


@pytest.mark.parametrize("action, reason, steps_aside", [
    (status(500, body=b"PHP Fatal error"), "500 Internal Server Error: PHP Fatal error", True),
    (status(502), "502 Bad Gateway", False),
    (TIMEOUT, "no answer within 2 s", True),
    (DROP, "connection dropped", True),
])
def test_upstream_failures_are_retried_and_pause_the_forwarder(setup, engine, upstream, action, reason,
                                                               steps_aside):
    forwarder, client, clock = setup
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00", now=clock.now)
    upstream.push(action)
    assert forwarder.forward_one(client) == "retry"
    # Read at once: the test settings pause for 25-50 ms only (RELAY_BACKOFF_BASE).
    paused = forwarder.pause_left()
    row = document(engine)
    assert row["state"] == "queued" and row["claim_token"] is None and row["attempts"] == 1
    assert reason in row["last_error"] and row["rejections"] == 0
    assert (row["next_attempt"] > clock.now) == steps_aside  # failed: steps aside; unavailable: keeps its place
    assert paused > 0
    last = views.status(engine, now=clock.now)["last_error"]
    assert last["outcome"] == "retry" and reason in last["error"]
    clock.advance(5)
    assert forwarder.forward_one(client) == "delivered"
    assert document(engine) is None


def test_429_retry_after_is_honoured_and_the_document_keeps_its_place(setup, engine, upstream):
    forwarder, client, clock = setup
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00", now=clock.now)
    upstream.push(status(429, {"Retry-After": "7"}))
    assert forwarder.forward_one(client) == "retry"
    assert 6 < forwarder.pause_left() <= 7
    row = document(engine)
    assert row["next_attempt"] <= clock.now and row["last_status"] == 429


def test_unreachable_upstream(engine, database_url, upstream):
    add_agents(engine, 1)
    url = upstream.url
    upstream.close()  # nothing listens there any more
    forwarder = Forwarder(engine, relay_settings(database_url, url))
    client = UpstreamClient(forwarder.settings.upstream)
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00")
    assert forwarder.forward_one(client) == "retry"
    assert "refused" in document(engine)["last_error"]
    assert "refused" in views.status(engine)["last_error"]["error"]


@pytest.mark.parametrize("refusal, reason", [
    (status(400, body=b"bad request"), "400 Bad Request: bad request"),
    (error_reply("Plugin FusionInventory not installed!"), "Plugin FusionInventory not installed!"),
    (error_reply("Import failed", code=500), "500 Internal Server Error: Import failed"),
])
def test_refusals_go_dead_letter_after_max_attempts(setup, engine, upstream, refusal, reason):
    forwarder, client, clock = setup
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00", now=clock.now)
    upstream.push(refusal, refusal)
    assert forwarder.forward_one(client) == "rejected"
    row = document(engine)
    assert (row["state"], row["rejections"]) == ("queued", 1) and row["next_attempt"] > clock.now
    assert forwarder.pause_left() == 0  # the document is the problem, not the upstream
    clock.advance(5)
    assert forwarder.forward_one(client) == "dead"  # RELAY_MAX_ATTEMPTS=2
    row = document(engine)
    assert (row["state"], row["rejections"]) == ("dead", 2) and reason in row["last_error"]
    clock.advance(3600)
    assert forwarder.forward_one(client) is None  # dead letters wait for an operator
    state = views.status(engine, now=clock.now)
    assert state["dead"] == 1 and state["last_error"]["outcome"] == "dead" and reason in state["last_error"]["error"]
    [dead] = views.documents(engine, dead_only=True)
    assert dead["state"] == "dead" and reason in dead["last_error"]
    assert views.retry(engine, all_dead=True, now=clock.now) == {"retried": 1}
    assert forwarder.forward_one(client) == "delivered"


def test_a_newer_inventory_revives_a_dead_letter(setup, engine, upstream):
    forwarder, client, clock = setup
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00", now=clock.now)
    upstream.push(status(400), status(400))
    forwarder.forward_one(client)
    clock.advance(5)
    assert forwarder.forward_one(client) == "dead"
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00", name="fixed", now=clock.now)
    row = document(engine)
    assert (row["state"], row["rejections"], row["generation"]) == ("queued", 0, 2)
    assert forwarder.forward_one(client) == "delivered"
    assert upstream.delivered[-1].name == "fixed"


def test_purge_dead(setup, engine, upstream):
    forwarder, client, clock = setup
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00", now=clock.now)
    upstream.push(status(404), status(404))
    forwarder.forward_one(client)
    clock.advance(5)
    forwarder.forward_one(client)
    assert views.purge_dead(engine) == {"purged": 1}
    assert document(engine) is None


def test_basic_credentials_are_sent_and_never_shown(engine, database_url, upstream):
    add_agents(engine, 1)
    url = upstream.url.replace("http://", "http://glpi:s%40cret@")
    settings = relay_settings(database_url, url)
    assert "s@cret" not in settings.upstream.display and "glpi" not in settings.upstream.display
    assert "s@cret" not in repr(settings)
    forwarder = Forwarder(engine, settings)
    client = UpstreamClient(settings.upstream)
    queue_inventory(engine, 1, "pc0001-2024-01-01-00-00-00")
    assert forwarder.forward_one(client) == "delivered"
    assert upstream.requests[0].headers["authorization"] == "Basic Z2xwaTpzQGNyZXQ="


def test_two_forwarders_on_one_queue_send_each_document_once(engine, database_url, upstream):
    total = 500
    add_agents(engine, total)
    with engine.begin() as conn:
        now = local_now()
        for n in range(1, total + 1):
            queue.enqueue(conn, n, f"pc{n:04d}-2024-01-01-00-00-00", "", queue.Incoming(
                zlib.compress(inventory_xml(f"pc{n:04d}-2024-01-01-00-00-00")), "application/x-compress-zlib",
                USER_AGENT, None), now, queue.Caps(10**6, 10**12))
    engines = [make_engine(database_url) for _ in range(2)]
    forwarders = [Forwarder(e, relay_settings(database_url, upstream.url)) for e in engines]
    try:
        for forwarder in forwarders:
            forwarder.start()
        deadline = time.monotonic() + 120
        while queue.document_count(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for forwarder in forwarders:
            forwarder.stop()
        for e in engines:
            e.dispose()
    received = upstream.delivered_ids()
    assert len(received) == total and len(set(received)) == total
    assert len(upstream.requests) == total  # not one sent twice, even unanswered
    assert queue.document_count(engine) == 0
    assert all(f.delivered > 0 for f in forwarders)  # both took part
    assert sum(f.delivered for f in forwarders) == total
    assert upstream.max_in_flight <= 4
