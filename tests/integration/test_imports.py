"""Minimal imports (computer inventory, discovered devices, SNMP results) on SQLite and MariaDB,
from the real agent messages recorded in fixtures/cases and small hand-written ones."""

from __future__ import annotations

import dataclasses

import json
from dataclasses import replace

from sqlalchemy import insert, select, update

import protocol
import schema
from fusion_bridge.services.inventory import (
    ImportResult,
    import_computer_inventory,
    import_discovered_device,
    snmp_device_has_information,
    update_inventoried_device,
)
from schema.plugin_agents import inventorycomputercomputers
from schema.plugin_network import networkequipments as pf_networkequipments
from schema.plugin_network import networkports as pf_networkports
from schema.plugin_network import printers as pf_printers
from schema.plugin_network import unmanageds
from tests.helpers.agent_messages import CASES, REAL_INVENTORY, device, inventory, message, recorded
from tests.helpers.db import count, insert_row, row, rows
from tests.helpers.inventory_rows import LATER, NOW, add_agent, add_port, ports_of

UNMANAGED = "PluginFusioninventoryUnmanaged"

computers = schema.glpi_computers
ports = schema.glpi_networkports
networknames = schema.glpi_networknames
ipaddresses = schema.glpi_ipaddresses
agents = schema.agents


# --- helpers --------------------------------------------------------------------------------

def snmp_device(content: str) -> protocol.InventoriedDevice:
    msg = message(f"<REQUEST><CONTENT><DEVICE>{content}</DEVICE><PROCESSNUMBER>5</PROCESSNUMBER></CONTENT>"
                  "<DEVICEID>a</DEVICEID><QUERY>SNMPQUERY</QUERY></REQUEST>")
    return msg.device


def port_ips(conn, port_id) -> list[str]:
    return [r.name for r in conn.execute(
        select(ipaddresses.c.name).join(networknames, networknames.c.id == ipaddresses.c.items_id)
        .where(networknames.c.itemtype == "NetworkPort", networknames.c.items_id == port_id,
               ipaddresses.c.itemtype == "NetworkName")
        .order_by(ipaddresses.c.id))]


def asset_ips(conn, itemtype, items_id) -> list[str]:
    return [ip for port in ports_of(conn, itemtype, items_id) for ip in port_ips(conn, port["id"])]


def seed(conn, case: str) -> None:
    """The rows a recorded case ran against (install-time rows already there are kept)."""
    for entry in json.loads((CASES / case / "case.json").read_text())["db_seed"]:
        table = schema.TABLES_BY_NAME[entry["table"]]
        if not rows(conn, table, table.c.id == entry["row"]["id"]):
            conn.execute(insert(table).values(entry["row"]))


# --- computer inventory ---------------------------------------------------------------------


def test_real_inventory_creates_the_computer_ports_addresses_and_links_the_agent(engine):
    msg = recorded(*REAL_INVENTORY)
    with engine.begin() as conn:
        agent_id = add_agent(conn, device_id=msg.device_id)
        computers_id = import_computer_inventory(conn, agent_id, msg, NOW)

        computer = row(conn, computers, computers_id)
        # NULL where the agent sent nothing (an empty SSN, no UUID), as GLPI writes them.
        assert (computer["name"], computer["serial"], computer["uuid"]) == ("vm", None, None)
        assert (computer["entities_id"], computer["is_dynamic"], computer["is_deleted"]) == (0, 1, 0)
        assert computer["date_creation"] == NOW and computer["date_mod"] == NOW

        found = {(p["name"], p["mac"]): p for p in ports_of(conn, "Computer", computers_id)}
        assert set(found) == {("lo", "00:00:00:00:00:00"), ("ifb0", "e2:93:ea:6e:17:01"),
                              ("ifb1", "f2:3c:fe:2a:c6:23"), ("eth0", "02:fc:00:00:00:01")}
        lo, eth0 = found["lo", "00:00:00:00:00:00"], found["eth0", "02:fc:00:00:00:01"]
        # As the plugin: the loopback has a MAC (all zero), so it is Ethernet; virtual devices
        # are numbered 0, the others 1.
        assert (lo["instantiation_type"], lo["logical_number"]) == ("NetworkPortEthernet", 0)
        assert (eth0["instantiation_type"], eth0["logical_number"]) == ("NetworkPortEthernet", 1)
        assert all(p["is_dynamic"] == 1 and p["entities_id"] == 0 for p in found.values())
        # Several NETWORKS entries of one card are one port with all its addresses.
        assert port_ips(conn, lo["id"]) == ["127.0.0.1", "::1"]
        assert port_ips(conn, eth0["id"]) == ["192.0.2.2", "fd00::2", "fe80::fc:ff:fe00:1"]
        assert port_ips(conn, found["ifb0", "e2:93:ea:6e:17:01"]["id"]) == []

        [name] = rows(conn, networknames, networknames.c.items_id == eth0["id"])
        assert (name["itemtype"], name["entities_id"], name["is_dynamic"]) == ("NetworkPort", 0, 1)
        v4, v6, link_local = rows(conn, ipaddresses, ipaddresses.c.items_id == name["id"])
        # GLPI keeps IPv4 as its IPv4-mapped IPv6 form.
        assert (v4["version"], v4["binary_0"], v4["binary_1"], v4["binary_2"], v4["binary_3"]) == \
            (4, 0, 0, 0xFFFF, 0xC0000202)
        assert (v6["version"], v6["binary_0"], v6["binary_1"], v6["binary_2"], v6["binary_3"]) == \
            (6, 0xFD000000, 0, 0, 2)
        assert (link_local["binary_0"], link_local["binary_2"], link_local["binary_3"]) == \
            (0xFE800000, 0x00FC00FF, 0xFE000001)
        assert all((ip["itemtype"], ip["mainitemtype"], ip["mainitems_id"]) == ("NetworkName", "Computer",
                                                                                computers_id)
                   for ip in (v4, v6, link_local))

        agent = row(conn, agents, agent_id)
        assert (agent["computers_id"], agent["entities_id"], agent["tag"]) == (computers_id, 0, "")
        marks = inventorycomputercomputers
        [mark] = rows(conn, marks, marks.c.computers_id == computers_id)
        assert mark["last_fusioninventory_update"] == NOW


