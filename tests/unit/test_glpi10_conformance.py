"""The codec against the GLPI 10 recordings (fixtures/recorded-glpi10): requests decode, and our
writers reproduce GLPI 10's replies byte for byte where the content is the same
(docs/glpi10-protocol.md §3, §4), or differ where documented (docs/glpi10-protocol.md §7)."""

import zlib

import pytest

import protocol
from fusion_bridge.services.agent.contact import ContactPolicy, decide
from tests.helpers.recorded_glpi10 import (AGENT_ID, DEVICE, GLPI_VERSION, PLUGIN_VERSION, exchange, exchanges,
                                           is_xml_reply, prolog_reply_of)

GLPI_POLICY = ContactPolicy(plugin_version=PLUGIN_VERSION, inventory_version=GLPI_VERSION, wakeonlan=False)
CONTACTS = [each for each in exchanges("CONTACT") if each.status == 200]
XML_PROLOGS = [each for each in exchanges("PROLOG") if each.status == 200 and is_xml_reply(each)]
RESULT_POSTS = [each for each in exchanges() if each.kind.startswith(("NETDISCOVERY", "SNMPQUERY"))]


def test_the_recordings_hold_what_these_tests_read():
    assert len(CONTACTS) == 15 and len(XML_PROLOGS) == 20 and len(RESULT_POSTS) == 65


@pytest.mark.parametrize("recorded", CONTACTS, ids=str)
def test_contact_requests_decode(recorded):
    assert recorded.request_header("Content-Type") == "application/x-compress-zlib"  # JSON, XML's header
    decoded = protocol.decode_agent_request(recorded.request_raw, recorded.request_header("Content-Type"))
    assert isinstance(decoded, protocol.JsonRequest) and decoded.encoding == protocol.ZLIB
    contact = protocol.read_contact(decoded)
    assert contact.device_id == DEVICE
    assert (contact.name, contact.version) == ("GLPI-Agent", "1.11")
    assert contact.enabled_tasks and set(contact.enabled_tasks) <= set(contact.installed_tasks)


@pytest.mark.parametrize("recorded", CONTACTS, ids=str)
def test_contact_replies_are_glpi_10s_bytes(recorded):
    contact = protocol.read_contact(protocol.decode_agent_request(recorded.request_raw, "application/x-compress-zlib"))
    written = protocol.write_json_reply(decide(contact, GLPI_POLICY).reply)
    assert written == recorded.reply_decoded
    assert protocol.encode_reply(written, protocol.ZLIB)[0] == recorded.reply_raw


@pytest.mark.parametrize("recorded", XML_PROLOGS, ids=str)
def test_prolog_requests_decode_and_replies_are_glpi_10s_bytes(recorded):
    decoded = protocol.decode_agent_request(recorded.request_raw, recorded.request_header("Content-Type"))
    assert isinstance(decoded.message, protocol.Prolog) and decoded.encoding == protocol.ZLIB
    value = prolog_reply_of(recorded.reply_decoded)
    written = protocol.write_reply(value, protocol.ReplyStyle.GLPI10)
    assert written == recorded.reply_decoded
    assert protocol.encode_reply(written, protocol.ZLIB)[0] == recorded.reply_raw


def test_the_replies_read_back_carry_real_options():
    options = [option for each in XML_PROLOGS for option in prolog_reply_of(each.reply_decoded).options]
    assert {type(option) for option in options} == {protocol.NetDiscoveryOption, protocol.SnmpQueryOption}
    [both] = [each for each in XML_PROLOGS if str(each).startswith("07-")]
    assert [type(option) for option in prolog_reply_of(both.reply_decoded).options] == [
        protocol.NetDiscoveryOption, protocol.SnmpQueryOption]


