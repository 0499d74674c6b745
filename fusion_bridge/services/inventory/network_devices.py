"""Devices found by network discovery and inventoried over SNMP.

Discovery (``import_discovered_device``): a DEVICE is matched to a live asset by serial, then
MAC, then IP; otherwise it is created as the asset its TYPE names (NetworkEquipment, Printer,
Computer) or as an unmanaged device. SNMP inventory (``update_inventoried_device``): an INFO/PORTS
result refreshes the asset, its plugin extension row and its ports.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

import schema
from protocol import DevicePort, DiscoveredDevice, InventoriedDevice
from schema.constants import ItemType
from schema.plugin_network import networkequipments as pf_networkequipments
from schema.plugin_network import networkports as pf_networkports
from schema.plugin_network import printers as pf_printers
from schema.plugin_network import unmanageds

from . import history
from . import ports as P
from .matching import ASSET_TABLES, agent_of_computer, asset_row, find_by_ip, find_by_mac, find_by_serial
from .names import ImportResult, itemtype_for_discovery_type
from .values import (BIGINT_MAX, changes, fitted, meaningful_serial, normalize_mac, number, parse_ip, parse_ips,
                     usable_mac)

agents = schema.agents

# Names the plugin gives the port that carries a discovered device's own MAC and IP.
MANAGEMENT_PORT = "management"
INTERNAL_PORT = "general"  # created by SNMP inventory when discovery did not make one
INTERNAL_NETWORKNAME = "Internal"

# Extension tables (1:1 by foreign key) of the asset types that have one.
EXTENSIONS = {
    ItemType.NETWORK_EQUIPMENT: (pf_networkequipments, "networkequipments_id"),
    ItemType.PRINTER: (pf_printers, "printers_id"),
}


# --- discovery ------------------------------------------------------------------------------

def discovered_name(device: DiscoveredDevice) -> str | None:
    """SNMPHOSTNAME, else NETBIOSNAME, else DNSHOSTNAME, else the IP."""
    return device.snmp_hostname or device.netbios_name or device.dns_hostname or device.ip


def import_discovered_device(conn: Connection, agent_id: int, device: DiscoveredDevice, entity_id: int,
                             now: datetime) -> ImportResult:
    """Match or create the asset a NETDISCOVERY DEVICE is, and refresh what discovery knows of it.

    Matching (live assets only: Computer, NetworkEquipment, Printer, unmanaged) is by serial,
    then MAC, then IP, preferring the type the DEVICE's TYPE names. Unmatched devices are created
    in ``entity_id``: TYPE NETWORKING -> NetworkEquipment, PRINTER -> Printer, COMPUTER ->
    Computer, anything else -> ``glpi_plugin_fusioninventory_unmanageds``. An unmanaged device
    that now reports an asset TYPE is turned into that asset (its ports move along).

    Writes the asset's name (and serial when known), its discovery port (MAC, IP), and the
    extension row with sysdescr and SNMP credential (AUTHSNMP) for network equipment and
    printers. A computer kept up to date by its own agent is matched but left untouched, as the
    plugin does. ``created`` tells the caller which log line to write
    (``ImportResult.log_comment``).
    """
    # Serialise the devices of one agent: its threads post them concurrently.
    conn.execute(select(agents.c.id).where(agents.c.id == agent_id).with_for_update()).first()

    found = _Discovered(device)
    preferred = found.itemtype or ItemType.UNMANAGED
    return _import(conn, agent_id, found, entity_id, now, discovered_match(conn, device), preferred)


def discovered_match(conn: Connection, device: DiscoveredDevice) -> tuple[str, int] | None:
    """The bridge's own matching of a DEVICE (no rules): a live asset by serial, then MAC, then IP,
    preferring the type the DEVICE's TYPE names."""
    found = _Discovered(device)
    preferred = found.itemtype or ItemType.UNMANAGED
    match = None
    if meaningful_serial(found.serial):
        serial = fitted(schema.glpi_computers, {"serial": found.serial})["serial"]
        match = find_by_serial(conn, serial, preferred)
    if match is None and usable_mac(found.mac):
        match = find_by_mac(conn, [found.mac], preferred)
    if match is None and found.ips:
        match = find_by_ip(conn, found.ips, preferred)
    return match