def test_reimport_keeps_every_id_and_writes_nothing_unchanged(engine):
    msg = recorded(*REAL_INVENTORY)
    with engine.begin() as conn:
        agent_id = add_agent(conn, device_id=msg.device_id)
        computers_id = import_computer_inventory(conn, agent_id, msg, NOW)
        before = (ports_of(conn, "Computer", computers_id), rows(conn, networknames), rows(conn, ipaddresses))
        assert import_computer_inventory(conn, agent_id, msg, LATER) == computers_id
        after = (ports_of(conn, "Computer", computers_id), rows(conn, networknames), rows(conn, ipaddresses))
        assert after == before
        assert row(conn, computers, computers_id)["date_mod"] == NOW
        assert count(conn, computers) == 1
        [mark] = rows(conn, inventorycomputercomputers)
        assert mark["last_fusioninventory_update"] == LATER


NETWORKS = """
<NETWORKS><DESCRIPTION>eth0</DESCRIPTION><IPADDRESS>{ip}</IPADDRESS><MACADDR>{mac}</MACADDR></NETWORKS>
"""


def test_changed_inventory_updates_only_what_changed(engine):
    first = inventory("pc01-2025-06-01-12-00-00", """
        <HARDWARE><NAME>pc01</NAME><UUID>4c4c4544-0042-3510-8050-b4c04f4e3132</UUID></HARDWARE>
        <BIOS><SSN>CZ1234ABC</SSN></BIOS>
        <NETWORKS><DESCRIPTION>eth0</DESCRIPTION><IPADDRESS>10.0.0.5</IPADDRESS>
                  <MACADDR>AA:BB:CC:00:00:01</MACADDR></NETWORKS>
        <NETWORKS><DESCRIPTION>wlan0</DESCRIPTION><IPADDRESS>10.0.1.5</IPADDRESS>
                  <MACADDR>aa:bb:cc:00:00:02</MACADDR></NETWORKS>
        <NETWORKS><DESCRIPTION>tun0</DESCRIPTION><IPADDRESS>10.8.0.2</IPADDRESS></NETWORKS>
    """)
    second = inventory("pc01-2025-06-01-12-00-00", """
        <HARDWARE><NAME>pc01-renamed</NAME><UUID>4c4c4544-0042-3510-8050-b4c04f4e3132</UUID></HARDWARE>
        <BIOS><SSN>CZ1234ABC</SSN></BIOS>
        <NETWORKS><DESCRIPTION>eth0</DESCRIPTION><IPADDRESS>10.0.0.6</IPADDRESS>
                  <MACADDR>aa:bb:cc:00:00:01</MACADDR></NETWORKS>
        <NETWORKS><DESCRIPTION>eth1</DESCRIPTION><IPADDRESS>10.0.2.5</IPADDRESS>
                  <MACADDR>aa:bb:cc:00:00:03</MACADDR></NETWORKS>
    """)
    with engine.begin() as conn:
        agent_id = add_agent(conn)
        manual = insert_row(conn, ports, itemtype="Computer", items_id=0, name="manual", is_dynamic=0)
        computers_id = import_computer_inventory(conn, agent_id, first, NOW)
        conn.execute(update(ports).where(ports.c.id == manual).values(items_id=computers_id))
        computer = row(conn, computers, computers_id)
        assert (computer["name"], computer["serial"], computer["uuid"]) == \
            ("pc01", "CZ1234ABC", "4c4c4544-0042-3510-8050-b4c04f4e3132")
        # No MAC (tun0): no port.
        eth0, wlan0 = [p for p in ports_of(conn, "Computer", computers_id) if p["is_dynamic"]]
        assert (eth0["name"], eth0["mac"], wlan0["name"]) == ("eth0", "aa:bb:cc:00:00:01", "wlan0")

        assert import_computer_inventory(conn, agent_id, second, LATER) == computers_id
        computer = row(conn, computers, computers_id)
        assert (computer["name"], computer["date_mod"]) == ("pc01-renamed", LATER)
        by_name = {p["name"]: p for p in ports_of(conn, "Computer", computers_id)}
        assert set(by_name) == {"eth0", "eth1", "manual"}  # wlan0 purged, the manual port kept
        assert by_name["eth0"]["id"] == eth0["id"]
        assert port_ips(conn, eth0["id"]) == ["10.0.0.6"]
        assert port_ips(conn, by_name["eth1"]["id"]) == ["10.0.2.5"]
        assert not rows(conn, networknames, networknames.c.items_id == wlan0["id"])
        assert sorted(r.name for r in rows(conn, ipaddresses)) == ["10.0.0.6", "10.0.2.5"]


def hardware(name="pc01", uuid="", serial="", tag=None):
    account = f"<ACCOUNTINFO><KEYNAME>TAG</KEYNAME><KEYVALUE>{tag}</KEYVALUE></ACCOUNTINFO>" if tag else ""
    return inventory("pc01-2025-06-01-12-00-00", f"""{account}
        <HARDWARE><NAME>{name}</NAME><UUID>{uuid}</UUID></HARDWARE><BIOS><SSN>{serial}</SSN></BIOS>""")


