"""Computer inventory: the agent's computer, its network ports and addresses, the agent link."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.engine import Connection

import schema
from protocol import Inventory
from schema.constants import ItemType
from schema.plugin_agents import inventorycomputercomputers

from . import ports as P
from .matching import asset_row, live
from .values import IP, changes, fitted, meaningful_serial, meaningful_uuid, node, nodes, normalize_mac
from .values import parse_ip, text

computers = schema.glpi_computers
agents = schema.agents

# The CONTENT sections the import reads: the decoder turns only these into data.
SECTIONS_READ = ("HARDWARE", "BIOS", "NETWORKS")

# The agent names itself <hostname>-YYYY-MM-DD-HH-MM-SS.
_DEVICE_ID_DATE = re.compile(r"-\d{4}(?:-\d{2}){5}$")


class MatchLockNeeded(Exception):
    """The import has to find or create a computer by UUID, serial or name: run it again holding
    the named locks of ``computer_match_locks``. Matching then creating is otherwise a race
    between workers and instances (two imports each see no match and both create, or both take
    the same computer); under the locks, concurrent imports give what they give one after the
    other. Only imports that match take them (a first inventory, a replaced computer)."""


def computer_match_locks(inventory: Inventory) -> list[str]:
    """Names of the locks (``adapters.db.named_locks``) of every key the import may match on.

    Keys are folded as the columns' case- and accent-insensitive collation compares them (two
    values it takes as equal must share the lock; a few more sharing one costs nothing); the
    entity is left out (unknown before the agent row is read)."""
    name, serial, uuid = _identity(inventory, None)
    locks = []
    for kind, column, value in (("name", "name", name), ("serial", "serial", serial), ("uuid", "uuid", uuid)):
        if value:
            locks.append(f"computer-{kind}:{_collation_key(fitted(computers, {column: value})[column])}")
    return locks


def _collation_key(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().rstrip(" ")


def _identity(inventory: Inventory, agent_device_id: str | None) -> tuple[str | None, str | None, str | None]:
    content = inventory.content or {}
    hardware = node(content, "HARDWARE")
    name = text(hardware, "NAME") or _name_from_device_id(inventory.device_id or agent_device_id)
    return name, text(node(content, "BIOS"), "SSN"), text(hardware, "UUID")


# Built once: every import reads its agent (building the query costs more CPU than running it).
_AGENT_FOR_IMPORT = (select(agents.c.id, agents.c.entities_id, agents.c.computers_id, agents.c.device_id, agents.c.tag)
                     .where(agents.c.id == bindparam("p_id")).with_for_update())


def import_computer_inventory(conn: Connection, agent_id: int, inventory: Inventory, now: datetime,
                              esx_hosts_expected: bool = False, match_locked: bool = True) -> int:
    """Create or update the agent's computer from an INVENTORY and link the agent to it.

    Writes ``glpi_computers`` (name, serial, uuid, entity, is_dynamic, dates), the computer's
    dynamic ``glpi_networkports`` from NETWORKS with their ``glpi_networknames`` and
    ``glpi_ipaddresses``, ``glpi_plugin_fusioninventory_inventorycomputercomputers``
    (last_fusioninventory_update) and the agent's ``computers_id``, ``entities_id`` and ``tag``.
    Runs inside the caller's transaction; returns the computer id.

    ``esx_hosts_expected``: the agent is running an ESX job, so it also sends, with its own
    DEVICEID, the inventories of the hosts it reads. Then a UUID or serial other than its own
    computer's is another machine: found or created by content, without touching the agent's
    computer or its link. Otherwise a changed identity is the agent's own machine (new board).

    ``match_locked``: whether the caller holds the locks of ``computer_match_locks`` (or needs
    none: SQLite runs one writer at a time); if not, and the import has to match, it raises
    MatchLockNeeded before writing anything.
    """
    agent = conn.execute(_AGENT_FOR_IMPORT, {"p_id": agent_id}).first()
    if agent is None:
        raise LookupError(f"agent {agent_id} does not exist")
    content = inventory.content or {}
    name, serial, uuid = _identity(inventory, agent.device_id)

    linked = asset_row(conn, ItemType.COMPUTER, agent.computers_id, for_update=True)
    foreign = esx_hosts_expected and linked is not None and _another_machine(linked, serial, uuid)
    if linked is not None and not foreign:
        computer = linked
    elif not match_locked:
        raise MatchLockNeeded()
    else:
        computer = _find_computer(conn, agent, None if foreign else name, serial, uuid)
    if computer is None:
        values = fitted(computers, {
            "entities_id": agent.entities_id or 0,
            # NULL where the agent sent nothing, as in GLPI (docs/plugin-semantics.md §7.4).
            "name": name or None,
            "serial": serial or None,
            "uuid": uuid or None,
            "is_dynamic": 1,
            "date_mod": now,
            "date_creation": now,
        })
        computers_id = conn.execute(insert(computers).values(values)).inserted_primary_key[0]
        entity_id = values["entities_id"]
    else:
        computers_id = computer["id"]
        entity_id = computer["entities_id"]
        wanted = {"is_dynamic": 1}
        for column, value in (("name", name), ("serial", serial), ("uuid", uuid)):
            if value:
                wanted[column] = value
        changed = changes(computer, fitted(computers, wanted))
        if changed:
            conn.execute(update(computers).where(computers.c.id == computers_id)
                         .values(**changed, date_mod=now))

    _sync_ports(conn, computers_id, entity_id, content, now)
    _mark_inventoried(conn, computers_id, now)
    if foreign:
        return computers_id
    link = fitted(agents, {"computers_id": computers_id, "entities_id": entity_id, "tag": inventory.tag or ""})
    if any(getattr(agent, key) != value for key, value in link.items()):
        conn.execute(update(agents).where(agents.c.id == agent_id).values(link))
    return computers_id


def _name_from_device_id(device_id: str | None) -> str:
    return _DEVICE_ID_DATE.sub("", device_id or "")


def _another_machine(linked, serial: str | None, uuid: str | None) -> bool:
    if meaningful_uuid(uuid) and meaningful_uuid(linked["uuid"]):
        return linked["uuid"].lower() != uuid.lower()
    if meaningful_serial(serial) and meaningful_serial(linked["serial"]):
        return linked["serial"] != serial
    return False


def _find_computer(conn: Connection, agent, name: str | None, serial: str | None, uuid: str | None):
    """A computer with the same UUID, serial, or (when ``name`` is given) name in the agent's entity.

    The search itself locks nothing: a locking scan would wait for every computer other imports
    are creating (InnoDB locks each row it reads, matching or not); the caller's match locks
    keep other imports from creating or taking a match meanwhile. The row found is then locked.
    """
    candidates = []
    if meaningful_uuid(uuid):
        candidates.append(computers.c.uuid == fitted(computers, {"uuid": uuid})["uuid"])
    if meaningful_serial(serial):
        candidates.append(computers.c.serial == fitted(computers, {"serial": serial})["serial"])
    if name:
        # A computer of the same name that another agent reports is another machine.
        other_agent = select(agents.c.id).where(and_(agents.c.computers_id == computers.c.id,
                                                     agents.c.id != agent.id)).exists()
        candidates.append(and_(computers.c.name == fitted(computers, {"name": name})["name"],
                               computers.c.entities_id == (agent.entities_id or 0), ~other_agent))
    for condition in candidates:
        found = conn.execute(
            select(computers.c.id).where(condition, *live(computers)).order_by(computers.c.id).limit(1)
        ).scalar()
        row = asset_row(conn, ItemType.COMPUTER, found, for_update=True) if found is not None else None
        if row is not None:
            return row
    return None


@dataclass
class _Card:
    name: str
    mac: str
    instantiation_type: str = P.ETHERNET
    logical_number: int = 1
    speed: int = 0
    wwn: str | None = None
    ips: list[IP] = field(default_factory=list)


def _cards(content: dict) -> list[_Card]:
    """NETWORKS entries with a MAC, one per (DESCRIPTION, MAC), with all their addresses; type,
    number and speed as the plugin sets them from the card's first entry (``lo`` is an Ethernet
    port numbered 0, docs/plugin-semantics.md §7.4)."""
    cards: dict[tuple[str, str], _Card] = {}
    for entry in nodes(content, "NETWORKS"):
        mac = normalize_mac(text(entry, "MACADDR"))
        if not mac:
            continue
        description = text(entry, "DESCRIPTION") or ""
        key = (fitted(P.ports, {"name": description})["name"], fitted(P.ports, {"mac": mac})["mac"])
        card = cards.get(key)
        if card is None:
            wwn = text(entry, "WWN")
            card = cards[key] = _Card(*key, P.computer_port_type(text(entry, "TYPE"), mac, wwn),
                                      P.computer_port_number(text(entry, "VIRTUALDEV")),
                                      P.computer_port_speed(text(entry, "SPEED")), wwn)
        for tag in ("IPADDRESS", "IPADDRESS6"):
            ip = parse_ip(text(entry, tag))
            if ip is not None and ip not in card.ips:
                card.ips.append(ip)
    return list(cards.values())


def _sync_ports(conn: Connection, computers_id: int, entity_id: int, content: dict, now: datetime) -> None:
    existing = {(row["name"], row["mac"]): row
                for row in P.ports_of(conn, ItemType.COMPUTER, computers_id, dynamic_only=True)}
    kept: set[int] = set()
    states = P.read_port_states(conn, [row["id"] for row in existing.values()])
    for card in _cards(content):
        instantiation = card.instantiation_type
        row = existing.get((card.name, card.mac))
        previous_type, state = None, None
        if row is None or row["id"] in kept:
            port_id = P.add_port(conn, ItemType.COMPUTER, computers_id, entity_id, now, name=card.name,
                                 instantiation_type=instantiation, mac=card.mac,
                                 logical_number=card.logical_number)
        else:
            port_id, previous_type, state = row["id"], row["instantiation_type"], states[row["id"]]
            P.update_port(conn, row, {"instantiation_type": instantiation, "entities_id": entity_id,
                                      "logical_number": card.logical_number, "is_deleted": 0}, now)
        P.sync_type_row(conn, port_id, instantiation, now, speed=card.speed, wwn=card.wwn,
                        previous_type=previous_type, state=state)
        kept.add(port_id)
        P.sync_port_ips(conn, port_id, card.ips, entity_id=entity_id, mainitemtype=ItemType.COMPUTER,
                        mainitems_id=computers_id, now=now, state=state)
    P.delete_ports(conn, [row["id"] for row in existing.values() if row["id"] not in kept])


def _mark_inventoried(conn: Connection, computers_id: int, now: datetime) -> None:
    """The plugin's per-computer row: GLPI shows the last inventory date from it."""
    table = inventorycomputercomputers
    done = conn.execute(update(table).where(table.c.computers_id == computers_id)
                        .values(last_fusioninventory_update=now)).rowcount
    if not done:
        conn.execute(insert(table).values(computers_id=computers_id, last_fusioninventory_update=now))
