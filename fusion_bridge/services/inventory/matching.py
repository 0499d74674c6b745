"""Finding the asset a device is: by serial, MAC or IP, among live (not deleted) assets.

Addresses every machine has, or that repeat from link to link, name no device: loopback
(127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10) and unspecified addresses, and the
all-zero MAC, never match an asset — a snmpd found on 127.0.0.1 is not the agent's own computer,
whose inventory lists 127.0.0.1 too.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.engine import Connection

import schema
from schema.constants import ItemType
from schema.plugin_network import unmanageds

from .names import ASSET_TYPES
from .ports import LOCAL, ipaddresses, networknames, ports
from .values import IP, NULL_MAC, usable_mac

ASSET_TABLES: dict[str, Table] = {
    ItemType.COMPUTER: schema.glpi_computers,
    ItemType.NETWORK_EQUIPMENT: schema.glpi_networkequipments,
    ItemType.PRINTER: schema.glpi_printers,
    ItemType.UNMANAGED: unmanageds,
}

Match = tuple[str, int]


def live(table: Table) -> list:
    """Conditions for an asset GLPI shows: not in the trash, not a template."""
    conditions = [table.c.is_deleted == 0]
    if "is_template" in table.c:
        conditions.append(table.c.is_template == 0)
    return conditions


def asset_row(conn: Connection, itemtype: str, items_id: int, *, for_update: bool = False):
    """The live row of an asset, or None (missing, deleted, template, unknown type)."""
    table = ASSET_TABLES.get(itemtype)
    if table is None or not items_id:
        return None
    query = select(table).where(table.c.id == items_id, *live(table))
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def search_order(preferred: str | None) -> list[str]:
    """Asset types in the order candidates are preferred: the expected type first."""
    order = list(ASSET_TYPES)
    if preferred in order:
        order.remove(preferred)
        order.insert(0, preferred)
    return order


def _pick(conn: Connection, candidates: Iterable[Match], preferred: str | None) -> Match | None:
    order = search_order(preferred)
    ranked = sorted({c for c in candidates if c[0] in order}, key=lambda c: (order.index(c[0]), c[1]))
    for itemtype, items_id in ranked:
        if asset_row(conn, itemtype, items_id) is not None:
            return itemtype, items_id
    return None


def find_by_serial(conn: Connection, serial: str, preferred: str | None = None) -> Match | None:
    for itemtype in search_order(preferred):
        table = ASSET_TABLES[itemtype]
        found = conn.execute(
            select(table.c.id).where(table.c.serial == serial, *live(table)).order_by(table.c.id).limit(1)
        ).scalar()
        if found is not None:
            return itemtype, found
    return None


def identifies(ip: IP) -> bool:
    """Whether ``ip`` can name one device (not loopback, link-local nor unspecified)."""
    address = ipaddress.ip_address(ip.textual)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (address.is_loopback or address.is_link_local or address.is_unspecified)


def find_by_mac(conn: Connection, macs: Iterable[str], preferred: str | None = None) -> Match | None:
    macs = [mac for mac in macs if usable_mac(mac)]
    if not macs:
        return None
    rows = conn.execute(
        select(ports.c.itemtype, ports.c.items_id)
        .where(ports.c.mac.in_(macs), ports.c.itemtype.in_(ASSET_TYPES), ports.c.is_deleted == 0)
    ).all()
    return _pick(conn, ((r.itemtype, r.items_id) for r in rows), preferred)


def find_by_ip(conn: Connection, ips: Iterable[IP], preferred: str | None = None) -> Match | None:
    """An asset holding one of ``ips`` on a port that is not its loopback: a NetworkPortLocal,
    or the port with the all-zero MAC that the plugin makes of ``lo`` (an Ethernet port);
    addresses that identify no device are left out."""
    ips = [ip for ip in ips if identifies(ip)]
    if not ips:
        return None
    address_matches = []
    for ip in ips:
        binary = and_(ipaddresses.c.version == ip.version,
                      *(ipaddresses.c[f"binary_{i}"] == ip.binary[i] for i in range(4)))
        address_matches.append(or_(ipaddresses.c.name == ip.textual, binary))
    rows = conn.execute(
        select(ports.c.itemtype, ports.c.items_id)
        .select_from(ipaddresses)
        .join(networknames, and_(networknames.c.id == ipaddresses.c.items_id,
                                 networknames.c.itemtype == ItemType.NETWORK_PORT))
        .join(ports, ports.c.id == networknames.c.items_id)
        .where(
            ipaddresses.c.itemtype == ItemType.NETWORK_NAME,
            ipaddresses.c.is_deleted == 0,
            networknames.c.is_deleted == 0,
            ports.c.is_deleted == 0,
            ports.c.itemtype.in_(ASSET_TYPES),
            or_(ports.c.instantiation_type.is_(None), ports.c.instantiation_type != LOCAL),
            or_(ports.c.mac.is_(None), ports.c.mac != NULL_MAC),
            or_(*address_matches),
        )
    ).all()
    return _pick(conn, ((r.itemtype, r.items_id) for r in rows), preferred)


def agent_of_computer(conn: Connection, computers_id: int) -> int | None:
    """An agent linked to the computer (its inventory comes from that agent), or None."""
    agents = schema.agents
    return conn.execute(
        select(agents.c.id).where(agents.c.computers_id == computers_id).order_by(agents.c.id).limit(1)
    ).scalar()
