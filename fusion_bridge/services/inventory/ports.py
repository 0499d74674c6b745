"""Network ports of assets and their addresses, as GLPI 9.5 keeps them.

asset -> ``glpi_networkports`` (itemtype/items_id) -> ``glpi_networknames`` (itemtype
'NetworkPort', items_id = port) -> ``glpi_ipaddresses`` (itemtype 'NetworkName', items_id = name,
mainitemtype/mainitems_id = the asset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.adapters.db_layout import layout_of
from schema.constants import ItemType
from schema.glpi_core_ports import TYPE_TABLES, glpi_networkports_networkports, glpi_networkports_vlans
from schema.plugin_network import networkports as pf_networkports

from . import history
from .values import IP, fitted, parse_ip

ports = schema.glpi_networkports
networknames = schema.glpi_networknames
ipaddresses = schema.glpi_ipaddresses

LOCAL = "NetworkPortLocal"
ETHERNET = "NetworkPortEthernet"
AGGREGATE = "NetworkPortAggregate"
IP_ADDRESS = "IPAddress"
WIFI = "NetworkPortWifi"
FIBERCHANNEL = "NetworkPortFiberchannel"
# The types whose row (speed, WWN) the plugin writes for a computer's ports.
TYPES_WITH_ROW = (ETHERNET, FIBERCHANNEL)


def computer_port_type(agent_type: str | None, mac: str | None, wwn: str | None = None) -> str:
    """The ``instantiation_type`` the plugin gives a NETWORKS entry (docs/plugin-semantics.md §7.4):
    ``TYPE`` exactly ``Ethernet``, ``wifi``/``IEEE``, ``fibrechannel``/``fiberchannel`` (or a WWN),
    else Ethernet when it has a MAC — the loopback's all-zero MAC included — else Local."""
    if agent_type == "Ethernet":
        return ETHERNET
    if agent_type in ("wifi", "IEEE"):
        return WIFI
    if agent_type in ("fibrechannel", "fiberchannel") or wwn:
        return FIBERCHANNEL
    return ETHERNET if mac else LOCAL


