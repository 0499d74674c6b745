"""Network ports of assets and their addresses, as GLPI 9.5 keeps them.

asset -> ``glpi_networkports`` (itemtype/items_id) -> ``glpi_networknames`` (itemtype
'NetworkPort', items_id = port) -> ``glpi_ipaddresses`` (itemtype 'NetworkName', items_id = name,
mainitemtype/mainitems_id = the asset).
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

import schema
from schema.constants import ItemType
from schema.plugin_network import networkports as pf_networkports

from .values import IP, fitted, parse_ip

ports = schema.glpi_networkports
networknames = schema.glpi_networknames
ipaddresses = schema.glpi_ipaddresses

LOCAL = "NetworkPortLocal"
ETHERNET = "NetworkPortEthernet"
AGGREGATE = "NetworkPortAggregate"


# The reads of every inventory import, built once (building them costs more CPU than running them).
_PORTS_OF = select(ports).where(ports.c.itemtype == bindparam("p_itemtype"),
                                ports.c.items_id == bindparam("p_items_id")).order_by(ports.c.id)
_DYNAMIC_PORTS_OF = select(ports).where(ports.c.itemtype == bindparam("p_itemtype"),
                                        ports.c.items_id == bindparam("p_items_id"),
                                        ports.c.is_dynamic == 1).order_by(ports.c.id)
_FIRST_NAME = (select(networknames.c.id, networknames.c.name)
               .where(networknames.c.itemtype == ItemType.NETWORK_PORT,
                      networknames.c.items_id == bindparam("p_port"))
               .order_by(networknames.c.id).limit(1))
_ADDRESSES = (select(ipaddresses.c.id, ipaddresses.c.name, ipaddresses.c.mainitemtype, ipaddresses.c.mainitems_id)
              .where(ipaddresses.c.itemtype == ItemType.NETWORK_NAME,
                     ipaddresses.c.items_id == bindparam("p_name"))
              .order_by(ipaddresses.c.id))


def ports_of(conn: Connection, itemtype: str, items_id: int, *, dynamic_only: bool = False):
    return conn.execute(_DYNAMIC_PORTS_OF if dynamic_only else _PORTS_OF,
                        {"p_itemtype": itemtype, "p_items_id": items_id}).mappings().all()


def add_port(conn: Connection, itemtype: str, items_id: int, entity_id: int, now: datetime, *,
             name: str | None, instantiation_type: str, mac: str | None = None, logical_number: int = 0,
             dynamic: int = 1) -> int:
    values = fitted(ports, {
        "items_id": items_id,
        "itemtype": itemtype,
        "entities_id": entity_id,
        "logical_number": logical_number,
        "name": name,
        "instantiation_type": instantiation_type,
        "mac": mac,
        "is_dynamic": dynamic,
        "date_mod": now,
        "date_creation": now,
    })
    return conn.execute(insert(ports).values(values)).inserted_primary_key[0]


def update_port(conn: Connection, port, values: dict, now: datetime) -> bool:
    """Write the entries of ``values`` that differ from ``port``; True when something changed."""
    values = fitted(ports, values)
    changed = {key: value for key, value in values.items() if port[key] != value}
    if not changed:
        return False
    conn.execute(update(ports).where(ports.c.id == port["id"]).values(**changed, date_mod=now))
    return True


def delete_ports(conn: Connection, port_ids: Sequence[int]) -> None:
    """Purge ports with their names, addresses and plugin extension rows."""
    port_ids = list(port_ids)
    if not port_ids:
        return
    name_ids = select(networknames.c.id).where(
        networknames.c.itemtype == ItemType.NETWORK_PORT, networknames.c.items_id.in_(port_ids))
    conn.execute(delete(ipaddresses).where(
        ipaddresses.c.itemtype == ItemType.NETWORK_NAME, ipaddresses.c.items_id.in_(name_ids)))
    conn.execute(delete(networknames).where(
        networknames.c.itemtype == ItemType.NETWORK_PORT, networknames.c.items_id.in_(port_ids)))
    conn.execute(delete(pf_networkports).where(pf_networkports.c.networkports_id.in_(port_ids)))
    conn.execute(delete(ports).where(ports.c.id.in_(port_ids)))


def sync_port_ips(conn: Connection, port_id: int, ips: Sequence[IP], *, entity_id: int, mainitemtype: str,
                  mainitems_id: int, now: datetime, keep_others: bool = False,
                  networkname: str | None = None, dynamic: int = 1) -> None:
    """Make the port's addresses ``ips`` (its first network name holds them).

    Addresses already there keep their rows. ``keep_others`` only adds (a network device
    discovered on several addresses keeps them all). ``networkname`` sets the name's label.
    """
    name_row = conn.execute(_FIRST_NAME, {"p_port": port_id}).first()
    if name_row is None:
        if not ips:
            return
        name_id = conn.execute(insert(networknames).values(fitted(networknames, {
            "entities_id": entity_id,
            "items_id": port_id,
            "itemtype": ItemType.NETWORK_PORT,
            "name": networkname or "",
            "is_dynamic": dynamic,
            "date_mod": now,
            "date_creation": now,
        }))).inserted_primary_key[0]
    else:
        name_id = name_row.id
        if networkname is not None and name_row.name != networkname:
            conn.execute(update(networknames).where(networknames.c.id == name_id)
                         .values(fitted(networknames, {"name": networkname, "date_mod": now})))

    existing = conn.execute(_ADDRESSES, {"p_name": name_id}).all()
    known: dict[IP, int] = {}
    stale: list[int] = []
    for row in existing:
        ip = parse_ip(row.name)
        if ip is None or ip in known or (ip not in ips and not keep_others):
            stale.append(row.id)
            continue
        known[ip] = row.id
        if (row.mainitemtype, row.mainitems_id) != (mainitemtype, mainitems_id):
            conn.execute(update(ipaddresses).where(ipaddresses.c.id == row.id)
                         .values(mainitemtype=mainitemtype, mainitems_id=mainitems_id))
    if stale:
        conn.execute(delete(ipaddresses).where(ipaddresses.c.id.in_(stale)))
    new = [ip for ip in ips if ip not in known]
    if new:
        conn.execute(insert(ipaddresses), [fitted(ipaddresses, {
            "entities_id": entity_id,
            "items_id": name_id,
            "itemtype": ItemType.NETWORK_NAME,
            **ip.columns(),
            "is_dynamic": dynamic,
            "mainitems_id": mainitems_id,
            "mainitemtype": mainitemtype,
        }) for ip in new])
    if not ips and not known and name_row is not None and not keep_others:
        conn.execute(delete(networknames).where(networknames.c.id == name_id))


def move_ports(conn: Connection, from_type: str, from_id: int, to_type: str, to_id: int,
               now: datetime) -> None:
    """Give an item's ports (and the addresses' main item) to another item."""
    conn.execute(update(ports).where(and_(ports.c.itemtype == from_type, ports.c.items_id == from_id))
                 .values(itemtype=to_type, items_id=to_id, date_mod=now))
    conn.execute(update(ipaddresses)
                 .where(ipaddresses.c.mainitemtype == from_type, ipaddresses.c.mainitems_id == from_id)
                 .values(mainitemtype=to_type, mainitems_id=to_id))
