"""Actors of a taskjob resolved to agent ids, as the plugin's ``getAgentsFromActors`` does.

* ``PluginFusioninventoryAgent`` → that agent;
* ``Computer`` → the agents whose ``computers_id`` is the computer;
* ``PluginFusioninventoryDeployGroup`` → the computers of the group: STATIC groups list them in
  ``_deploygroups_staticdatas`` (itemtype ``Computer``); DYNAMIC groups are GLPI search-engine
  queries (PHP-serialized ``fields_array``). Those made of criteria the bridge knows (name,
  entity, location, has an agent: ``domain/group_criteria.py``) are evaluated here, and the
  result written to ``_deploygroups_dynamicdatas.computers_id_cache`` when it changed; for any
  other the bridge reads the result GLPI last wrote to that cache — the same cache the plugin
  itself uses at dispatch, refreshed whenever the group is displayed or used in GLPI;
* ``Group`` (GLPI group) → the computers of the group's users (``glpi_groups_users`` →
  ``glpi_computers.users_id``) plus the computers whose ``groups_id`` is the group.

Actors whose item no longer exists are ignored, as in the plugin. Computer id 0 and user id 0
("none") never match anything.

Dynamic pools (bridge job setting ``pool``, 2.3.0's pseudo agents ".1"/".2"): ``module_pool``
lists every agent allowed to run a module (the agentmodules switch: active = everyone but the
exceptions, inactive = only the exceptions); ``subnet_pool`` the agents with an IPv4 address
(their last contact address, or an address of their computer in GLPI) inside given intervals.
Both are ordered most recently seen first, then by id, so a capped pool is deterministic.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterable, Iterator, Sequence

from bisect import bisect_right

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.domain.ipv4 import ipv4_int
from fusion_bridge.services.agent.settings import ModuleSwitch, module_switches
from fusion_bridge.services.scheduling.dynamic_groups import evaluate_groups
from fusion_bridge.services.scheduling.group_members import computers_of_groups
from schema.constants import METHOD_MODULES, ItemType
from schema.plugin_deploy import deploygroups, deploygroups_dynamicdatas, deploygroups_staticdatas

agents = schema.agents
computers = schema.glpi_computers
groups = schema.glpi_groups
groups_users = schema.glpi_groups_users

# Bound parameters per IN list: well under SQLite's historical limit of 999.
CHUNK = 900


def chunks(values: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def select_in(conn: Connection, columns, key_column, ids: Iterable[int], *where) -> list:
    """Rows of ``select(columns).where(key_column IN ids, *where)``, chunked."""
    ids = sorted(set(ids))
    rows = []
    for part in chunks(ids):
        rows.extend(conn.execute(select(*columns).where(key_column.in_(part), *where)).all())
    return rows


def computers_id_cache(raw: str | None) -> set[int]:
    """Computer ids of a dynamic group's cache: ``{"12":"12",…}`` (also a plain list)."""
    if not raw:
        return set()
    try:
        value = json.loads(raw)
    except ValueError:
        return set()
    items = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
    if not isinstance(items, list):
        return set()
    ids = set()
    for item in items:
        text = str(item).strip()
        if text.isdigit() and int(text) > 0:
            ids.add(int(text))
    return ids


def deploy_group_computers(conn: Connection, group_ids: Iterable[int]) -> set[int]:
    """Computers of existing deploy groups (static list or dynamic cache)."""
    rows = select_in(conn, [deploygroups.c.id, deploygroups.c.type], deploygroups.c.id, group_ids)
    found = {row.id: (row.type or "").upper() for row in rows}
    static = [gid for gid, kind in found.items() if kind == "STATIC"]
    dynamic = [gid for gid, kind in found.items() if kind == "DYNAMIC"]
    result: set[int] = set()
    for row in select_in(conn, [deploygroups_staticdatas.c.items_id],
                         deploygroups_staticdatas.c.plugin_fusioninventory_deploygroups_id, static,
                         deploygroups_staticdatas.c.itemtype == ItemType.COMPUTER):
        if row.items_id > 0:
            result.add(row.items_id)
    rows = select_in(conn, [deploygroups_dynamicdatas.c.id, deploygroups_dynamicdatas.c.fields_array,
                            deploygroups_dynamicdatas.c.computers_id_cache],
                     deploygroups_dynamicdatas.c.plugin_fusioninventory_deploygroups_id, dynamic)
    result |= evaluate_groups(conn, rows, lambda row: computers_id_cache(row.computers_id_cache))
    return result


