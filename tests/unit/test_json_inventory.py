"""GLPI Agent's JSON inventory as the codec reads it, and GLPI's JSON answer as the relay judges it
(docs/glpi10-protocol.md §4.6)."""

from __future__ import annotations

import json
import zlib

import pytest

import protocol
from fusion_bridge.domain.relay_policy import DELIVERED, REJECTED, UNAVAILABLE, Answer, classify
from fusion_bridge.services.relay.intake import host_subject


def read(document) -> protocol.JsonInventory:
    decoded = protocol.decode_agent_request(zlib.compress(json.dumps(document).encode()),
                                            "application/x-compress-zlib")
    return protocol.read_json_inventory(decoded)


def test_the_device_the_version_and_the_machines_identity_are_read():
    inventory = read({"action": "inventory", "deviceid": "vm-2026-12-04-19-51-29", "itemtype": "Computer",
                      "content": {"versionclient": "GLPI-Agent_v1.11",
                                  "hardware": {"name": "vm", "uuid": "4C4C4544-0031", "memory": 2048},
                                  "bios": {"ssn": "SN-1", "bdate": "2020-01-01"}}})
    assert inventory.device_id == "vm-2026-12-04-19-51-29" and inventory.version_client == "GLPI-Agent_v1.11"
    assert inventory.content == {"HARDWARE": [{"UUID": ["4C4C4544-0031"], "NAME": ["vm"]}],
                                 "BIOS": [{"SSN": ["SN-1"]}]}
    # An ESX host's inventory is named as an XML one would be.
    assert host_subject(inventory.content) == "uuid:4c4c4544-0031"


def test_sections_of_another_shape_are_not_an_identity():
    inventory = read({"action": "inventory", "deviceid": "pc", "content": {"hardware": ["x"], "bios": "none",
                                                                            "versionclient": 11}})
    assert inventory.content == {"HARDWARE": [{}], "BIOS": [{}]} and inventory.version_client is None
    assert host_subject(inventory.content) == "unknown"


@pytest.mark.parametrize("document, reason", [
    ({"action": "inventory", "content": {"a": 1}}, "no deviceid"),
    ({"action": "inventory", "deviceid": "", "content": {"a": 1}}, "no deviceid"),
    ({"action": "inventory", "deviceid": ["pc"], "content": {"a": 1}}, "deviceid is not a string"),
    ({"action": "inventory", "deviceid": "p\u0000c", "content": {"a": 1}}, "control characters"),
    ({"action": "inventory", "deviceid": "pc", "content": []}, "no content object"),
    ({"action": "inventory", "deviceid": "pc"}, "no content object"),
    ({"action": "contact", "deviceid": "pc"}, "not an inventory"),
])
def test_what_is_not_an_inventory_is_refused_with_the_reason(document, reason):
    with pytest.raises(protocol.JsonProtocolError, match=reason) as refused:
        read(document)
    assert refused.value.encoding == protocol.ZLIB


def test_a_deeply_nested_document_is_refused_not_a_crash():
    text = b'{"action":"inventory","deviceid":"pc","content":' + b'[' * 100_000 + b']' * 100_000 + b'}'
    with pytest.raises(protocol.JsonProtocolError, match="malformed JSON"):
        protocol.decode_agent_request(zlib.compress(text), "application/x-compress-zlib")


@pytest.mark.parametrize("status, body, kind, reason", [
    (200, zlib.compress(b'{"expiration":"24","status":"ok"}'), DELIVERED, ""),
    (200, b'{"expiration":24,"status":"ok"}', DELIVERED, ""),
    (400, zlib.compress(b'{"status":"error","message":"Inventory is not valid","expiration":24}'), REJECTED,
     "400 Bad Request: Inventory is not valid"),
    (200, b'{"status":"error","message":"  JSON does not validate\\n against the schema"}', REJECTED,
     "200 OK: JSON does not validate against the schema"),
    (200, b'{"result":"something else"}', UNAVAILABLE, "200 OK without a REPLY"),
    (200, b'{"status":', UNAVAILABLE, "200 OK without a REPLY"),
])
def test_glpis_json_answers(status, body, kind, reason):
    content_type = "application/x-compress-zlib" if body[:1] == b"\x78" else "application/json"
    verdict = classify(Answer(status, body, {"content-type": content_type}))
    assert verdict.kind == kind and verdict.reason.startswith(reason)