def test_glpi10_style_v3_authentication_fields_are_children_in_order():
    credential = protocol.SnmpAuthentication(3, "3", username="u", auth_protocol="SHA", auth_passphrase="a&b",
                                             priv_protocol=None, priv_passphrase="")
    reply = protocol.PrologReply(options=(protocol.SnmpQueryOption(
        pid=5, threads="10", timeout="15", devices=(protocol.SnmpTarget("PRINTER", 4, "192.0.2.9", 3),),
        authentications=(credential,)),), send_inventory=False, prolog_freq=12)
    assert protocol.write_reply(reply, protocol.ReplyStyle.GLPI10) == (
        b'<?xml version="1.0"?>\n<REPLY><PROLOG_FREQ>12</PROLOG_FREQ><OPTION><NAME>SNMPQUERY</NAME>'
        b'<PARAM THREADS_QUERY="10" TIMEOUT="15" PID="5"/><DEVICE TYPE="PRINTER" ID="4" IP="192.0.2.9" AUTHSNMP_ID="3"/>'
        b"<AUTHENTICATION><ID>3</ID><VERSION>3</VERSION><USERNAME>u</USERNAME><AUTHPROTOCOL>SHA</AUTHPROTOCOL>"
        b"<AUTHPASSPHRASE>a&amp;b</AUTHPASSPHRASE><PRIVPASSPHRASE/></AUTHENTICATION></OPTION></REPLY>")


def test_glpi10_style_wakeonlan_option_keeps_its_params():
    reply = protocol.PrologReply(options=(protocol.WakeOnLanOption(("00:11:22:33:44:55",)),))
    assert protocol.write_reply(reply, protocol.ReplyStyle.GLPI10).endswith(
        b"<OPTION><NAME>WAKEONLAN</NAME><PARAM MAC=\"00:11:22:33:44:55\"/></OPTION></REPLY>")


@pytest.mark.parametrize("recorded", RESULT_POSTS, ids=str)
def test_result_posts_decode_and_get_a_reply_agent_2x_accepts(recorded):
    decoded = protocol.decode_agent_request(recorded.request_raw, recorded.request_header("Content-Type"))
    assert isinstance(decoded.message, protocol.TaskMessage)
    # GLPI 10's <REPLY/> is refused by agent 2.x: a deliberate difference (docs/glpi10-protocol.md §7).
    assert recorded.reply_decoded == b'<?xml version="1.0"?>\n<REPLY/>'
    assert protocol.write_reply(protocol.EmptyReply(), protocol.ReplyStyle.GLPI10) == (
        b'<?xml version="1.0"?>\n<REPLY></REPLY>')


def test_json_prolog_reply_is_glpi_10s_bytes():
    for folder in ("01-glpi-agent-inventory/run1/001-POST-PROLOG", "08-glpi-agent-core-url/run1-inventory/001-POST-PROLOG"):
        recorded = exchange(folder)
        assert recorded.request_header(protocol.AGENT_ID_HEADER) == AGENT_ID
        assert isinstance(protocol.decode_agent_request(recorded.request_raw).message, protocol.Prolog)
        assert protocol.write_json_reply(protocol.StatusReply()) == recorded.reply_decoded
        assert zlib.decompress(recorded.reply_raw) == recorded.reply_decoded


def test_json_error_is_glpi_10s_bytes():
    recorded = exchange("03-fusioninventory-agent-2.6/run3-all-tasks-core-endpoint/002-GET-getConfig")
    assert recorded.status == 400
    assert protocol.write_json_reply(protocol.JsonErrorReply("Protocol not supported")) == recorded.reply_decoded


@pytest.mark.parametrize("recorded", [each for each in exchanges() if each.request_header(protocol.AGENT_ID_HEADER)
                                      and each.status == 200], ids=str)
def test_glpi_headers_are_echoed_as_glpi_does(recorded):
    sent = {name: recorded.request_header(name) for name in protocol.ECHOED_HEADERS}
    assert protocol.echoed_headers(sent) == [
        (name, recorded.reply_header(name)) for name in protocol.ECHOED_HEADERS if recorded.reply_header(name)]


def test_fusioninventory_style_is_unchanged_by_default():
    reply = prolog_reply_of(XML_PROLOGS[0].reply_decoded)
    assert protocol.write_reply(reply) == protocol.write_reply(reply, protocol.ReplyStyle.FUSIONINVENTORY)
    assert protocol.write_reply(reply).startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n   <OPTION>')
