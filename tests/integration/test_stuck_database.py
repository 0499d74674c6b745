"""A database that stops answering or restarts (issue 10, items 6 and 7), on a MariaDB server of
the test's own (tests/throwaway_mariadb.py): frozen with SIGSTOP, every request gets a 503 within
5 s instead of waiting as long as the freeze; thawed or restarted, service resumes without a 503
(stale pooled connections are replaced and the request run again)."""

from __future__ import annotations

import threading
import time
import zlib

import pytest

import schema
from fusion_bridge.app import create_app
from fusion_bridge.adapters.db import make_engine
from tests.helpers.agent_requests import ZLIB_HEADERS, inventory_xml, prolog
from tests.helpers.throwaway_mariadb import ThrowawayMariaDB

KNOWN = "known-2026-01-01-00-00-00"
AGENT = "/plugins/fusioninventory/"


@pytest.fixture(scope="module")
def own_server():
    server = ThrowawayMariaDB()
    yield server
    server.stop()


@pytest.fixture
def app(own_server):
    url = own_server.create_database()
    engine = make_engine(url)
    schema.init_database(engine)
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "SETTINGS_TTL": 0, "LOG_INTERVAL": 0})
    yield app
    app.extensions["fusion_bridge"].dispose()


REQUESTS = {
    "known PROLOG": ("POST", AGENT, prolog(KNOWN)),
    "first PROLOG": ("POST", AGENT, None),  # a new DEVICEID each time
    "INVENTORY": ("POST", AGENT, zlib.compress(inventory_xml(KNOWN))),
    "getConfig": ("GET", f"{AGENT}?action=getConfig&machineid={KNOWN}&task%5BCollect%5D=2.6", None),
    "Collect getJobs": ("GET", f"{AGENT}b/collect/?action=getJobs&machineid={KNOWN}", None),
    "Deploy getJobs": ("GET", f"{AGENT}b/deploy/?action=getJobs&machineid={KNOWN}", None),
}
_new_agents = iter(range(1_000_000))


def send(app, name: str) -> tuple[int, float, bytes]:
    method, path, body = REQUESTS[name]
    if name == "first PROLOG":
        body = prolog(f"new{next(_new_agents)}-2026-01-01-00-00-00")
    started = time.monotonic()
    client = app.test_client()
    response = client.post(path, data=body, headers=ZLIB_HEADERS) if method == "POST" else client.get(path)
    data = response.data
    if data[:2] == b"\x78\x9c":
        data = zlib.decompress(data)
    return response.status_code, time.monotonic() - started, data


def send_all_at_once(app, names: list[str]) -> list[tuple[str, int, float, bytes]]:
    """Each request of ``names`` in a thread of its own: (name, status, seconds, body)."""
    results: list[tuple[str, int, float, bytes]] = []
    threads = [threading.Thread(target=lambda n=n: results.append((n, *send(app, n)))) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == len(names), "requests still waiting after 30 s"
    return results


def warm(app) -> None:
    """The agent known and every pool holding several connections."""
    assert send(app, "known PROLOG")[0] == 200
    for _ in range(2):
        assert {status for _, status, _, _ in send_all_at_once(app, list(REQUESTS))} == {200}


def test_a_frozen_database_is_a_503_within_5_s_then_service_resumes(app, own_server):
    warm(app)
    own_server.freeze()
    try:
        during = send_all_at_once(app, list(REQUESTS) * 2)
        later = send_all_at_once(app, list(REQUESTS))  # still frozen: new connections time out too
    finally:
        own_server.thaw()
    for name, status, elapsed, body in during + later:
        assert status == 503, name
        assert elapsed < 5.0, (name, elapsed)
        assert b"database not responding" in body, (name, body)
    after = send_all_at_once(app, list(REQUESTS))
    assert {name: status for name, status, _, _ in after} == dict.fromkeys(REQUESTS, 200)


def test_after_a_restart_no_request_fails(app, own_server):
    warm(app)
    own_server.restart()
    statuses = [send(app, name)[0] for name in list(REQUESTS) * 3]
    assert statuses == [200] * len(statuses)