def computer_port_speed(speed: str | None) -> int:
    """Mbit/s as the plugin stores it: digits only (else 0); older agents sent bit/s, so more
    than 100000 is divided by 10^6."""
    value = (speed or "").strip()
    if not value.isascii() or not value.isdigit():
        return 0
    number = int(value)
    return min(number // 1_000_000 if number > 100_000 else number, 2**31 - 1)


def computer_port_number(virtualdev: str | None) -> int:
    """The plugin's ``logical_number`` of a computer port: 0 for a virtual device, else 1."""
    return 0 if (virtualdev or "").strip() == "1" else 1


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


# What sync_type_row and sync_port_ips read of a port, for all the ports of an asset at once
# (``read_port_states``): three statements per import instead of three per port.
_NAMES_OF_PORTS = (select(networknames.c.id, networknames.c.name, networknames.c.items_id)
                   .where(networknames.c.itemtype == ItemType.NETWORK_PORT,
                          networknames.c.items_id.in_(bindparam("p_ports", expanding=True)))
                   .order_by(networknames.c.id))
_ADDRESSES_OF_NAMES = (select(ipaddresses.c.id, ipaddresses.c.name, ipaddresses.c.mainitemtype,
                              ipaddresses.c.mainitems_id, ipaddresses.c.items_id)
                       .where(ipaddresses.c.itemtype == ItemType.NETWORK_NAME,
                              ipaddresses.c.items_id.in_(bindparam("p_names", expanding=True)))
                       .order_by(ipaddresses.c.id))


@dataclass
class PortState:
    """A port's rows as read before an import changes them."""

    type_rows: dict  # instantiation type -> its row (id, speed[, wwn]) for the types that keep one
    name: Any = None  # its first network name (id, name), or None
    addresses: list = field(default_factory=list)  # that name's addresses (id, name, mainitemtype, mainitems_id)


def read_port_states(conn: Connection, port_ids: Sequence[int]) -> dict[int, PortState]:
    """The state of each of ``port_ids`` in one statement per table (type rows, names, addresses)."""
    port_ids = list(port_ids)
    states = {port_id: PortState({}) for port_id in port_ids}
    if not port_ids:
        return states
    for kind in TYPES_WITH_ROW:
        for row in conn.execute(_TYPE_ROWS_OF[kind], {"p_ports": port_ids}).mappings():
            states[row["networkports_id"]].type_rows.setdefault(kind, row)
    by_name = {}
    for row in conn.execute(_NAMES_OF_PORTS, {"p_ports": port_ids}):
        state = states[row.items_id]
        if state.name is None:
            state.name = row
            by_name[row.id] = state
    if by_name:
        for row in conn.execute(_ADDRESSES_OF_NAMES, {"p_names": list(by_name)}):
            by_name[row.items_id].addresses.append(row)
    return states


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
    port_id = conn.execute(insert(ports).values(values)).inserted_primary_key[0]
    history.child_created(conn, ItemType.NETWORK_PORT, port_id, values["name"], itemtype, items_id, now)
    return port_id


def update_port(conn: Connection, port, values: dict, now: datetime) -> bool:
    """Write the entries of ``values`` that differ from ``port``; True when something changed."""
    values = fitted(ports, values)
    changed = {key: value for key, value in values.items() if port[key] != value}
    if not changed:
        return False
    conn.execute(update(ports).where(ports.c.id == port["id"]).values(**changed, date_mod=now))
    history.changed(conn, ItemType.NETWORK_PORT, port["id"], port, changed, now)
    history.subitem(conn, port["itemtype"], port["items_id"], ItemType.NETWORK_PORT,
                    history.name_id(changed.get("name", port["name"]), port["id"]), history.UPDATE_SUBITEM, now)
    return True


def delete_ports(conn: Connection, port_ids: Sequence[int]) -> None:
    """Purge ports as GLPI does (docs/schema.md §9.1): with their type row (whatever table it
    is in), their cables to other ports, their VLANs, their names and addresses, and the
    plugin's extension row."""
    port_ids = list(port_ids)
    if not port_ids:
        return
    name_ids = select(networknames.c.id).where(
        networknames.c.itemtype == ItemType.NETWORK_PORT, networknames.c.items_id.in_(port_ids))
    _log_ports_purged(conn, port_ids, name_ids)
    conn.execute(delete(ipaddresses).where(
        ipaddresses.c.itemtype == ItemType.NETWORK_NAME, ipaddresses.c.items_id.in_(name_ids)))
    conn.execute(delete(networknames).where(
        networknames.c.itemtype == ItemType.NETWORK_PORT, networknames.c.items_id.in_(port_ids)))
    # Every type table, not only the one instantiation_type names: a row left by an earlier
    # type (or by another writer) would block a later port with the same id there.
    for table in TYPE_TABLES.values():
        conn.execute(delete(table).where(table.c.networkports_id.in_(port_ids)))
    cables = glpi_networkports_networkports
    conn.execute(delete(cables).where(cables.c.networkports_id_1.in_(port_ids)))
    conn.execute(delete(cables).where(cables.c.networkports_id_2.in_(port_ids)))
    conn.execute(delete(glpi_networkports_vlans).where(glpi_networkports_vlans.c.networkports_id.in_(port_ids)))
    if layout_of(conn).merged_into(pf_networkports.name) is None:
        # Else the extension is the port row itself (docs/schema-layouts.md §4), deleted next.
        conn.execute(delete(pf_networkports).where(pf_networkports.c.networkports_id.in_(port_ids)))
    conn.execute(delete(ports).where(ports.c.id.in_(port_ids)))


def _log_ports_purged(conn: Connection, port_ids: list[int], name_ids) -> None:
    """History of purged ports: a "delete a sub-item" row in their asset's, their own and their
    network names' rows gone (docs/history.md §2)."""
    now = datetime.now().replace(microsecond=0)
    purged = conn.execute(select(ports.c.id, ports.c.name, ports.c.itemtype, ports.c.items_id)
                          .where(ports.c.id.in_(port_ids))).mappings().all()
    history.children_purged(conn, ItemType.NETWORK_PORT, purged, "itemtype", "items_id", now)
    conn.execute(delete(history.glpi_logs).where(history.glpi_logs.c.itemtype == ItemType.NETWORK_NAME,
                                                 history.glpi_logs.c.items_id.in_(name_ids)))


# A port's type rows, by type table: built once (sync_type_row runs for every port of every import).
# Only the columns compared (a whole row costs a field description per column to read).
def _type_row_columns(table):
    return [table.c[name] for name in ("id", "speed", "wwn") if name in table.c]


_TYPE_ROW = {kind: select(*_type_row_columns(table)).where(table.c.networkports_id == bindparam("p_port")).limit(1)
             for kind, table in TYPE_TABLES.items()}
_TYPE_ROWS_OF = {kind: select(*_type_row_columns(table), table.c.networkports_id)
                 .where(table.c.networkports_id.in_(bindparam("p_ports", expanding=True))).order_by(table.c.id)
                 for kind, table in TYPE_TABLES.items()}
_DELETE_TYPE_ROWS = {kind: delete(table).where(table.c.networkports_id == bindparam("p_port"))
                     for kind, table in TYPE_TABLES.items()}


def sync_type_row(conn: Connection, port_id: int, instantiation_type: str, now: datetime, *,
                  speed: int = 0, wwn: str | None = None, previous_type: str | None = None,
                  state: PortState | None = None) -> None:
    """The port's type row as the plugin keeps it for a computer's port: an Ethernet or Fibre
    Channel row with the agent's speed (and WWN), none for the other types; rows of other
    types go (GLPI's ``switchInstantiationType``) when the type changed or the port is new
    (``previous_type`` None). A port that keeps its type has no rows of other types to clear:
    skipping those six DELETEs per port is a third of an import's statements. ``state``: the
    port's rows read beforehand (``read_port_states``), else read here."""
    if previous_type != instantiation_type:
        for kind, statement in _DELETE_TYPE_ROWS.items():
            if kind != instantiation_type:
                conn.execute(statement, {"p_port": port_id})
    if instantiation_type not in TYPES_WITH_ROW:
        return
    table = TYPE_TABLES[instantiation_type]
    wanted = {"speed": speed}
    if instantiation_type == FIBERCHANNEL and wwn:
        wanted["wwn"] = wwn
    wanted = fitted(table, wanted)
    if state is not None and previous_type == instantiation_type:
        current = state.type_rows.get(instantiation_type)
    else:
        current = conn.execute(_TYPE_ROW[instantiation_type], {"p_port": port_id}).mappings().first()
    if current is None:
        conn.execute(insert(table).values(networkports_id=port_id, date_mod=now, date_creation=now, **wanted))
        return
    changed = {key: value for key, value in wanted.items() if current[key] != value}
    if changed:
        conn.execute(update(table).where(table.c.id == current["id"]).values(**changed, date_mod=now))


def sync_port_ips(conn: Connection, port_id: int, ips: Sequence[IP], *, entity_id: int, mainitemtype: str,
                  mainitems_id: int, now: datetime, keep_others: bool = False,
                  networkname: str | None = None, dynamic: int = 1, state: PortState | None = None) -> None:
    """Make the port's addresses ``ips`` (its first network name holds them).

    Addresses already there keep their rows. ``keep_others`` only adds (a network device
    discovered on several addresses keeps them all). ``networkname`` sets the name's label.
    ``state``: the port's rows read beforehand (``read_port_states``), else read here.
    """
    name_row = state.name if state is not None else conn.execute(_FIRST_NAME, {"p_port": port_id}).first()
    if name_row is None:
        if not ips:
            return
        name_id = conn.execute(insert(networknames).values(fitted(networknames, {
            "entities_id": entity_id,
            "items_id": port_id,
            "itemtype": ItemType.NETWORK_PORT,
            "name": networkname or None,  # the plugin writes no name: NULL
            "is_dynamic": dynamic,
            "date_mod": now,
            "date_creation": now,
        }))).inserted_primary_key[0]
        history.child_created(conn, ItemType.NETWORK_NAME, name_id, networkname, ItemType.NETWORK_PORT, port_id, now)
    else:
        name_id = name_row.id
        if networkname is not None and name_row.name != networkname:
            conn.execute(update(networknames).where(networknames.c.id == name_id)
                         .values(fitted(networknames, {"name": networkname, "date_mod": now})))
            history.changed(conn, ItemType.NETWORK_NAME, name_id, {"name": name_row.name}, {"name": networkname}, now)

    if state is not None and name_row is not None:
        existing = state.addresses
    else:
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
        for row in existing:
            if row.id in stale:
                history.subitem(conn, ItemType.NETWORK_NAME, name_id, IP_ADDRESS, history.name_id(row.name, row.id),
                                history.DELETE_SUBITEM, now)
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
        added = conn.execute(select(ipaddresses.c.id, ipaddresses.c.name).where(
            ipaddresses.c.itemtype == ItemType.NETWORK_NAME, ipaddresses.c.items_id == name_id,
            ipaddresses.c.name.in_([ip.textual for ip in new])).order_by(ipaddresses.c.id))
        for row in added:
            history.child_created(conn, IP_ADDRESS, row.id, row.name, ItemType.NETWORK_NAME, name_id, now,
                                  own_history=False)
    if not ips and not known and name_row is not None and not keep_others:
        history.children_purged(conn, ItemType.NETWORK_NAME, [{"id": name_id, "name": name_row.name,
                                "itemtype": ItemType.NETWORK_PORT, "items_id": port_id}], "itemtype", "items_id", now)
        conn.execute(delete(networknames).where(networknames.c.id == name_id))


def move_ports(conn: Connection, from_type: str, from_id: int, to_type: str, to_id: int,
               now: datetime) -> None:
    """Give an item's ports (and the addresses' main item) to another item."""
    conn.execute(update(ports).where(and_(ports.c.itemtype == from_type, ports.c.items_id == from_id))
                 .values(itemtype=to_type, items_id=to_id, date_mod=now))
    conn.execute(update(ipaddresses)
                 .where(ipaddresses.c.mainitemtype == from_type, ipaddresses.c.mainitems_id == from_id)
                 .values(mainitemtype=to_type, mainitems_id=to_id))
