"""Inventory import helpers: the plugin's links, type names and log comments, and the values
read from the agents' messages (MAC, numbers, IP addresses, serials)."""

from __future__ import annotations

import protocol
from fusion_bridge.services.inventory import (
    ImportResult,
    discovered_name,
    item_link,
    itemtype_for_discovery_type,
    snmp_device_has_information,
    snmp_error_comment,
    snmp_no_information_comment,
    snmp_update_comment,
    type_name,
)
from fusion_bridge.services.inventory.values import meaningful_serial, normalize_mac, number, parse_ip

UNMANAGED = "PluginFusioninventoryUnmanaged"


def test_links_type_names_and_log_comments():
    assert item_link("NetworkEquipment", 12) == "[[NetworkEquipment::12]]"
    assert [type_name(t) for t in ("Computer", "NetworkEquipment", "Printer", UNMANAGED)] == \
        ["Computers", "Network devices", "Printers", "Unmanaged device"]
    assert ImportResult("Printer", 3, False).log_comment == \
        "[==detail==] ==updatetheitem== Printers [[Printer::3]]"
    assert ImportResult("Printer", 3, False).link == "[[Printer::3]]"
    assert snmp_update_comment("NetworkEquipment", 1) == \
        "[==detail==] Update Network devices [[NetworkEquipment::1]]"
    assert snmp_no_information_comment("Printer", 2) == "[==detail==] No informations [[Printer::2]]"
    assert snmp_error_comment("SNMP communication error: no response", "Printer", 2) == \
        "[==detail==] SNMP communication error: no response [[Printer::2]]"
    assert [itemtype_for_discovery_type(t) for t in ("NETWORKING", "printer", "1", "STORAGE", None)] == \
        ["NetworkEquipment", "Printer", "Computer", None, None]
    read = protocol.read_discovered_device
    assert discovered_name(read({"DNSHOSTNAME": ["h.example"], "NETBIOSNAME": ["NB"], "IP": ["1.2.3.4"]})) == "NB"
    assert discovered_name(read({"IP": ["1.2.3.4"]})) == "1.2.3.4"
    assert not snmp_device_has_information(protocol.read_inventoried_device({"INFO": [{"ID": ["1"]}]}))


def test_value_parsing():
    assert normalize_mac("00-1A-2B-3C-4D-5E") == normalize_mac("001a.2b3c.4d5e") == "00:1a:2b:3c:4d:5e"
    assert normalize_mac("0:1a:2B:3:4d:5") == "00:1a:2b:03:4d:05"
    assert normalize_mac("  ") is None and normalize_mac("Weird") is None and normalize_mac("1:2:3") is None
    assert [number(v) for v in ("12", "12 %", "-3", "1.9", "x", None, "99999999999")] == \
        [12, 12, 0, 1, None, None, 2**31 - 1]
    assert parse_ip("192.0.2.1").binary == (0, 0, 0xFFFF, 0xC0000201)
    assert parse_ip("2001:DB8::1").textual == "2001:db8::1"
    assert parse_ip("0.0.0.0") is None and parse_ip("1.2.3") is None and parse_ip("") is None
    assert [meaningful_serial(s) for s in ("", "0", "00000000", "Default string", "System Serial Number",
                                           "ABC123", "VMware-56 4d")] == [False] * 5 + [True, True]