def test_an_existing_computer_is_found_by_uuid_then_serial_then_name(engine):
    with engine.begin() as conn:
        by_uuid = insert_row(conn, computers, name="old-name", uuid="11111111-2222-3333-4444-555555555555",
                             entities_id=3)
        by_serial = insert_row(conn, computers, name="other", serial="SN-REAL-1")
        by_name = insert_row(conn, computers, name="pc-by-name")
        placeholder = insert_row(conn, computers, name="x", serial="To be filled by O.E.M.")

        agent = add_agent(conn, device_id="a1")
        msg = hardware(uuid="11111111-2222-3333-4444-555555555555", serial="SN-OTHER", tag="site-a")
        assert import_computer_inventory(conn, agent, msg, NOW) == by_uuid
        # The agent takes the computer's entity, the computer keeps it.
        assert (row(conn, agents, agent)["entities_id"], row(conn, agents, agent)["tag"]) == (3, "site-a")
        assert row(conn, computers, by_uuid)["entities_id"] == 3
        assert row(conn, computers, by_uuid)["name"] == "pc01"

        agent = add_agent(conn, device_id="a2")
        msg = hardware(name="n2", serial="SN-REAL-1")
        assert import_computer_inventory(conn, agent, msg, NOW) == by_serial
        agent = add_agent(conn, device_id="a3")
        assert import_computer_inventory(conn, agent, hardware(name="pc-by-name"), NOW) == by_name
        # A placeholder serial matches nothing.
        agent = add_agent(conn, device_id="a4")
        msg = hardware(name="new", serial="To be filled by O.E.M.")
        created = import_computer_inventory(conn, agent, msg, NOW)
        assert created not in (by_uuid, by_serial, by_name, placeholder)
        assert row(conn, computers, created)["serial"] == "To be filled by O.E.M."


def test_name_matches_neither_another_agents_computer_nor_another_entity(engine):
    with engine.begin() as conn:
        taken = insert_row(conn, computers, name="pc01")
        add_agent(conn, device_id="other", computers_id=taken)
        elsewhere = insert_row(conn, computers, name="pc01", entities_id=5)
        agent = add_agent(conn, device_id="mine")
        created = import_computer_inventory(conn, agent, hardware(name="pc01"), NOW)
        assert created not in (taken, elsewhere)


def test_a_deleted_linked_computer_is_replaced(engine):
    with engine.begin() as conn:
        deleted = insert_row(conn, computers, name="pc01", is_deleted=1)
        agent = add_agent(conn, computers_id=deleted)
        created = import_computer_inventory(conn, agent, hardware(name="pc01"), NOW)
        assert created != deleted
        assert row(conn, agents, agent)["computers_id"] == created
        assert row(conn, computers, deleted)["is_deleted"] == 1


