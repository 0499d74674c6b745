"""Deletes that leave nothing behind, and ports and NULLs as GLPI writes them (issue 13), on
SQLite and MariaDB."""

from __future__ import annotations

from sqlalchemy import inspect, select, text, update

import schema
from fusion_bridge.services.inventory import import_computer_inventory, import_discovered_device
from schema.glpi_core_ports import (glpi_networkportethernets, glpi_networkportlocals, glpi_networkports_networkports,
                                    glpi_networkports_vlans, glpi_networkportwifis)
from schema.plugin_network import networkports as pf_networkports
from tests.helpers.agent_messages import REAL_INVENTORY, device, inventory, recorded
from tests.helpers.db import insert_row, row, rows
from tests.helpers.inventory_rows import LATER, NOW, add_agent, ports_of

ports, names, addresses = schema.glpi_networkports, schema.glpi_networknames, schema.glpi_ipaddresses
PORT_KEYS = ("networkports_id", "networkports_id_1", "networkports_id_2")


def orphans(conn) -> dict[str, int]:
    """Rows of every ``glpi_networkport*`` table (and the plugin's port table, the port's names
    and their addresses) that point at a port, or a name, that no longer exists."""
    found = {}
    inspector = inspect(conn)
    tables = [name for name in inspector.get_table_names()
              if name.startswith("glpi_networkport") and name != "glpi_networkports"]
    assert len(tables) == 9, tables  # 7 type tables, cables, VLANs: all of them are looked at
    for table in [*tables, pf_networkports.name]:
        columns = {column["name"] for column in inspector.get_columns(table)}
        for key in PORT_KEYS:
            if key in columns:
                found[f"{table}.{key}"] = conn.execute(text(
                    f"SELECT COUNT(*) FROM {table} WHERE {key} NOT IN (SELECT id FROM glpi_networkports)")).scalar()
    found["glpi_networknames"] = conn.execute(text(
        "SELECT COUNT(*) FROM glpi_networknames WHERE itemtype = 'NetworkPort'"
        " AND items_id NOT IN (SELECT id FROM glpi_networkports)")).scalar()
    found["glpi_ipaddresses"] = conn.execute(text(
        "SELECT COUNT(*) FROM glpi_ipaddresses WHERE itemtype = 'NetworkName'"
        " AND items_id NOT IN (SELECT id FROM glpi_networknames)")).scalar()
    return {key: count for key, count in found.items() if count}


def networks(*cards: str) -> str:
    return "".join(f"<NETWORKS>{card}</NETWORKS>" for card in cards)


def pc(content: str):
    return inventory("pc01-2025-06-01-12-00-00", f"<HARDWARE><NAME>pc01</NAME></HARDWARE>{content}")


def test_replacing_ports_leaves_no_orphan_row_in_any_port_table(engine):
    with engine.begin() as conn:
        agent = add_agent(conn, device_id="vm-2025-06-01-12-00-00")
        computer = import_computer_inventory(conn, agent, recorded(*REAL_INVENTORY), NOW)
        old = {p["name"]: p["id"] for p in ports_of(conn, "Computer", computer)}
        assert len(old) == 4 and orphans(conn) == {}
        # What GLPI and the plugin hang off these ports: a cable each way to a switch, VLANs,
        # a row of another type (another writer), the plugin's SNMP row.
        switch = insert_row(conn, schema.glpi_networkequipments, name="sw", entities_id=0)
        uplink, downlink = (insert_row(conn, ports, itemtype="NetworkEquipment", items_id=switch,
                                       name=f"Gi0/{n}", instantiation_type="NetworkPortEthernet",
                                       logical_number=n) for n in (1, 2))
        insert_row(conn, glpi_networkports_networkports, networkports_id_1=old["eth0"],
                   networkports_id_2=uplink)
        insert_row(conn, glpi_networkports_networkports, networkports_id_1=downlink,
                   networkports_id_2=old["ifb0"])
        for port in (old["eth0"], old["lo"]):
            insert_row(conn, glpi_networkports_vlans, networkports_id=port, vlans_id=7)
        insert_row(conn, glpi_networkportwifis, networkports_id=old["ifb1"])
        insert_row(conn, glpi_networkportlocals, networkports_id=old["eth0"])
        insert_row(conn, pf_networkports, networkports_id=old["eth0"])

        # New cards: every port is replaced.
        new = pc(networks("<DESCRIPTION>enp1s0</DESCRIPTION><MACADDR>52:54:00:aa:bb:01</MACADDR>"
                          "<IPADDRESS>192.0.2.10</IPADDRESS><VIRTUALDEV>0</VIRTUALDEV><SPEED>1000</SPEED>",
                          "<DESCRIPTION>lo</DESCRIPTION><MACADDR>00:00:00:00:00:01</MACADDR>"
                          "<IPADDRESS>127.0.0.1</IPADDRESS><VIRTUALDEV>1</VIRTUALDEV>"))
        import_computer_inventory(conn, agent, new, LATER)
        current = {p["name"]: p["id"] for p in ports_of(conn, "Computer", computer)}
        assert set(current) == {"enp1s0", "lo"} and not set(current.values()) & set(old.values())
        assert orphans(conn) == {}
        # The switch keeps its ports; only the cables went.
        assert {p["id"] for p in ports_of(conn, "NetworkEquipment", switch)} == {uplink, downlink}
        assert rows(conn, glpi_networkports_networkports) == []
        assert [r["networkports_id"] for r in rows(conn, glpi_networkportethernets)] == \
            sorted(current.values())


