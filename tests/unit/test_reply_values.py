"""Reply values and their writer: the plugin's bytes (docs/plugin-semantics.md §3, §7), and any reply
value is written the same way every time and reads back as itself."""

from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings, strategies as st
from lxml import etree

import protocol
from protocol import (EmptyReply, IpRange, NetDiscoveryOption, PrologReply, SnmpAuthentication, SnmpQueryOption,
                      SnmpTarget, WakeOnLanOption, write_reply)
from tests.helpers.plugin_replies import PLUGIN_PROLOG_SEND, PLUGIN_PROLOG_WITH_JOBS

PLUGIN_EXAMPLE = PrologReply(
    options=(
        NetDiscoveryOption(pid=42, threads="20", timeout="1",
                           ranges=(IpRange(id=1, start="192.168.0.1", end="192.168.0.254", entity=0),),
                           authentications=(SnmpAuthentication(id=1, version="1", community="public"),)),
        SnmpQueryOption(pid=43, threads="10", timeout="15",
                        devices=(SnmpTarget(type="NETWORKING", id=7, ip="10.0.0.2", authsnmp_id=2),),
                        authentications=(SnmpAuthentication(id=2, version="2c", community="public"),)),
        WakeOnLanOption(macs=("00:11:22:33:44:55",)),
    ),
    send_inventory=True,
    prolog_freq="24",
)


def test_the_plugins_example_as_values_is_the_plugins_bytes():
    assert write_reply(PLUGIN_EXAMPLE) == PLUGIN_PROLOG_WITH_JOBS


def test_a_prolog_without_runs():
    assert write_reply(PrologReply()) == PLUGIN_PROLOG_SEND
    assert write_reply(PrologReply(send_inventory=True, prolog_freq="24")) == PLUGIN_PROLOG_SEND
    assert write_reply(PrologReply(send_inventory=False, prolog_freq=12)) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n   <PROLOG_FREQ>12</PROLOG_FREQ>\n</REPLY>\n')


def test_options_without_inventory_keep_their_order():
    reply = PrologReply(options=PLUGIN_EXAMPLE.options[::-1], send_inventory=False, prolog_freq="6")
    tags = [child.tag for child in etree.fromstring(write_reply(reply))]
    names = [option.findtext("NAME") for option in etree.fromstring(write_reply(reply)).iterfind("OPTION")]
    assert tags == ["OPTION", "OPTION", "OPTION", "PROLOG_FREQ"]
    assert names == ["WAKEONLAN", "SNMPQUERY", "NETDISCOVERY"]


def test_snmp_v3_authentication_attributes_in_the_plugins_order():
    full = SnmpAuthentication(id=3, version="3", username="u", auth_protocol="SHA", auth_passphrase="a&b",
                              priv_protocol="AES", priv_passphrase='p"q')
    bare = SnmpAuthentication(id=4, version="3", username="v", community="ignored")
    # The plugin writes PRIVPROTOCOL="" for the UI's Triple-DES value: an empty protocol is kept.
    empty = SnmpAuthentication(id=5, version="3", priv_protocol="")
    reply = PrologReply((WakeOnLanOption(()), NetDiscoveryOption(
        pid=1, threads="1", timeout="1", ranges=(), authentications=(full, bare, empty))), False, "24")
    assert write_reply(reply) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n'
        b"   <OPTION>\n      <NAME>WAKEONLAN</NAME>\n   </OPTION>\n"
        b"   <OPTION>\n      <NAME>NETDISCOVERY</NAME>\n"
        b'      <PARAM THREADS_DISCOVERY="1" TIMEOUT="1" PID="1"/>\n'
        b'      <AUTHENTICATION ID="3" VERSION="3" USERNAME="u" AUTHPROTOCOL="SHA" AUTHPASSPHRASE="a&amp;b"'
        b' PRIVPROTOCOL="AES" PRIVPASSPHRASE="p&quot;q"/>\n'
        b'      <AUTHENTICATION ID="4" VERSION="3" USERNAME="v" AUTHPASSPHRASE="" PRIVPASSPHRASE=""/>\n'
        b'      <AUTHENTICATION ID="5" VERSION="3" USERNAME="" AUTHPASSPHRASE="" PRIVPROTOCOL=""'
        b' PRIVPASSPHRASE=""/>\n'
        b"   </OPTION>\n"
        b"   <PROLOG_FREQ>24</PROLOG_FREQ>\n</REPLY>\n")


def test_other_messages_get_the_empty_reply():
    assert write_reply(EmptyReply()) == protocol.empty_reply()
    with pytest.raises(TypeError):
        write_reply(b"<REPLY/>")


