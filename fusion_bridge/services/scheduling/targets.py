"""Targets of a taskjob: the items that still exist, and IP ranges expanded to SNMP devices.

For ``networkinventory`` the plugin replaces every IP-range target by the network equipment and
printers inside the range that can be queried (``getDevicesOfIPRange``): not deleted, with a
plugin extension row whose SNMP credential is set and exists, an IPv4 address (through
``glpi_networkports`` → ``glpi_networknames`` → ``glpi_ipaddresses``) inside the range, and —
when the range's entity is not -1 — in the range's entity or one of its ancestors. MySQL's
``INET_ATON`` is not portable, so addresses are compared as integers in Python.

glpiinventory made that entity condition a setting of the job, ``restrict_to_task_entity``
(default 1, as before): a job saved with 0 takes the range's devices of every entity
(docs/schema-layouts.md §7). FusionInventory has no such column and always restricts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import Column, Integer, MetaData, SmallInteger, Table, and_, or_, select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.domain.ipv4 import ipv4_int
from fusion_bridge.services.scheduling.actors import deploy_group_computers, select_in
from schema.constants import ItemType, Method
from schema.plugin_agents import credentialips
from schema.plugin_collect import collects
from schema.plugin_deploy import deploygroups, deploypackages
from schema.plugin_network import configsecurities, networkequipments as pf_networkequipments
from schema.plugin_network import printers as pf_printers

log = logging.getLogger(__name__)

ports = schema.glpi_networkports
names = schema.glpi_networknames
addresses = schema.glpi_ipaddresses
ipranges = schema.ipranges

# The one glpiinventory column of a job that FusionInventory's definition (schema.taskjobs) does
# not describe; read only on glpiinventory databases, under its physical table name.
glpiinventory_taskjobs = Table(
    "glpi_plugin_glpiinventory_taskjobs", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("restrict_to_task_entity", SmallInteger, nullable=False),
)


def restricts_to_range_entity(conn: Connection, job_id: int) -> bool:
    """Whether the job's IP ranges give only devices of the range's entity (or its ancestors)."""
    if not layout_of(conn).renames:
        return True
    flag = conn.execute(select(glpiinventory_taskjobs.c.restrict_to_task_entity)
                        .where(glpiinventory_taskjobs.c.id == job_id)).scalar()
    return flag is None or bool(flag)

# Tables of the item types a target can have; assets in GLPI's trash count as gone.
TARGET_TABLES: dict[str, Table] = {
    ItemType.IP_RANGE: ipranges,
    ItemType.NETWORK_EQUIPMENT: schema.glpi_networkequipments,
    ItemType.PRINTER: schema.glpi_printers,
    ItemType.COMPUTER: schema.glpi_computers,
    ItemType.DEPLOY_PACKAGE: deploypackages,
    ItemType.DEPLOY_GROUP: deploygroups,
    ItemType.COLLECT: collects,
    ItemType.CREDENTIAL_IP: credentialips,
}

# SNMP device types: (GLPI table, plugin extension table, its foreign key column name).
SNMP_DEVICES = [
    (ItemType.NETWORK_EQUIPMENT, schema.glpi_networkequipments, pf_networkequipments, "networkequipments_id"),
    (ItemType.PRINTER, schema.glpi_printers, pf_printers, "printers_id"),
]


def existing_targets(conn: Connection, targets: Iterable[tuple[str, int]]) -> set[tuple[str, int]]:
    """The targets whose row exists (and, for assets, is not in the trash).

    Item types the bridge does not know are taken as existing.
    """
    wanted: dict[str, set[int]] = {}
    unknown = set()
    for itemtype, item_id in targets:
        if itemtype in TARGET_TABLES:
            wanted.setdefault(itemtype, set()).add(item_id)
        else:
            unknown.add((itemtype, item_id))
    found = set(unknown)
    for itemtype, ids in wanted.items():
        table = TARGET_TABLES[itemtype]
        where = [table.c.is_deleted == 0] if "is_deleted" in table.c else []
        found |= {(itemtype, row.id) for row in select_in(conn, [table.c.id], table.c.id, ids, *where)}
    return found


@dataclass
class SnmpDevices:
    """The SNMP-queryable devices with their IPv4 addresses, loaded once per preparation."""

    # (itemtype, id) -> (entities_id, [ip as int, ...]) in (itemtype, id) order.
    devices: dict[tuple[str, int], tuple[int, list[int]]] = field(default_factory=dict)
    # entity id -> parent entity id
    parents: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Connection) -> "SnmpDevices":
        result = cls()
        for itemtype, table, extension, key in SNMP_DEVICES:
            credential = extension.c.plugin_fusioninventory_configsecurities_id
            statement = (
                select(table.c.id, table.c.entities_id, addresses.c.name)
                .select_from(
                    table.join(extension, and_(extension.c[key] == table.c.id, credential != 0))
                    .join(configsecurities, configsecurities.c.id == credential)
                    .join(ports, and_(ports.c.itemtype == itemtype, ports.c.items_id == table.c.id,
                                      ports.c.is_deleted == 0,
                                      or_(ports.c.instantiation_type.is_(None),
                                          ports.c.instantiation_type != "NetworkPortLocal")))
                    .join(names, and_(names.c.itemtype == ItemType.NETWORK_PORT,
                                      names.c.items_id == ports.c.id, names.c.is_deleted == 0))
                    .join(addresses, and_(addresses.c.itemtype == ItemType.NETWORK_NAME,
                                          addresses.c.items_id == names.c.id, addresses.c.is_deleted == 0))
                )
                .where(table.c.is_deleted == 0, table.c.is_template == 0)
                .order_by(table.c.id)
            )
            for row in conn.execute(statement):
                ip = ipv4_int(row.name)
                if ip is None:
                    continue
                entity, ips = result.devices.setdefault((itemtype, row.id), (row.entities_id, []))
                ips.append(ip)
        entities = schema.glpi_entities
        result.parents = {row.id: row.entities_id
                          for row in conn.execute(select(entities.c.id, entities.c.entities_id))}
        return result

    def entity_and_ancestors(self, entity_id: int) -> set[int]:
        seen = {entity_id}
        current = entity_id
        while current in self.parents:
            parent = self.parents[current]
            if parent is None or parent < 0 or parent in seen:
                break
            seen.add(parent)
            current = parent
        return seen

    def in_range(self, start: str | None, end: str | None, entity_id: int,
                 restrict_entity: bool = True) -> list[tuple[str, int]]:
        low, high = ipv4_int(start), ipv4_int(end)
        if low is None or high is None:
            log.warning("IP range %s-%s is not a valid IPv4 range: no device selected", start, end)
            return []
        entities = None if entity_id == -1 or not restrict_entity else self.entity_and_ancestors(entity_id)
        return [
            item for item, (entity, ips) in self.devices.items()
            if (entities is None or entity in entities) and any(low <= ip <= high for ip in ips)
        ]


class TargetResolver:
    """Resolves job targets inside one transaction; caches what several jobs share."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._devices: SnmpDevices | None = None
        self._ranges: dict[tuple[int, bool], list[tuple[str, int]]] = {}

    def devices_of_ip_range(self, range_id: int, restrict_entity: bool = True) -> list[tuple[str, int]]:
        key = (range_id, restrict_entity)
        if key not in self._ranges:
            row = self.conn.execute(select(ipranges).where(ipranges.c.id == range_id)).first()
            if row is None:
                self._ranges[key] = []
            else:
                if self._devices is None:
                    self._devices = SnmpDevices.load(self.conn)
                self._ranges[key] = self._devices.in_range(row.ip_start, row.ip_end, row.entities_id,
                                                           restrict_entity)
        return self._ranges[key]

    def computers_of_deploy_group(self, group_id: int) -> list[tuple[str, int]]:
        """The group's computers that exist and are not in the trash, by id."""
        computers = {(ItemType.COMPUTER, computer) for computer in deploy_group_computers(self.conn, [group_id])}
        return sorted(existing_targets(self.conn, computers))

    def resolve(self, method: str | None, targets: list[tuple[str, int]], job_id: int) -> list[tuple[str, int]]:
        """The job's targets in order, without duplicates; gone items left out; for
        ``networkinventory`` IP ranges replaced by their devices (appended, as the plugin;
        restricted by entity unless the job, ``job_id``, says otherwise); for ``wakeonlan`` deploy
        groups replaced, in place, by their computers — the plugin looks a group's id up as a
        computer's, so a run per computer is what a group target means."""
        present = existing_targets(self.conn, targets)
        kept: list[tuple[str, int]] = []
        expanded: list[tuple[str, int]] = []
        restrict: bool | None = None
        for target in targets:
            if target not in present:
                continue
            if method == Method.NETWORK_INVENTORY and target[0] == ItemType.IP_RANGE:
                if restrict is None:
                    restrict = restricts_to_range_entity(self.conn, job_id)
                expanded.extend(self.devices_of_ip_range(target[1], restrict))
            elif method == Method.WAKEONLAN and target[0] == ItemType.DEPLOY_GROUP:
                kept.extend(self.computers_of_deploy_group(target[1]))
            else:
                kept.append(target)
        return list(dict.fromkeys(kept + expanded))


