"""GLPI Agent's JSON protocol: bad input is a clear JsonProtocolError, the CONTACT decision is
pure (docs/glpi10-protocol.md §4, §5)."""

import json
import zlib

import pytest

import protocol
from fusion_bridge.services.agent.contact import MODULE_FLAGS, ContactPolicy, decide


def contact_body(**fields) -> bytes:
    return json.dumps({"action": "contact", "deviceid": "pc-2026-01-01-00-00-00", **fields}).encode()


def read(body: bytes, content_type: str = "application/json") -> protocol.ContactRequest:
    return protocol.read_contact(protocol.decode_agent_request(body, content_type))


def test_plain_json_contact_with_every_field():
    contact = read(contact_body(**{"enabled-tasks": ["Deploy", "inventory", "deploy"], "installed-tasks": ["deploy"],
                                   "httpd-port": "62354", "httpd-plugins": {"ssl": {}, "proxy": {}}, "tag": 12,
                                   "name": "GLPI-Agent", "version": "1.11"}))
    assert contact == protocol.ContactRequest(
        device_id="pc-2026-01-01-00-00-00", enabled_tasks=("deploy", "inventory"), installed_tasks=("deploy",),
        name="GLPI-Agent", version="1.11", tag="12", httpd_port=62354, httpd_plugins=("ssl", "proxy"))


def test_xml_with_the_json_content_type_is_still_xml():
    body = b'<?xml version="1.0"?><REQUEST><DEVICEID>pc</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>'
    assert isinstance(protocol.decode_agent_request(body, "application/json").message, protocol.Prolog)


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "malformed JSON"),
    (b"{\"action\": \"contact\", \"deviceid\": \"\xff\"}", "malformed JSON"),
    (b"{\"a\":" + b"[" * 100000 + b"]" * 100000 + b"}", "malformed JSON"),
    (b"{}", "no \"action\""),
    (b"{\"action\": 3}", "no \"action\""),
    (b"{\"action\": \"x\\ny\"}", "invalid \"action\""),
    (b"{\"action\": \"contact\"}", "no deviceid"),
    (contact_body(deviceid="x" * 256), "deviceid longer than 255"),
    (contact_body(deviceid="a\tb"), "deviceid contains control characters"),
    (contact_body(**{"enabled-tasks": "deploy"}), "enabled-tasks is not a list"),
    (contact_body(**{"enabled-tasks": ["t"] * 65}), "more than 64 tasks"),
    (contact_body(**{"installed-tasks": ["de ploy"]}), "invalid task name"),
    (contact_body(**{"enabled-tasks": [["deploy"]]}), "invalid task name"),
    (contact_body(**{"httpd-port": 70000}), "httpd-port"),
    (contact_body(**{"httpd-port": True}), "httpd-port"),
    (contact_body(**{"httpd-plugins": "ssl"}), "httpd-plugins"),
    (contact_body(tag={"a": 1}), "tag is not a string"),
    (contact_body(version="1" * 300), "version longer than 255"),
])
def test_bad_json_is_a_clear_protocol_error(body, reason):
    with pytest.raises(protocol.JsonProtocolError) as raised:
        read(body)
    assert reason in raised.value.reason and raised.value.encoding == protocol.PLAIN


def test_errors_know_the_request_was_compressed():
    with pytest.raises(protocol.JsonProtocolError) as raised:
        protocol.decode_agent_request(zlib.compress(b"[1, 2]"), "application/x-compress-zlib")
    assert raised.value.encoding == protocol.ZLIB and "not an object" in raised.value.reason


def test_json_array_or_non_contact_action_is_not_a_contact():
    with pytest.raises(protocol.JsonProtocolError, match="not an object"):
        read(b"[]")
    with pytest.raises(protocol.JsonProtocolError, match="not a CONTACT"):
        read(b'{"action": "inventory"}')


def test_only_token_headers_are_echoed():
    assert protocol.echoed_headers({"GLPI-Agent-ID": "1903c578-f01c", "GLPI-Request-ID": "x y"}) == [
        ("GLPI-Agent-ID", "1903c578-f01c")]
    assert protocol.echoed_headers({"GLPI-Agent-ID": "a" * 129}) == []
    assert protocol.echoed_headers({}) == []


def contact(*enabled: str) -> protocol.ContactRequest:
    return protocol.ContactRequest(device_id="pc", enabled_tasks=enabled)


def test_bridge_policy_announces_its_tasks_and_wakeonlan_but_not_inventory():
    decision = decide(contact("collect", "deploy", "esx", "inventory", "netdiscovery", "netinventory",
                              "remoteinventory", "wakeonlan"), ContactPolicy(plugin_version="9.9"))
    reply = decision.reply
    assert [(task.name, task.server, task.version) for task in reply.tasks] == [
        (name, "glpiinventory", "9.9") for name in ("collect", "deploy", "esx", "netdiscovery", "netinventory",
                                                     "wakeonlan")]
    assert reply.disabled == ("inventory", "remoteinventory")
    assert json.loads(protocol.write_json_reply(reply))["message"] == (
        "inventory task not supported;remoteinventory task not supported")
    # Every flag is set from enabled-tasks, served or not, as GLPI does.
    assert decision.module_flags == {column: 1 for column in MODULE_FLAGS.values()}


def test_inventory_comes_with_network_tasks_when_served():
    policy = ContactPolicy(plugin_version="1", inventory_version="10.0.19")
    assert [task.name for task in decide(contact("netinventory", "netdiscovery"), policy).reply.tasks] == [
        "netinventory", "inventory", "netdiscovery"]
    assert [task.name for task in decide(contact("deploy"), policy).reply.tasks] == ["deploy"]
    assert [task.name for task in decide(contact("netdiscovery"), ContactPolicy()).reply.tasks] == ["netdiscovery"]


def test_flags_of_tasks_not_enabled_are_cleared():
    flags = decide(contact("deploy", "toolbox"), ContactPolicy()).module_flags
    assert flags["use_module_package_deployment"] == 1
    assert sum(flags.values()) == 1


def test_no_task_enabled_is_a_bare_ok():
    reply = decide(contact(), ContactPolicy(expiration="12")).reply
    assert protocol.write_json_reply(reply) == b'{"expiration":"12","status":"ok"}'


def test_json_prolog_only_when_json_inventories_are_taken():
    assert not ContactPolicy().answers_json_prolog
    assert ContactPolicy(inventory_version="10.0.19").answers_json_prolog