def test_reply_values_are_immutable_and_hashable():
    with pytest.raises(FrozenInstanceError):
        PLUGIN_EXAMPLE.prolog_freq = "1"
    with pytest.raises(FrozenInstanceError):
        PLUGIN_EXAMPLE.options[0].pid = 1
    assert hash(PLUGIN_EXAMPLE) == hash(PrologReply(PLUGIN_EXAMPLE.options, True, "24"))


# --- any reply value ------------------------------------------------------------------------

# Text that XML can carry as it is (control characters are not XML; the plugin does not escape them).
xml_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), max_size=20)
ids = st.integers(min_value=0, max_value=2**31 - 1)


@st.composite
def authentications(draw):
    if draw(st.booleans()):
        return SnmpAuthentication(id=draw(ids), version=draw(st.sampled_from(["1", "2c"])), community=draw(xml_text))
    return SnmpAuthentication(
        id=draw(ids), version="3", username=draw(xml_text), auth_protocol=draw(st.none() | xml_text),
        auth_passphrase=draw(xml_text), priv_protocol=draw(st.none() | xml_text), priv_passphrase=draw(xml_text))


small = dict(max_size=3)
netdiscovery = st.builds(
    NetDiscoveryOption, pid=ids, threads=xml_text, timeout=xml_text,
    ranges=st.lists(st.builds(IpRange, id=ids, start=xml_text, end=xml_text, entity=ids), **small).map(tuple),
    authentications=st.lists(authentications(), **small).map(tuple))
snmpquery = st.builds(
    SnmpQueryOption, pid=ids, threads=xml_text, timeout=xml_text,
    devices=st.lists(st.builds(SnmpTarget, type=xml_text, id=ids, ip=xml_text, authsnmp_id=ids), **small).map(tuple),
    authentications=st.lists(authentications(), **small).map(tuple))
wakeonlan = st.builds(WakeOnLanOption, macs=st.lists(xml_text, **small).map(tuple))
prolog_replies = st.builds(
    PrologReply, options=st.lists(netdiscovery | snmpquery | wakeonlan, max_size=4).map(tuple),
    send_inventory=st.booleans(), prolog_freq=xml_text)


def read_back(xml: bytes) -> PrologReply:
    """The reply the agent reads (XML::TreePP reads attributes and texts as they are)."""
    root = etree.fromstring(xml)
    assert root.tag == "REPLY"
    options = []
    for element in root.iterfind("OPTION"):
        name = element.findtext("NAME")
        param = element.find("PARAM")
        auths = tuple(_authentication(each.attrib) for each in element.iterfind("AUTHENTICATION"))
        if name == "NETDISCOVERY":
            ranges = tuple(IpRange(int(r.get("ID")), r.get("IPSTART"), r.get("IPEND"), int(r.get("ENTITY")))
                           for r in element.iterfind("RANGEIP"))
            options.append(NetDiscoveryOption(int(param.get("PID")), param.get("THREADS_DISCOVERY"),
                                              param.get("TIMEOUT"), ranges, auths))
        elif name == "SNMPQUERY":
            devices = tuple(SnmpTarget(d.get("TYPE"), int(d.get("ID")), d.get("IP"), int(d.get("AUTHSNMP_ID")))
                            for d in element.iterfind("DEVICE"))
            options.append(SnmpQueryOption(int(param.get("PID")), param.get("THREADS_QUERY"), param.get("TIMEOUT"),
                                           devices, auths))
        else:
            assert name == "WAKEONLAN"
            options.append(WakeOnLanOption(tuple(p.get("MAC") for p in element.iterfind("PARAM"))))
    response = root.find("RESPONSE")
    assert response is None or response.text == "SEND"
    return PrologReply(tuple(options), response is not None, root.findtext("PROLOG_FREQ"))


def _authentication(attributes) -> SnmpAuthentication:
    if attributes["VERSION"] != "3":
        return SnmpAuthentication(int(attributes["ID"]), attributes["VERSION"], community=attributes["COMMUNITY"])
    return SnmpAuthentication(
        int(attributes["ID"]), "3", username=attributes["USERNAME"], auth_protocol=attributes.get("AUTHPROTOCOL"),
        auth_passphrase=attributes["AUTHPASSPHRASE"], priv_protocol=attributes.get("PRIVPROTOCOL"),
        priv_passphrase=attributes["PRIVPASSPHRASE"])


@settings(max_examples=2 * settings.default.max_examples, deadline=None)  # CI: 400
@given(prolog_replies)
def test_any_prolog_reply_is_written_stably_and_reads_back_as_itself(reply):
    written = write_reply(reply)
    assert written == write_reply(PrologReply(reply.options, reply.send_inventory, reply.prolog_freq))
    assert written.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n')
    tags = [child.tag for child in etree.fromstring(written)]
    assert tags == ["OPTION"] * len(reply.options) + ["RESPONSE"] * reply.send_inventory + ["PROLOG_FREQ"]
    assert read_back(written) == reply