def test_the_linked_computer_is_kept_even_when_its_identity_changes(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        first = import_computer_inventory(conn, agent, hardware(name="a", uuid="u-1", serial="S-1"), NOW)
        msg = hardware(name="b", uuid="u-2", serial="S-2")
        assert import_computer_inventory(conn, agent, msg, NOW) == first
        assert (row(conn, computers, first)["uuid"], row(conn, computers, first)["serial"]) == ("u-2", "S-2")


def test_inventory_without_hardware_name_uses_the_device_id(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        computers_id = import_computer_inventory(conn, agent, inventory("host7-2025-06-01-12-00-00", ""), NOW)
        assert row(conn, computers, computers_id)["name"] == "host7"


def test_inventory_text_is_fitted_to_the_columns(engine):
    long_name = "\U0001F600" + "n" * 300
    msg = inventory("pc01-2025-06-01-12-00-00", f"""
        <HARDWARE><NAME>{long_name}</NAME></HARDWARE><BIOS><SSN>S\U0001F4A9N</SSN></BIOS>
        <NETWORKS><DESCRIPTION>{"d" * 300}</DESCRIPTION><MACADDR>aa:bb:cc:dd:ee:ff</MACADDR>
                  <IPADDRESS>not-an-ip</IPADDRESS></NETWORKS>""")
    with engine.begin() as conn:
        agent = add_agent(conn)
        computers_id = import_computer_inventory(conn, agent, msg, NOW)
        computer = row(conn, computers, computers_id)
        assert computer["name"] == "\ufffd" + "n" * 254
        assert computer["serial"] == "S\ufffdN"
        [port] = ports_of(conn, "Computer", computers_id)
        assert port["name"] == "d" * 255 and port_ips(conn, port["id"]) == []
        # Same text again: same port, nothing duplicated.
        import_computer_inventory(conn, agent, msg, LATER)
        assert [p["id"] for p in ports_of(conn, "Computer", computers_id)] == [port["id"]]


# --- network discovery ----------------------------------------------------------------------

def real_devices() -> list[protocol.DiscoveredDevice]:
    return [found for step in ("04", "05", "06") for found in recorded("netdiscovery", step).devices]


def on_lan(found):
    """A recorded device (found on 127.0.0.N, which identifies no asset) as if at 192.0.2.N."""
    if dataclasses.is_dataclass(found):
        return replace(found, **{f.name: on_lan(getattr(found, f.name)) for f in dataclasses.fields(found)})
    if isinstance(found, (list, tuple)):
        return type(found)(on_lan(value) for value in found)
    return found.replace("127.0.0.", "192.0.2.") if isinstance(found, str) else found


def test_real_discovery_creates_then_updates(engine):
    snmp, ping2, ping3 = on_lan(real_devices())
    with engine.begin() as conn:
        agent = add_agent(conn, device_id="fixture-netdiscovery-2025-06-01-12-00-00")
        first = [import_discovered_device(conn, agent, found, 0, NOW) for found in (snmp, ping2, ping3)]
        # The recorded snmpd says TYPE COMPUTER: a computer, as the plugin makes it.
        assert first[0].itemtype == "Computer" and first[0].created
        assert [r.itemtype for r in first[1:]] == [UNMANAGED, UNMANAGED]
        assert all(r.created for r in first)

        computer = row(conn, computers, first[0].items_id)
        assert (computer["name"], computer["entities_id"]) == ("fixture-snmpd", 0)
        [port] = ports_of(conn, "Computer", computer["id"])
        assert (port["name"], port["instantiation_type"]) == ("management", "NetworkPortEthernet")
        assert port_ips(conn, port["id"]) == ["192.0.2.1"]

        unmanaged = row(conn, unmanageds, first[1].items_id)
        assert (unmanaged["name"], unmanaged["ip"], unmanaged["plugin_fusioninventory_agents_id"],
                unmanaged["entities_id"], unmanaged["item_type"], unmanaged["date_mod"]) == \
            ("192.0.2.2", "192.0.2.2", agent, 0, None, NOW)
        assert asset_ips(conn, UNMANAGED, first[2].items_id) == ["192.0.2.3"]

        second = [import_discovered_device(conn, agent, found, 0, LATER) for found in (snmp, ping2, ping3)]
        assert [(r.itemtype, r.items_id) for r in second] == [(r.itemtype, r.items_id) for r in first]
        assert not any(r.created for r in second)
        assert (count(conn, computers), count(conn, unmanageds), count(conn, ports),
                count(conn, ipaddresses)) == (1, 2, 3, 3)
        assert row(conn, unmanageds, first[1].items_id)["date_mod"] == NOW  # nothing changed


def networking(found: protocol.DiscoveredDevice) -> protocol.DiscoveredDevice:
    return replace(found, type="NETWORKING")


def at(found: protocol.DiscoveredDevice, ip: str) -> protocol.DiscoveredDevice:
    """The same device answering at another (single) address."""
    return replace(found, ip=ip, ips=(ip,))


def test_snmp_device_becomes_network_equipment_with_extension_port_and_ip(engine):
    snmp = networking(on_lan(real_devices())[0])
    with engine.begin() as conn:
        agent = add_agent(conn)
        result = import_discovered_device(conn, agent, snmp, 0, NOW)
        assert (result.itemtype, result.created) == ("NetworkEquipment", True)
        assert result.log_comment == \
            f"[==detail==] ==addtheitem== Network devices [[NetworkEquipment::{result.items_id}]]"
        equipment = row(conn, schema.glpi_networkequipments, result.items_id)
        assert (equipment["name"], equipment["entities_id"], equipment["is_deleted"]) == \
            ("fixture-snmpd", 0, 0)
        [extension] = rows(conn, pf_networkequipments,
                           pf_networkequipments.c.networkequipments_id == result.items_id)
        assert extension["sysdescr"] == "Linux fixture-snmpd 6.1.0-fixture #1 SMP x86_64"
        assert extension["plugin_fusioninventory_configsecurities_id"] == 2
        assert extension["uptime"] == "1.46 seconds"
        [port] = ports_of(conn, "NetworkEquipment", result.items_id)
        assert (port["instantiation_type"], port["logical_number"], port["name"]) == \
            ("NetworkPortAggregate", 0, "management")
        [ip] = rows(conn, ipaddresses)
        assert (ip["name"], ip["binary_2"], ip["binary_3"], ip["mainitemtype"], ip["mainitems_id"]) == \
            ("192.0.2.1", 0xFFFF, 0xC0000201, "NetworkEquipment", result.items_id)

        again = import_discovered_device(conn, agent, snmp, 0, LATER)
        assert again == ImportResult("NetworkEquipment", result.items_id, False)
        assert again.log_comment == \
            f"[==detail==] ==updatetheitem== Network devices [[NetworkEquipment::{result.items_id}]]"
        assert (count(conn, schema.glpi_networkequipments), count(conn, pf_networkequipments),
                count(conn, ports), count(conn, ipaddresses)) == (1, 1, 1, 1)


def test_the_loopback_of_an_inventoried_computer_is_no_match(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        computers_id = import_computer_inventory(conn, agent, recorded(*REAL_INVENTORY), NOW)
        result = import_discovered_device(conn, agent, networking(real_devices()[0]), 0, NOW)
        assert result.itemtype == "NetworkEquipment" and result.created
        assert row(conn, computers, computers_id)["name"] == "vm"


def test_a_computer_kept_by_its_agent_is_matched_but_not_touched(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        computers_id = import_computer_inventory(conn, agent, recorded(*REAL_INVENTORY), NOW)
        before = (row(conn, computers, computers_id), ports_of(conn, "Computer", computers_id))
        found = device("<IP>192.0.2.2</IP><MAC>02:FC:00:00:00:01</MAC><NETBIOSNAME>OTHER</NETBIOSNAME>")
        assert import_discovered_device(conn, agent, found, 0, LATER) == \
            ImportResult("Computer", computers_id, False)
        assert (row(conn, computers, computers_id), ports_of(conn, "Computer", computers_id)) == before


def test_matching_order_is_serial_then_mac_then_ip(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        by_serial = insert_row(conn, schema.glpi_networkequipments, name="sw", serial="FOC123")
        by_mac = insert_row(conn, schema.glpi_printers, name="pr")
        add_port(conn, "Printer", by_mac, mac="00:11:22:33:44:55")
        by_ip = insert_row(conn, computers, name="pc")
        add_port(conn, "Computer", by_ip, ip="10.1.1.1")
        template = insert_row(conn, schema.glpi_networkequipments, name="t", serial="TPL1", is_template=1)

        everything = "<IP>10.1.1.1</IP><MAC>00:11:22:33:44:55</MAC>"
        assert import_discovered_device(conn, agent, device("<IP>10.1.1.1</IP>"), 0, NOW) \
            == ImportResult("Computer", by_ip, False)
        assert import_discovered_device(conn, agent, device(everything), 0, NOW) \
            == ImportResult("Printer", by_mac, False)
        assert import_discovered_device(conn, agent, device(everything + "<SERIAL>FOC123</SERIAL>"), 0, NOW) \
            == ImportResult("NetworkEquipment", by_serial, False)
        # Templates and deleted assets are never matched; placeholder serials neither.
        found = device("<IP>10.9.9.9</IP><SERIAL>TPL1</SERIAL>")
        result = import_discovered_device(conn, agent, found, 0, NOW)
        assert result.created and (result.itemtype, result.items_id) != ("NetworkEquipment", template)
        deleted = insert_row(conn, schema.glpi_printers, name="gone", serial="0000000", is_deleted=1)
        add_port(conn, "Printer", deleted, mac="00:11:22:33:44:66", ip="10.9.9.8")
        result = import_discovered_device(conn, agent, device("<IP>10.9.9.8</IP><MAC>00:11:22:33:44:66</MAC>"
                                                              "<SERIAL>0000000</SERIAL>"), 0, NOW)
        assert result.created and result.itemtype == UNMANAGED


def test_discovery_fills_what_an_existing_asset_lacks(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        switch = insert_row(conn, schema.glpi_networkequipments, name="", entities_id=2)
        add_port(conn, "NetworkEquipment", switch, ip="10.2.0.1", kind="NetworkPortAggregate")
        found = device("<IP>10.2.0.1</IP><IPS><IP>10.2.0.1</IP><IP>10.3.0.1</IP></IPS><SNMPHOSTNAME>core"
                       "</SNMPHOSTNAME><SERIAL> FOC9 </SERIAL><DESCRIPTION>Cisco IOS</DESCRIPTION><AUTHSNMP>1"
                       "</AUTHSNMP><TYPE>NETWORKING</TYPE><MAC>00:AA:00:AA:00:AA</MAC>")
        assert import_discovered_device(conn, agent, found, 0, NOW) == \
            ImportResult("NetworkEquipment", switch, False)
        equipment = row(conn, schema.glpi_networkequipments, switch)
        assert (equipment["name"], equipment["serial"], equipment["entities_id"], equipment["date_mod"]) == \
            ("core", "FOC9", 2, NOW)
        [extension] = rows(conn, pf_networkequipments)
        assert (extension["networkequipments_id"], extension["sysdescr"],
                extension["plugin_fusioninventory_configsecurities_id"]) == (switch, "Cisco IOS", 1)
        [port] = ports_of(conn, "NetworkEquipment", switch)
        assert port["mac"] == "00:aa:00:aa:00:aa" and port["entities_id"] == 0  # the seeded port's own entity
        assert port_ips(conn, port["id"]) == ["10.2.0.1", "10.3.0.1"]

        # A later DEVICE without DESCRIPTION nor AUTHSNMP keeps what is known.
        import_discovered_device(conn, agent, device("<IP>10.2.0.1</IP><TYPE>NETWORKING</TYPE>"), 0, LATER)
        [extension] = rows(conn, pf_networkequipments)
        assert (extension["sysdescr"], extension["plugin_fusioninventory_configsecurities_id"]) == \
            ("Cisco IOS", 1)
        assert row(conn, schema.glpi_networkequipments, switch)["name"] == "10.2.0.1"


def test_discovered_printer(engine):
    found = device("<IP>10.0.0.9</IP><MAC>00:80:77:aa:bb:cc</MAC><SNMPHOSTNAME>prn1</SNMPHOSTNAME>"
                   "<SERIAL>CNB1234</SERIAL><TYPE>PRINTER</TYPE><AUTHSNMP>2</AUTHSNMP>"
                   "<DESCRIPTION>HP ETHERNET MULTI-ENVIRONMENT</DESCRIPTION>")
    with engine.begin() as conn:
        agent = add_agent(conn)
        result = import_discovered_device(conn, agent, found, 4, NOW)
        assert (result.itemtype, result.created) == ("Printer", True)
        assert result.log_comment == f"[==detail==] ==addtheitem== Printers [[Printer::{result.items_id}]]"
        printer = row(conn, schema.glpi_printers, result.items_id)
        assert (printer["name"], printer["serial"], printer["entities_id"], printer["have_ethernet"]) == \
            ("prn1", "CNB1234", 4, 1)
        [extension] = rows(conn, pf_printers)
        assert (extension["printers_id"], extension["sysdescr"],
                extension["plugin_fusioninventory_configsecurities_id"]) == \
            (result.items_id, "HP ETHERNET MULTI-ENVIRONMENT", 2)
        [port] = ports_of(conn, "Printer", result.items_id)
        assert (port["mac"], port["instantiation_type"], port["entities_id"]) == \
            ("00:80:77:aa:bb:cc", "NetworkPortEthernet", 4)
        assert port_ips(conn, port["id"]) == ["10.0.0.9"]
        # The printer moved to another address: matched by serial, its one address replaced.
        moved = at(found, "10.0.0.10")
        assert import_discovered_device(conn, agent, moved, 4, LATER) == \
            ImportResult("Printer", result.items_id, False)
        assert asset_ips(conn, "Printer", result.items_id) == ["10.0.0.10"]


def test_unknown_types_become_unmanaged_devices(engine):
    found = device("<IP>10.0.0.20</IP><MAC>00:00:00:00:00:00</MAC><NETBIOSNAME>NAS01</NETBIOSNAME>"
                   "<DNSHOSTNAME>nas01.example.org</DNSHOSTNAME><TYPE>STORAGE</TYPE><AUTHSNMP>2</AUTHSNMP>"
                   "<DESCRIPTION>Synology</DESCRIPTION><USERSESSION>admin</USERSESSION>")
    with engine.begin() as conn:
        agent = add_agent(conn)
        result = import_discovered_device(conn, agent, found, 1, NOW)
        assert (result.itemtype, result.created) == (UNMANAGED, True)
        assert result.log_comment == \
            f"[==detail==] ==addtheitem== Unmanaged device [[{UNMANAGED}::{result.items_id}]]"
        unmanaged = row(conn, unmanageds, result.items_id)
        assert (unmanaged["name"], unmanaged["ip"], unmanaged["sysdescr"], unmanaged["contact"],
                unmanaged["plugin_fusioninventory_configsecurities_id"], unmanaged["entities_id"]) == \
            ("NAS01", "10.0.0.20", "Synology", "admin", 2, 1)
        [port] = ports_of(conn, UNMANAGED, result.items_id)
        assert port["mac"] is None  # the all-zero MAC is no MAC
        assert port_ips(conn, port["id"]) == ["10.0.0.20"]


def test_an_unmanaged_device_that_reveals_its_type_becomes_that_asset(engine):
    snmp, ping2, _ = on_lan(real_devices())
    with engine.begin() as conn:
        agent = add_agent(conn)
        before = import_discovered_device(conn, agent, ping2, 0, NOW)
        [old_port] = ports_of(conn, UNMANAGED, before.items_id)
        # Later the device answers SNMP at the same address.
        now_snmp = at(networking(snmp), "192.0.2.2")
        after = import_discovered_device(conn, agent, now_snmp, 0, LATER)
        assert (after.itemtype, after.created) == ("NetworkEquipment", True)
        assert count(conn, unmanageds) == 0
        [port] = ports_of(conn, "NetworkEquipment", after.items_id)
        assert port["id"] == old_port["id"] and port["instantiation_type"] == "NetworkPortAggregate"
        [ip] = rows(conn, ipaddresses)
        assert (ip["name"], ip["mainitemtype"], ip["mainitems_id"]) == ("192.0.2.2", "NetworkEquipment",
                                                                         after.items_id)
        assert rows(conn, pf_networkequipments)[0]["plugin_fusioninventory_configsecurities_id"] == 2


def test_discovery_text_is_fitted(engine):
    found = device(f"<IP>10.0.0.30</IP><SNMPHOSTNAME>sw\U0001F680{'x' * 300}</SNMPHOSTNAME>"
                   f"<DESCRIPTION>descr \U0001F680 {'y' * 30000}</DESCRIPTION><TYPE>NETWORKING</TYPE>"
                   f"<SERIAL>{'S1' * 150}</SERIAL><UPTIME>{'u' * 300}</UPTIME><AUTHSNMP>junk</AUTHSNMP>")
    with engine.begin() as conn:
        agent = add_agent(conn)
        result = import_discovered_device(conn, agent, found, 0, NOW)
        equipment = row(conn, schema.glpi_networkequipments, result.items_id)
        assert equipment["name"] == "sw\ufffd" + "x" * 252 and equipment["serial"] == ("S1" * 150)[:255]
        [extension] = rows(conn, pf_networkequipments)
        assert extension["sysdescr"].startswith("descr \ufffd y") and len(extension["sysdescr"]) == 65535 // 3
        assert extension["uptime"] == "u" * 255
        assert extension["plugin_fusioninventory_configsecurities_id"] == 0
        # Matched again by its (fitted) serial.
        assert not import_discovered_device(conn, agent, at(found, "10.0.0.31"), 0, NOW).created


def test_a_device_with_nothing_usable_is_still_recorded(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        junk = protocol.read_discovered_device({"IP": [{"junk": ["x"]}], "MAC": [""]})
        result = import_discovered_device(conn, agent, junk, 0, NOW)
        assert (result.itemtype, result.created) == (UNMANAGED, True)
        assert row(conn, unmanageds, result.items_id)["name"] == ""


# --- SNMP inventory -------------------------------------------------------------------------

def test_real_snmp_result_updates_the_switch(engine):
    msg = recorded("snmpquery", "03")
    with engine.begin() as conn:
        seed(conn, "snmpquery")
        assert snmp_device_has_information(msg.device)
        assert update_inventoried_device(conn, "NetworkEquipment", 1, msg.device, NOW) is True

        equipment = row(conn, schema.glpi_networkequipments, 1)
        assert (equipment["name"], equipment["ram"], equipment["is_dynamic"], equipment["date_mod"]) == \
            ("fixture-snmpd", "24105", 1, NOW)
        [extension] = rows(conn, pf_networkequipments)
        assert (extension["id"], extension["sysdescr"], extension["uptime"], extension["cpu"],
                extension["memory"], extension["last_fusioninventory_update"],
                extension["plugin_fusioninventory_configsecurities_id"]) == \
            (1, "Linux fixture-snmpd 6.1.0-fixture #1 SMP x86_64", "1.46 seconds", 0, 23, NOW, 2)

        internal, lo = ports_of(conn, "NetworkEquipment", 1)
        assert (internal["id"], internal["name"], internal["instantiation_type"]) == \
            (1, "Management", "NetworkPortAggregate")
        assert port_ips(conn, 1) == ["127.0.0.1"] and rows(conn, ipaddresses)[0]["id"] == 1
        assert row(conn, networknames, 1)["name"] == "Internal"
        assert (lo["name"], lo["logical_number"], lo["instantiation_type"], lo["is_dynamic"]) == \
            ("lo", 1, "NetworkPortEthernet", 1)
        assert port_ips(conn, lo["id"]) == ["127.0.0.1"]
        [extension] = rows(conn, pf_networkports)
        assert (extension["networkports_id"], extension["ifdescr"], extension["ifmtu"], extension["ifspeed"],
                extension["ifstatus"], extension["ifinternalstatus"], extension["iflastchange"],
                extension["ifinoctets"], extension["ifoutoctets"], extension["ifinerrors"],
                extension["ifouterrors"], extension["lastup"]) == \
            (lo["id"], "lo", 65536, 10000000, "1", "1", "0.00 seconds", 168, 168, 0, 0, NOW)

        # The next inventory updates the same rows.
        [lo_port] = msg.device.ports
        device = replace(msg.device, info=replace(msg.device.info, uptime="2 days, 01:00:00.00"),
                         ports=(replace(lo_port, ifinoctets="5000", ifstatus="2"),))
        assert update_inventoried_device(conn, "NetworkEquipment", 1, device, LATER)
        assert [p["id"] for p in ports_of(conn, "NetworkEquipment", 1)] == [1, lo["id"]]
        [extension] = rows(conn, pf_networkports)
        assert (extension["ifinoctets"], extension["ifstatus"], extension["lastup"]) == (5000, "2", NOW)
        assert rows(conn, pf_networkequipments)[0]["uptime"] == "2 days, 01:00:00.00"
        assert (count(conn, ports), count(conn, networknames), count(conn, ipaddresses)) == (2, 2, 2)


def test_snmp_result_creates_a_missing_extension_row_and_internal_port(engine):
    found = snmp_device("""
        <INFO><NAME>sw2</NAME><SERIAL>FOC777</SERIAL><COMMENTS>Cisco IOS</COMMENTS><CPU>7</CPU>
              <MEMORY>128</MEMORY><MAC>00:1A:2B:3C:4D:01</MAC>
              <IPS><IP>192.0.2.250</IP><IP>192.0.2.251</IP></IPS>
              <ID>1</ID><TYPE>NETWORKING</TYPE></INFO>
        <PORTS>
          <PORT><IFNUMBER>10101</IFNUMBER><IFNAME>Gi0/1</IFNAME><IFDESCR>GigabitEthernet0/1</IFDESCR>
                <MAC>00-1A-2B-3C-4D-02</MAC><IFTYPE>6</IFTYPE><IFSTATUS>1</IFSTATUS><IFALIAS>uplink</IFALIAS>
                <IFPORTDUPLEX>3</IFPORTDUPLEX><TRUNK>1</TRUNK></PORT>
          <PORT><IFNUMBER>10102</IFNUMBER><IFDESCR>GigabitEthernet0/2</IFDESCR><IFTYPE>6</IFTYPE></PORT>
        </PORTS>""")
    with engine.begin() as conn:
        switch = insert_row(conn, schema.glpi_networkequipments, name="old", serial="")
        assert update_inventoried_device(conn, "NetworkEquipment", switch, found, NOW)
        equipment = row(conn, schema.glpi_networkequipments, switch)
        assert (equipment["name"], equipment["serial"]) == ("sw2", "FOC777")
        [extension] = rows(conn, pf_networkequipments)
        assert (extension["networkequipments_id"], extension["sysdescr"], extension["cpu"],
                extension["memory"], extension["plugin_fusioninventory_configsecurities_id"]) == \
            (switch, "Cisco IOS", 7, 128, 0)
        internal, gi1, gi2 = ports_of(conn, "NetworkEquipment", switch)
        assert (internal["name"], internal["instantiation_type"], internal["logical_number"],
                internal["mac"]) == \
            ("general", "NetworkPortAggregate", 0, "00:1a:2b:3c:4d:01")
        assert port_ips(conn, internal["id"]) == ["192.0.2.250", "192.0.2.251"]
        assert (gi1["name"], gi1["logical_number"], gi1["mac"]) == ("Gi0/1", 10101, "00:1a:2b:3c:4d:02")
        assert (gi2["name"], gi2["mac"]) == ("GigabitEthernet0/2", None)
        ext1, ext2 = rows(conn, pf_networkports)
        assert (ext1["ifalias"], ext1["portduplex"], ext1["trunk"], ext1["mac"]) == \
            ("uplink", "3", 1, "00:1a:2b:3c:4d:02")
        assert (ext2["ifdescr"], ext2["ifspeed"], ext2["ifmtu"]) == ("GigabitEthernet0/2", 0, 0)

        # An empty INFO name/serial keeps the known values.
        assert update_inventoried_device(conn, "NetworkEquipment", switch,
                                         snmp_device("<INFO><NAME></NAME><ID>1</ID></INFO>"), LATER)
        assert row(conn, schema.glpi_networkequipments, switch)["name"] == "sw2"
        assert port_ips(conn, internal["id"]) == ["192.0.2.250", "192.0.2.251"]


def test_snmp_junk_values_never_crash_and_text_is_fitted(engine):
    found = snmp_device(f"""
        <INFO><NAME>sw\U0001F525{'n' * 400}</NAME><SERIAL>{'s' * 400}</SERIAL><CPU>lots</CPU>
              <MEMORY>12 MB</MEMORY><RAM>{'r' * 400}</RAM><UPTIME>\U0001F525</UPTIME>
              <COMMENTS>\U0001F525 sysdescr</COMMENTS><MAC>junk-mac</MAC><IPS><IP>not.an.ip</IP></IPS></INFO>
        <PORTS>
          <PORT><IFNAME>no ifnumber</IFNAME></PORT>
          <PORT><IFNUMBER>abc</IFNUMBER></PORT>
          <PORT><IFNUMBER>3</IFNUMBER><IFNAME>{'p' * 400}</IFNAME>
                <IFSPEED>99999999999999999999999999</IFSPEED>
                <IFMTU>-5</IFMTU><IFINOCTETS>1.5e3</IFINOCTETS><IFSTATUS>{'z' * 400}</IFSTATUS>
                <IP>300.1.1.1</IP><IPS><IP>fe80::1%eth0</IP></IPS></PORT>
          <PORT><IFNUMBER>3</IFNUMBER><IFNAME>duplicate</IFNAME></PORT>
          <PORT><IFNUMBER><X>1</X></IFNUMBER></PORT>
        </PORTS>
        <PORTS>ignored text</PORTS>""")
    with engine.begin() as conn:
        switch = insert_row(conn, schema.glpi_networkequipments, name="x")
        assert update_inventoried_device(conn, "NetworkEquipment", switch, found, NOW)
        equipment = row(conn, schema.glpi_networkequipments, switch)
        assert equipment["name"] == "sw\ufffd" + "n" * 252
        assert (equipment["serial"], equipment["ram"]) == ("s" * 255, "r" * 255)
        [extension] = rows(conn, pf_networkequipments)
        assert (extension["cpu"], extension["memory"], extension["uptime"], extension["sysdescr"]) == \
            (0, 12, "\ufffd", "\ufffd sysdescr")
        internal, port = ports_of(conn, "NetworkEquipment", switch)
        assert internal["mac"] is None and port_ips(conn, internal["id"]) == []
        assert (port["logical_number"], port["name"]) == (3, "p" * 255)
        assert port_ips(conn, port["id"]) == ["fe80::1"]
        [extension] = rows(conn, pf_networkports)
        assert (extension["ifspeed"], extension["ifmtu"], extension["ifinoctets"], extension["ifstatus"]) == \
            (2**63 - 1, 0, 1, "z" * 255)
        for empty in ({}, {"INFO": ["text"], "PORTS": [{"PORT": ["text"]}]}, None):
            assert update_inventoried_device(conn, "NetworkEquipment", switch,
                                             protocol.read_inventoried_device(empty), LATER)


def test_snmp_result_for_a_printer_and_an_unmanaged_device(engine):
    found = snmp_device("<INFO><NAME>prn</NAME><MEMORY>64</MEMORY><COMMENTS>HP</COMMENTS></INFO>"
                        "<PORTS><PORT><IFNUMBER>1</IFNUMBER><IFNAME>eth0</IFNAME><IP>10.0.0.9</IP></PORT>"
                        "</PORTS>")
    with engine.begin() as conn:
        printer = insert_row(conn, schema.glpi_printers, name="")
        assert update_inventoried_device(conn, "Printer", printer, found, NOW)
        assert (row(conn, schema.glpi_printers, printer)["memory_size"],
                row(conn, schema.glpi_printers, printer)["have_ethernet"]) == ("64", 1)
        [extension] = rows(conn, pf_printers)
        assert (extension["printers_id"], extension["sysdescr"],
                extension["last_fusioninventory_update"]) == \
            (printer, "HP", NOW)
        assert asset_ips(conn, "Printer", printer) == ["10.0.0.9"]

        unmanaged = insert_row(conn, unmanageds, name="u")
        assert update_inventoried_device(conn, UNMANAGED, unmanaged, found, NOW)
        assert (row(conn, unmanageds, unmanaged)["name"], row(conn, unmanageds, unmanaged)["sysdescr"]) == \
            ("prn", "HP")


def test_snmp_result_for_a_deleted_or_missing_device_returns_false(engine):
    msg = recorded("snmpquery", "03")
    with engine.begin() as conn:
        seed(conn, "snmpquery")
        conn.execute(update(schema.glpi_networkequipments).values(is_deleted=1))
        before = (rows(conn, pf_networkequipments), rows(conn, ports))
        assert update_inventoried_device(conn, "NetworkEquipment", 1, msg.device, NOW) is False
        assert update_inventoried_device(conn, "NetworkEquipment", 999, msg.device, NOW) is False
        assert update_inventoried_device(conn, "Printer", 1, msg.device, NOW) is False
        assert (rows(conn, pf_networkequipments), rows(conn, ports)) == before
        assert update_inventoried_device(conn, "PluginFusioninventoryIPRange", 1, msg.device, NOW) is False


def test_a_discovered_device_then_its_snmp_inventory(engine):
    """What the task engine does: discovery creates the switch, SNMP inventory fills it."""
    with engine.begin() as conn:
        agent = add_agent(conn)
        result = import_discovered_device(conn, agent, networking(real_devices()[0]), 0, NOW)
        assert update_inventoried_device(conn, result.itemtype, result.items_id,
                                         recorded("snmpquery", "03").device, LATER)
        internal, lo = ports_of(conn, "NetworkEquipment", result.items_id)
        assert (internal["name"], internal["logical_number"]) == ("management", 0)
        assert port_ips(conn, internal["id"]) == ["127.0.0.1"]
        assert (lo["name"], lo["logical_number"]) == ("lo", 1)
        [extension] = rows(conn, pf_networkequipments)
        assert (extension["plugin_fusioninventory_configsecurities_id"], extension["memory"],
                extension["last_fusioninventory_update"]) == (2, 23, LATER)


# --- names, comments and value parsing ------------------------------------------------------

def test_an_esx_host_inventory_does_not_overwrite_the_agents_computer(engine):
    """ESX hosts come as INVENTORY with the agent's own DEVICEID: matched by content, never linked."""
    with engine.begin() as conn:
        agent = add_agent(conn)
        own = import_computer_inventory(conn, agent, inventory("pc01-2025-06-01-12-00-00",
            "<HARDWARE><NAME>agent-box</NAME><UUID>11111111-2222-3333-4444-555555555555</UUID></HARDWARE>"
            "<BIOS><SSN>OWN-SERIAL</SSN></BIOS>"), NOW)
        host = import_computer_inventory(conn, agent, inventory("pc01-2025-06-01-12-00-00",
            "<HARDWARE><NAME>esx01</NAME><UUID>99999999-8888-7777-6666-555555555555</UUID></HARDWARE>"
            "<BIOS><SSN>ESX-SERIAL</SSN></BIOS>"), LATER, esx_hosts_expected=True)
        assert host != own
        assert row(conn, computers, own)["name"] == "agent-box"
        assert row(conn, computers, host)["name"] == "esx01"
        linked = conn.execute(select(schema.agents.c.computers_id).where(schema.agents.c.id == agent)).scalar()
        assert linked == own
        again = import_computer_inventory(conn, agent, inventory("pc01-2025-06-01-12-00-00",
            "<HARDWARE><NAME>esx01-renamed</NAME><UUID>99999999-8888-7777-6666-555555555555</UUID></HARDWARE>"),
            LATER, esx_hosts_expected=True)
        assert again == host and row(conn, computers, host)["name"] == "esx01-renamed"