def import_decided_device(conn: Connection, agent_id: int, device: DiscoveredDevice, entity_id: int,
                          now: datetime, match: tuple[str, int] | None, itemtype: str,
                          locations_id: int | None = None) -> ImportResult:
    """Import a DEVICE as GLPI's import rules decided (services/inventory/rules.py): refresh the
    asset ``match`` links it to, else create an ``itemtype`` in ``entity_id``."""
    conn.execute(select(agents.c.id).where(agents.c.id == agent_id).with_for_update()).first()
    return _import(conn, agent_id, _Discovered(device), entity_id, now, match, itemtype, locations_id)


def _import(conn: Connection, agent_id: int, found: "_Discovered", entity_id: int, now: datetime,
            match: tuple[str, int] | None, itemtype: str, locations_id: int | None = None) -> ImportResult:
    if match is None:
        items_id = create_asset(conn, itemtype, entity_id, now, found.name, found.serial, locations_id)
        created = True
    else:
        itemtype, items_id = match
        created = False
        if itemtype == ItemType.COMPUTER and agent_of_computer(conn, items_id) is not None:
            return ImportResult(itemtype, items_id, False)
        if itemtype == ItemType.UNMANAGED and found.itemtype is not None:
            itemtype, items_id = found.itemtype, _promote(conn, items_id, found.itemtype, now)
            created = True
    _refresh(conn, agent_id, itemtype, items_id, found, now)
    return ImportResult(itemtype, items_id, created)


class _Discovered:
    """What a DEVICE says, parsed once."""

    def __init__(self, device: DiscoveredDevice):
        self.device = device
        self.itemtype = itemtype_for_discovery_type(device.type)
        self.name = discovered_name(device)
        self.serial = device.serial
        self.mac = normalize_mac(device.mac)
        self.ips = parse_ips(device.ips)
        self.ip = parse_ip(device.ip) or (self.ips[0] if self.ips else None)
        self.sysdescr = device.description
        self.credential = number(device.authsnmp) or 0
        self.uptime = device.uptime
        self.contact = device.user_session

    @property
    def port_mac(self) -> str | None:
        return self.mac if usable_mac(self.mac) else None


def create_asset(conn: Connection, itemtype: str, entity_id: int, now: datetime, name: str | None,
                 serial: str | None = None, locations_id: int | None = None) -> int:
    table = ASSET_TABLES[itemtype]
    values = {"entities_id": entity_id, "name": name or "", "date_mod": now}
    if "date_creation" in table.c:
        values["date_creation"] = now
    if serial:
        values["serial"] = serial
    if locations_id is not None and "locations_id" in table.c:
        values["locations_id"] = locations_id
    items_id = conn.execute(insert(table).values(fitted(table, values))).inserted_primary_key[0]
    history.created(conn, itemtype, items_id, now)
    return items_id


def _promote(conn: Connection, unmanaged_id: int, itemtype: str, now: datetime) -> int:
    """Turn an unmanaged device into an asset of ``itemtype``, keeping its ports."""
    old = asset_row(conn, ItemType.UNMANAGED, unmanaged_id, for_update=True)
    table = ASSET_TABLES[itemtype]
    values = {"entities_id": old["entities_id"], "name": old["name"] or "", "serial": old["serial"],
              "date_mod": now, "date_creation": now}
    items_id = conn.execute(insert(table).values(fitted(table, values))).inserted_primary_key[0]
    history.created(conn, itemtype, items_id, now)
    P.move_ports(conn, ItemType.UNMANAGED, unmanaged_id, itemtype, items_id, now)
    conn.execute(delete(unmanageds).where(unmanageds.c.id == unmanaged_id))
    return items_id


