"""Devices reported by network tasks decode to typed values, read as the inventory's readers
(``protocol.readers``) read them: first usable text, stripped, junk skipped, never an error."""

import json
import zlib
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import protocol
from protocol import (DeviceInfo, DevicePort, DiscoveredDevice, InventoriedDevice, decode_request,
                      read_discovered_device, read_inventoried_device)
from protocol.readers import ip_texts, node, nodes, text

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "cases"


def recorded(case: str, step: str) -> protocol.Message:
    [folder] = (CASES / case).glob(f"{step}*")
    meta = json.loads((folder / "request.json").read_text())
    return decode_request((folder / "request.body").read_bytes(), meta["content_type"]).message


def request(query: str, content: str) -> bytes:
    return zlib.compress((f"<REQUEST><CONTENT>{content}<PROCESSNUMBER>5</PROCESSNUMBER></CONTENT>"
                          f"<DEVICEID>a</DEVICEID><QUERY>{query}</QUERY></REQUEST>").encode())


def test_the_real_agents_discovered_device():
    [device] = recorded("netdiscovery", "04").devices
    assert device == DiscoveredDevice(
        ip="127.0.0.1", ips=("127.0.0.1",), mac=None, dns_hostname="127.0.0.1", snmp_hostname="fixture-snmpd",
        type="COMPUTER", description="Linux fixture-snmpd 6.1.0-fixture #1 SMP x86_64", authsnmp="2",
        uptime="1.46 seconds", entity="0")


def test_the_real_agents_inventoried_device():
    message = recorded("snmpquery", "03")
    assert message.item_id == "1"
    assert message.device.info == DeviceInfo(
        id="1", type="NETWORKING", name="fixture-snmpd", comments="Linux fixture-snmpd 6.1.0-fixture #1 SMP x86_64",
        ram="24105", memory="23", uptime="1.46 seconds", ips=("127.0.0.1",))
    assert message.device.ports == (DevicePort(
        ifnumber="1", ifname="lo", ifdescr="lo", ifmtu="65536", ifspeed="10000000", ifinternalstatus="1",
        ifstatus="1", iflastchange="0.00 seconds", ifinoctets="168", ifoutoctets="168", ifinerrors="0",
        ifouterrors="0", ips=("127.0.0.1",)),)


def test_junk_is_skipped_the_first_usable_text_wins():
    message = decode_request(request("NETDISCOVERY", """
        <DEVICE><IP><X>1</X></IP><IP> 10.0.0.2 </IP><IP>10.0.0.3</IP><IPS><IP>10.0.0.3</IP><IP>10.0.0.4</IP></IPS>
                <IPS>junk</IPS><MAC></MAC><MAC>00:11:22:33:44:55</MAC><TYPE a="1">PRINTER</TYPE>
                <ENTITY>3</ENTITY></DEVICE>
        <DEVICE/>""")).message
    first, empty = message.devices
    # An empty MAC reads as no MAC: only the first MAC that is text counts, as the readers do.
    assert first == DiscoveredDevice(ip="10.0.0.2", ips=("10.0.0.2", "10.0.0.3", "10.0.0.4"), entity="3")
    assert empty == DiscoveredDevice()


def test_snmp_ports_come_from_the_first_ports_element():
    result = decode_request(request("SNMPQUERY", """
        <DEVICE><INFO>text</INFO><INFO><NAME>sw</NAME><ID>9</ID></INFO>
                <PORTS>text</PORTS>
                <PORTS><PORT><IFNUMBER>1</IFNUMBER><AGGREGATE><PORT>2</PORT></AGGREGATE></PORT><PORT>x</PORT>
                       <PORT><IFNUMBER>2</IFNUMBER><AGGREGATE/></PORT></PORTS>
                <PORTS><PORT><IFNUMBER>3</IFNUMBER></PORT></PORTS></DEVICE>""")).message
    assert result.item_id == "9" and result.device.info == DeviceInfo(id="9", name="sw")
    # An empty AGGREGATE is text, not an element: the port aggregates nothing.
    assert result.device.ports == (DevicePort(ifnumber="1", aggregate=True), DevicePort(ifnumber="2"))


def test_an_id_that_is_not_text_is_skipped():
    # It used to reach int() as a dict and fail the request with a 500.
    result = decode_request(request("SNMPQUERY", "<DEVICE><INFO><ID><X>1</X></ID><ID>7</ID><TYPE><X/></TYPE>"
                                                 "</INFO></DEVICE>")).message
    assert result.item_id == "7" and result.device.info.type is None


def test_an_snmp_result_without_device_is_an_empty_device():
    result = decode_request(request("SNMPQUERY", "")).message
    assert isinstance(result, protocol.SnmpQueryResult)
    assert result.device == InventoriedDevice() and result.item_id is None


def test_device_values_are_immutable():
    with pytest.raises(FrozenInstanceError):
        DiscoveredDevice().ip = "10.0.0.1"
    with pytest.raises(FrozenInstanceError):
        InventoriedDevice().info.name = "x"


# --- any plain data -------------------------------------------------------------------------

TAGS = ["IP", "IPS", "MAC", "TYPE", "INFO", "PORTS", "PORT", "NAME", "ID", "IFNUMBER", "AGGREGATE", "ENTITY", "X"]
plain_data = st.recursive(
    st.text(max_size=8),
    lambda children: st.dictionaries(st.sampled_from(TAGS), st.lists(children, max_size=3), max_size=5),
    max_leaves=25,
)

DISCOVERED_KEYS = {"ip": "IP", "mac": "MAC", "dns_hostname": "DNSHOSTNAME", "snmp_hostname": "SNMPHOSTNAME",
                   "netbios_name": "NETBIOSNAME", "type": "TYPE", "serial": "SERIAL", "description": "DESCRIPTION",
                   "authsnmp": "AUTHSNMP", "uptime": "UPTIME", "user_session": "USERSESSION", "entity": "ENTITY"}


@settings(max_examples=2 * settings.default.max_examples, deadline=None)  # CI: 400
@given(plain_data)
def test_any_data_reads_as_the_readers_read_it(data):
    discovered = read_discovered_device(data)
    assert {name: getattr(discovered, name) for name in DISCOVERED_KEYS} == \
        {name: text(data, key) for name, key in DISCOVERED_KEYS.items()}
    assert discovered.ips == tuple(ip_texts(data))

    inventoried = read_inventoried_device(data)
    info = node(data, "INFO")
    assert (inventoried.info.id, inventoried.info.name, inventoried.info.ips) == \
        (text(info, "ID"), text(info, "NAME"), tuple(ip_texts(info)))
    entries = nodes(node(data, "PORTS"), "PORT")
    assert [(p.ifnumber, p.aggregate, p.ips) for p in inventoried.ports] == \
        [(text(e, "IFNUMBER"), bool(nodes(e, "AGGREGATE")), tuple(ip_texts(e))) for e in entries]
    for value in (discovered, inventoried.info, *inventoried.ports):
        for field in fields(value):
            found = getattr(value, field.name)
            if isinstance(found, str):
                assert found and found == found.strip()