SUBNET_MASK = 0xFFFFFF00  # the bridge does not know the real netmasks: a subnet is a /24
ASSET_TYPES = (ItemType.COMPUTER, ItemType.NETWORK_EQUIPMENT, ItemType.PRINTER)


def _slash24(ip: int) -> tuple[int, int]:
    return ip & SUBNET_MASK, (ip & SUBNET_MASK) | 0xFF


def range_bounds(conn: Connection, range_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """IP range id -> (first, last) address as integers; invalid ranges left out."""
    found = {}
    for row in select_in(conn, [ipranges.c.id, ipranges.c.ip_start, ipranges.c.ip_end], ipranges.c.id, range_ids):
        low, high = ipv4_int(row.ip_start), ipv4_int(row.ip_end)
        if low is None or high is None or high < low:
            log.warning("IP range %s (%s-%s) is not a valid IPv4 range", row.id, row.ip_start, row.ip_end)
            continue
        found[row.id] = (low, high)
    return found


def target_networks(conn: Connection, targets: Iterable[tuple[str, int]]) -> list[tuple[int, int]]:
    """The address intervals "in the same subnet" as the targets, for a subnet pool: an IP
    range itself widened to the /24s it touches; the /24 of every IPv4 address of a computer,
    network device or printer (GLPI's ``glpi_ipaddresses`` of the asset)."""
    by_type: dict[str, set[int]] = {}
    for itemtype, item_id in targets:
        by_type.setdefault(itemtype, set()).add(item_id)
    intervals = []
    for low, high in range_bounds(conn, by_type.pop(ItemType.IP_RANGE, ())).values():
        intervals.append((low & SUBNET_MASK, high | 0xFF))
    for itemtype in ASSET_TYPES:
        ids = by_type.get(itemtype)
        if not ids:
            continue
        rows = select_in(conn, [addresses.c.name], addresses.c.mainitems_id, ids,
                         addresses.c.mainitemtype == itemtype, addresses.c.is_deleted == 0)
        intervals.extend(_slash24(ip) for ip in (ipv4_int(row.name) for row in rows) if ip is not None)
    return intervals