def _name_and_serial(name: str | None, serial: str | None) -> dict:
    """The name and serial number a device reported, those it did report."""
    return {key: value for key, value in (("name", name), ("serial", serial)) if value}


def _write_changes(conn: Connection, itemtype: str, items_id: int, row, wanted: dict, now: datetime) -> None:
    """Write the ``wanted`` values (fitted to the columns) that differ from the asset's ``row``,
    with GLPI's history of them."""
    table = ASSET_TABLES[itemtype]
    changed = changes(row, fitted(table, wanted))
    if changed:
        conn.execute(update(table).where(table.c.id == items_id).values(**changed, date_mod=now))
        history.changed(conn, itemtype, items_id, row, changed, now)


def _refresh(conn: Connection, agent_id: int, itemtype: str, items_id: int, found: _Discovered,
             now: datetime) -> None:
    row = asset_row(conn, itemtype, items_id, for_update=True)
    wanted = _name_and_serial(found.name, found.serial)
    if itemtype == ItemType.PRINTER:
        wanted["have_ethernet"] = 1
    if itemtype == ItemType.UNMANAGED:
        wanted["plugin_fusioninventory_agents_id"] = agent_id
        if found.ip is not None:
            wanted["ip"] = found.ip.textual
        if found.sysdescr:
            wanted["sysdescr"] = found.sysdescr
        if found.credential:
            wanted["plugin_fusioninventory_configsecurities_id"] = found.credential
        if found.contact:
            wanted["contact"] = found.contact
    _write_changes(conn, itemtype, items_id, row, wanted, now)
    entity_id = row["entities_id"]

    if itemtype == ItemType.NETWORK_EQUIPMENT:
        port_id = _internal_port(conn, items_id, entity_id, found.port_mac, MANAGEMENT_PORT, now)
        P.sync_port_ips(conn, port_id, found.ips, entity_id=entity_id, mainitemtype=itemtype,
                        mainitems_id=items_id, now=now, keep_others=True)
    else:
        port_id = _discovery_port(conn, itemtype, items_id, entity_id, found.port_mac, now)
        P.sync_port_ips(conn, port_id, [found.ip] if found.ip else [], entity_id=entity_id,
                        mainitemtype=itemtype, mainitems_id=items_id, now=now, keep_others=found.ip is None)

    if itemtype in EXTENSIONS:
        values = {}
        if found.sysdescr:
            values["sysdescr"] = found.sysdescr
        if found.credential:
            values["plugin_fusioninventory_configsecurities_id"] = found.credential
        if found.uptime and itemtype == ItemType.NETWORK_EQUIPMENT:
            values["uptime"] = found.uptime
        _write_extension(conn, itemtype, items_id, values)


def _discovery_port(conn: Connection, itemtype: str, items_id: int, entity_id: int, mac: str | None,
                    now: datetime) -> int:
    """The item's first Ethernet port (MAC refreshed), or a new one named ``management``."""
    port = conn.execute(
        select(P.ports).where(P.ports.c.itemtype == itemtype, P.ports.c.items_id == items_id,
                              P.ports.c.instantiation_type == P.ETHERNET)
        .order_by(P.ports.c.id).limit(1)
    ).mappings().first()
    if port is None:
        return P.add_port(conn, itemtype, items_id, entity_id, now, name=MANAGEMENT_PORT,
                          instantiation_type=P.ETHERNET, mac=mac)
    if mac:
        P.update_port(conn, port, {"mac": mac}, now)
    return port["id"]