def glpi_group_computers(conn: Connection, group_ids: Iterable[int]) -> set[int]:
    """Computers of existing GLPI groups: their users' computers and the group's own."""
    existing = [row.id for row in select_in(conn, [groups.c.id], groups.c.id, group_ids)]
    members = select_in(conn, [groups_users.c.users_id], groups_users.c.groups_id, existing)
    users = {row.users_id for row in members if row.users_id > 0}
    result = {row.id for row in select_in(conn, [computers.c.id], computers.c.users_id, users)}
    result |= computers_of_groups(conn, existing)
    return result


def agents_for_actors(conn: Connection, actors: Iterable[tuple[str, int]]) -> set[int]:
    """Agent ids of a job's actors (``parse_item_list(job.actors)``)."""
    by_type: dict[str, set[int]] = defaultdict(set)
    for itemtype, item_id in actors:
        if item_id > 0:
            by_type[itemtype].add(item_id)
    agent_ids = {row.id for row in select_in(conn, [agents.c.id], agents.c.id,
                                             by_type.pop(ItemType.AGENT, ()))}
    computer_ids = {row.id for row in select_in(conn, [computers.c.id], computers.c.id,
                                                by_type.pop(ItemType.COMPUTER, ()))}
    computer_ids |= deploy_group_computers(conn, by_type.pop(ItemType.DEPLOY_GROUP, ()))
    computer_ids |= glpi_group_computers(conn, by_type.pop(ItemType.GROUP, ()))
    computer_ids.discard(0)
    agent_ids |= {row.id for row in select_in(conn, [agents.c.id], agents.c.computers_id, computer_ids)}
    return agent_ids


def _recency_order(rows) -> list[int]:
    """Agent ids of ``(id, last_contact)`` rows, most recently seen first, never-seen last."""
    seen = sorted((r for r in rows if r.last_contact is not None), key=lambda r: (r.last_contact, -r.id),
                  reverse=True)
    never = sorted(r.id for r in rows if r.last_contact is None)
    return [r.id for r in seen] + never


def module_switch(conn: Connection, method: str | None) -> ModuleSwitch | None:
    """The agentmodules row of the job's module (names compare case-insensitively)."""
    module = METHOD_MODULES.get(method or "")
    if module is None:
        return None
    return module_switches(conn).get(module.lower())


def module_pool(conn: Connection, method: str | None) -> list[int]:
    """Every agent allowed to run the method's module, most recently seen first."""
    switch = module_switch(conn, method)
    if switch is None:
        return []
    rows = [r for r in conn.execute(select(agents.c.id, agents.c.last_contact)) if switch.allows(r.id)]
    return _recency_order(rows)


def _merged(intervals: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    lows: list[int] = []
    highs: list[int] = []
    for low, high in sorted(intervals):
        if highs and low <= highs[-1] + 1:
            highs[-1] = max(highs[-1], high)
        else:
            lows.append(low)
            highs.append(high)
    return lows, highs


def subnet_pool(conn: Connection, intervals: Iterable[tuple[int, int]]) -> list[int]:
    """Agents having an IPv4 address inside one of ``intervals`` (inclusive integer bounds):
    their last contact address (``glpi_plugin_fusionbridge_agentaddresses``) or an address of
    their computer in GLPI. Most recently seen first."""
    lows, highs = _merged(intervals)
    if not lows:
        return []

    def inside(text: str | None) -> bool:
        ip = ipv4_int(text)
        if ip is None:
            return False
        at = bisect_right(lows, ip) - 1
        return at >= 0 and ip <= highs[at]

    known = schema.bridge_agentaddresses
    ips = schema.glpi_ipaddresses
    members: set[int] = set()
    for row in conn.execute(select(known.c.plugin_fusioninventory_agents_id, known.c.address)):
        if inside(row.address):
            members.add(row.plugin_fusioninventory_agents_id)
    statement = (
        select(agents.c.id, ips.c.name)
        .select_from(agents.join(ips, and_(ips.c.mainitemtype == ItemType.COMPUTER,
                                           ips.c.mainitems_id == agents.c.computers_id,
                                           ips.c.is_deleted == 0)))
        .where(agents.c.computers_id > 0)
    )
    for row in conn.execute(statement):
        if row.id not in members and inside(row.name):
            members.add(row.id)
    rows = select_in(conn, [agents.c.id, agents.c.last_contact], agents.c.id, members)
    return _recency_order(rows)
