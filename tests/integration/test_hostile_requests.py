"""Hostile and broken requests: a 4xx with a reason, quickly, nothing written, service goes on."""

import os
import time
import zlib

import pytest
from sqlalchemy import func, select

import schema
from fusion_bridge.app import create_app
from tests.helpers.agent_requests import ZLIB_HEADERS, message_xml, prolog, prolog_xml

XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b"<REQUEST><DEVICEID>&x;</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>")
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
          + b"".join(b'<!ENTITY b%d "%s">' % (i, (b"&b%d;" % (i - 1) if i else b"&a;") * 10) for i in range(9))
          + b"]><REQUEST><DEVICEID>&b8;</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>")
BOMB = zlib.compress(b"<REQUEST>" + b" " * (300 * 1024 * 1024), 9)

HOSTILE = {
    "compression bomb": (BOMB, 413, "exceeds"),
    "xxe": (zlib.compress(XXE), 400, "DTD"),
    "billion laughs": (zlib.compress(LAUGHS), 400, "DTD"),
    "junk": (b"\x13\x37 this is junk", 400, "cannot decompress zlib body"),
    "broken zlib": (b"\x78\x9c\x01\x02\x03\x04", 400, "truncated zlib body"),
    "oversized deviceid": (prolog("d" * 256), 400, "longer than 255"),
    "unknown query": (zlib.compress(message_xml("pc-2024-01-01-00-00-00", "DOWNLOAD", "")), 400, "unknown QUERY"),
    "empty body": (b"", 400, "empty body"),
}


def error_text(response) -> str:
    body = response.data
    if body[:2] == b"\x78\x9c":
        body = zlib.decompress(body)
    return body.decode()


def agent_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.agents)).scalar()


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_request_is_refused_with_a_reason(name, client, engine, caplog):
    body, status, reason = HOSTILE[name]
    started = time.monotonic()
    response = client.post("/plugins/fusioninventory/", data=body, headers=ZLIB_HEADERS)
    assert time.monotonic() - started < 2.0
    assert response.status_code == status
    text = error_text(response)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n   <ERROR>') and reason in text
    assert any(reason in record.getMessage() for record in caplog.records), "the refusal is logged"
    assert agent_count(engine) == 0
    assert client.post("/plugins/fusioninventory/", data=prolog("ok-2024-01-01-00-00-00"),
                       headers=ZLIB_HEADERS).status_code == 200


def test_error_reply_is_compressed_like_the_request(client):
    response = client.post("/plugins/fusioninventory/", data=zlib.compress(b"<REQUEST/>"), headers=ZLIB_HEADERS)
    assert response.status_code == 400 and response.data[:2] == b"\x78\x9c"
    assert response.content_type == "application/x-compress-zlib"
    response = client.post("/plugins/fusioninventory/", data=b"<REQUEST/>", headers={"Content-Type": "application/xml"})
    assert response.status_code == 400 and response.data.startswith(b"<?xml")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_wrong_method(client, method):
    response = client.open("/plugins/fusioninventory/", method=method, data=prolog_xml("x"))
    assert response.status_code == 405 and "not allowed" in error_text(response)


def test_get_without_action_or_with_unknown_action(client):
    assert client.get("/plugins/fusioninventory/").status_code == 400
    response = client.get("/plugins/fusioninventory/?action=getJobs&machineid=x")
    assert response.status_code == 400 and "unknown action" in response.get_json()["error"]
    assert client.get("/plugins/fusioninventory/?action=getConfig").status_code == 400


def test_body_over_the_size_limit(database_url, engine):
    client = create_app({"DATABASE_URL": database_url, "MAX_BODY_BYTES": 1024}).test_client()
    response = client.post("/plugins/fusioninventory/", data=zlib.compress(b"<REQUEST>" + os.urandom(5000).hex().encode()),
                           headers=ZLIB_HEADERS)
    assert response.status_code == 413 and response.data[:2] == b"\x78\x9c"
    assert "larger than 1024" in error_text(response)
    assert agent_count(engine) == 0