def _internal_port(conn: Connection, items_id: int, entity_id: int, mac: str | None, name: str,
                   now: datetime) -> int:
    """A network device's own port: NetworkPortAggregate, logical number 0."""
    itemtype = ItemType.NETWORK_EQUIPMENT
    candidates = conn.execute(
        select(P.ports).where(P.ports.c.itemtype == itemtype, P.ports.c.items_id == items_id)
        .order_by(P.ports.c.id)
    ).mappings().all()
    port = next((p for p in candidates
                 if p["instantiation_type"] == P.AGGREGATE and (p["logical_number"] or 0) == 0), None)
    if port is None:
        # Brought along from an unmanaged device by _promote: make it the management port.
        port = next((p for p in candidates if p["name"] == MANAGEMENT_PORT), None)
        if port is not None:
            P.update_port(conn, port, {"instantiation_type": P.AGGREGATE, "logical_number": 0}, now)
    if port is None:
        return P.add_port(conn, itemtype, items_id, entity_id, now, name=name,
                          instantiation_type=P.AGGREGATE, mac=mac, logical_number=0)
    if mac:
        P.update_port(conn, port, {"mac": mac}, now)
    return port["id"]


def _write_extension(conn: Connection, itemtype: str, items_id: int, values: dict) -> None:
    """Update the asset's plugin extension row with ``values``; create it when missing."""
    table, key = EXTENSIONS[itemtype]
    values = fitted(table, {k: v for k, v in values.items() if v is not None})
    row = conn.execute(select(table).where(table.c[key] == items_id).order_by(table.c.id).limit(1)
                       ).mappings().first()
    if row is None:
        conn.execute(insert(table).values({key: items_id, **values}))
        return
    changed = changes(row, values)
    if changed:
        conn.execute(update(table).where(table.c.id == row["id"]).values(changed))


# --- SNMP inventory -------------------------------------------------------------------------

def snmp_device_has_information(device: InventoriedDevice) -> bool:
    """False when INFO has no sysdescr, name nor serial (the plugin logs "No informations")."""
    info = device.info
    return bool(info.comments or info.name or info.serial)


def update_inventoried_device(conn: Connection, itemtype: str, items_id: int, device: InventoriedDevice,
                              now: datetime, locations_id: int | None = None) -> bool:
    """Refresh an asset from an SNMPQUERY DEVICE (INFO, PORTS); False if it no longer exists
    (missing, deleted, a template, or of a type that is no asset).

    Writes the asset's name and serial (non-empty values only; ``ram`` for network equipment,
    ``memory_size`` for printers), its extension row (sysdescr, uptime, cpu, memory,
    last_fusioninventory_update; created when missing), a network device's internal port
    (NetworkPortAggregate, logical number 0) with INFO's MAC and IPs, and one port per PORT by
    logical number = IFNUMBER (name, MAC, addresses) with its
    ``glpi_plugin_fusioninventory_networkports`` row (if* counters and states, lastup).
    """
    table = ASSET_TABLES.get(itemtype)
    row = asset_row(conn, itemtype, items_id, for_update=True)  # None for unknown types too
    if row is None:
        return False
    info = device.info
    sysdescr = info.comments

    wanted = _name_and_serial(info.name, info.serial)
    if itemtype == ItemType.NETWORK_EQUIPMENT:
        wanted["is_dynamic"] = 1
        if info.ram:
            wanted["ram"] = info.ram
    elif itemtype == ItemType.PRINTER:
        wanted["is_dynamic"] = 1
        wanted["have_ethernet"] = 1
        if info.memory:
            wanted["memory_size"] = info.memory
    elif itemtype == ItemType.UNMANAGED and sysdescr:
        wanted["sysdescr"] = sysdescr
    if locations_id is not None and "locations_id" in table.c:
        wanted["locations_id"] = locations_id  # a location rule's (docs/import-rules.md §5)
    _write_changes(conn, itemtype, items_id, row, wanted, now)
    entity_id = row["entities_id"]

    if itemtype == ItemType.NETWORK_EQUIPMENT:
        _write_extension(conn, itemtype, items_id, {
            "sysdescr": sysdescr,
            "uptime": info.uptime,
            "cpu": number(info.cpu, maximum=100) or 0,
            "memory": number(info.memory),
            "last_fusioninventory_update": now,
        })
    elif itemtype == ItemType.PRINTER:
        _write_extension(conn, itemtype, items_id, {"sysdescr": sysdescr, "last_fusioninventory_update": now})

    internal_id = None
    if itemtype == ItemType.NETWORK_EQUIPMENT:
        mac = normalize_mac(info.mac)
        internal_id = _internal_port(conn, items_id, entity_id, mac if usable_mac(mac) else None,
                                     INTERNAL_PORT, now)
        ips = parse_ips(info.ips)
        if ips:
            P.sync_port_ips(conn, internal_id, ips, entity_id=entity_id, mainitemtype=itemtype,
                            mainitems_id=items_id, now=now, networkname=INTERNAL_NETWORKNAME)

    _inventory_ports(conn, itemtype, items_id, entity_id, device.ports, internal_id, now)
    return True