def test_computer_ports_have_the_plugins_types_numbers_and_ethernet_rows(engine):
    with engine.begin() as conn:
        agent = add_agent(conn, device_id="vm-2025-06-01-12-00-00")
        computer = import_computer_inventory(conn, agent, recorded(*REAL_INVENTORY), NOW)
        found = {p["name"]: p for p in ports_of(conn, "Computer", computer)}
        assert {name: (p["instantiation_type"], p["logical_number"]) for name, p in found.items()} == {
            "lo": ("NetworkPortEthernet", 0), "ifb0": ("NetworkPortEthernet", 0),
            "ifb1": ("NetworkPortEthernet", 0), "eth0": ("NetworkPortEthernet", 1)}
        ethernet = {r["networkports_id"]: r for r in rows(conn, glpi_networkportethernets)}
        assert set(ethernet) == {p["id"] for p in found.values()}
        # SPEED -1 (eth0), 0 (ifb*) or none (lo): 0, as the plugin writes it.
        assert {(r["speed"], r["items_devicenetworkcards_id"], r["date_creation"]) for r in ethernet.values()} == \
            {(0, 0, NOW)}
        # Network names carry no name: NULL, as GLPI's.
        assert {n["name"] for n in rows(conn, names)} == {None}

        # Again: nothing rewritten.
        before = (rows(conn, ports), rows(conn, glpi_networkportethernets), rows(conn, names))
        import_computer_inventory(conn, agent, recorded(*REAL_INVENTORY), LATER)
        assert (rows(conn, ports), rows(conn, glpi_networkportethernets), rows(conn, names)) == before


def test_types_speeds_and_a_type_change(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        cards = ("<DESCRIPTION>wlan0</DESCRIPTION><MACADDR>02:00:00:00:00:0a</MACADDR><TYPE>wifi</TYPE>",
                 "<DESCRIPTION>eth1</DESCRIPTION><MACADDR>02:00:00:00:00:0b</MACADDR><TYPE>Ethernet</TYPE>"
                 "<SPEED>1000000000</SPEED>",
                 "<DESCRIPTION>lo</DESCRIPTION><MACADDR>00:00:00:00:00:00</MACADDR><TYPE>loopback</TYPE>"
                 "<VIRTUALDEV>1</VIRTUALDEV>")
        computer = import_computer_inventory(conn, agent, pc(networks(*cards)), NOW)
        found = {p["name"]: p for p in ports_of(conn, "Computer", computer)}
        assert {n: p["instantiation_type"] for n, p in found.items()} == {
            "wlan0": "NetworkPortWifi", "eth1": "NetworkPortEthernet", "lo": "NetworkPortEthernet"}
        ethernet = {r["networkports_id"]: r["speed"] for r in rows(conn, glpi_networkportethernets)}
        # bit/s from an old agent become Mbit/s; the plugin writes no row for a Wi-Fi port.
        assert ethernet == {found["eth1"]["id"]: 1000, found["lo"]["id"]: 0}
        assert rows(conn, glpi_networkportwifis) == []

        # A loopback stored as a Local port (by an earlier bridge) becomes Ethernet: its Local row goes.
        conn.execute(update(ports).where(ports.c.id == found["lo"]["id"])
                     .values(instantiation_type="NetworkPortLocal", logical_number=1))
        conn.execute(glpi_networkportethernets.delete().where(
            glpi_networkportethernets.c.networkports_id == found["lo"]["id"]))
        insert_row(conn, glpi_networkportlocals, networkports_id=found["lo"]["id"])
        import_computer_inventory(conn, agent, pc(networks(*cards)), LATER)
        lo = row(conn, ports, found["lo"]["id"])
        assert (lo["instantiation_type"], lo["logical_number"]) == ("NetworkPortEthernet", 0)
        assert rows(conn, glpi_networkportlocals) == []
        assert found["lo"]["id"] in {r["networkports_id"] for r in rows(conn, glpi_networkportethernets)}


def test_nulls_where_glpi_writes_null(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        computer = import_computer_inventory(conn, agent, pc("<BIOS><SSN></SSN></BIOS>"), NOW)
        assert (row(conn, schema.glpi_computers, computer)["serial"],
                row(conn, schema.glpi_computers, computer)["uuid"]) == (None, None)
        # An unmanaged device without serial, then found to be a printer: its serial stays NULL.
        unmanaged = import_discovered_device(conn, agent, device("<IP>10.9.9.7</IP><MAC>00:11:22:33:44:77</MAC>"),
                                             0, NOW)
        assert unmanaged.itemtype == "PluginFusioninventoryUnmanaged"
        printer = import_discovered_device(conn, agent, device("<IP>10.9.9.7</IP><MAC>00:11:22:33:44:77</MAC>"
                                                               "<TYPE>PRINTER</TYPE>"), 0, LATER)
        assert printer.itemtype == "Printer"
        assert row(conn, schema.glpi_printers, printer.items_id)["serial"] is None
        assert {n["name"] for n in rows(conn, names)} == {None}
        assert conn.execute(select(schema.glpi_computers.c.id).where(schema.glpi_computers.c.serial == "")).first() \
            is None