def _inventory_ports(conn: Connection, itemtype: str, items_id: int, entity_id: int,
                     reported: tuple[DevicePort, ...], internal_id: int | None, now: datetime) -> None:
    existing: dict[int, dict] = {}
    for port in P.ports_of(conn, itemtype, items_id):
        if port["id"] != internal_id and port["logical_number"] is not None:
            existing.setdefault(port["logical_number"], port)
    done: set[int] = set()
    for entry in reported:
        logical = number(entry.ifnumber)
        if logical is None or logical in done:
            continue
        done.add(logical)
        name = entry.ifname or entry.ifdescr
        mac = normalize_mac(entry.mac)
        port = existing.get(logical)
        values = {"name": name}
        if mac:
            values["mac"] = mac
        if port is None:
            kind = P.AGGREGATE if entry.aggregate else P.ETHERNET
            port_id = P.add_port(conn, itemtype, items_id, entity_id, now, name=name, instantiation_type=kind,
                                 mac=mac, logical_number=logical)
            dynamic = True
        else:
            port_id = port["id"]
            P.update_port(conn, port, {k: v for k, v in values.items() if v is not None}, now)
            dynamic = bool(port["is_dynamic"])
        _port_extension(conn, port_id, entry, mac, created=port is None, now=now)
        if dynamic:
            P.sync_port_ips(conn, port_id, parse_ips(entry.ips), entity_id=entity_id,
                            mainitemtype=itemtype, mainitems_id=items_id, now=now)


def _port_extension(conn: Connection, port_id: int, entry: DevicePort, mac: str | None, *, created: bool,
                    now: datetime) -> None:
    table = pf_networkports
    status = entry.ifstatus
    values = {
        "ifdescr": entry.ifdescr or entry.ifname,
        "ifalias": entry.ifalias,
        "ifmtu": number(entry.ifmtu),
        "ifspeed": number(entry.ifspeed, maximum=BIGINT_MAX),
        "ifinternalstatus": entry.ifinternalstatus,
        "ifstatus": status,
        "iflastchange": entry.iflastchange,
        "ifinoctets": number(entry.ifinoctets, maximum=BIGINT_MAX),
        "ifoutoctets": number(entry.ifoutoctets, maximum=BIGINT_MAX),
        "ifinerrors": number(entry.ifinerrors, maximum=BIGINT_MAX),
        "ifouterrors": number(entry.ifouterrors, maximum=BIGINT_MAX),
        "portduplex": entry.ifportduplex,
        "trunk": number(entry.trunk, maximum=1),
        "mac": mac,
    }
    values = fitted(table, {k: v for k, v in values.items() if v is not None})
    row = conn.execute(select(table).where(table.c.networkports_id == port_id).order_by(table.c.id).limit(1)
                       ).mappings().first()
    # lastup: when the port was last seen up.
    if row is None or created or status == "1":
        values["lastup"] = now
    if row is None:
        conn.execute(insert(table).values(networkports_id=port_id, **values))
        return
    changed = changes(row, values)
    if changed:
        conn.execute(update(table).where(table.c.id == row["id"]).values(changed))
