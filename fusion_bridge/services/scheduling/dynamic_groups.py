"""Dynamic deploy groups the bridge evaluates itself (``domain/group_criteria.py``): the
computers matching a group's criterion, and the cache GLPI keeps of them.

The plugin evaluates a dynamic group with GLPI's search engine and writes the result to
``_deploygroups_dynamicdatas.computers_id_cache`` (``{"12":"12",…}``), which it reads back at
dispatch; the bridge cannot run that engine, so it evaluates the criteria it knows with one
query — the computers GLPI's search lists: not in the trash, not templates — and writes the
cache when the result changed, so that GLPI's views and the bridge's dispatch check see the
same computers. A group with other criteria keeps being read from the cache GLPI wrote.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import exists, func, select, update
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.domain.group_criteria import GroupCriterion, parse
from fusion_bridge.domain.text import php_json

computers, agents, entities = schema.glpi_computers, schema.agents, schema.glpi_entities
dynamic = schema.deploygroups_dynamicdatas


def entity_and_descendants(conn: Connection, entity_id: int) -> set[int]:
    """The entity and every entity below it (``glpi_entities.entities_id`` is the parent)."""
    children: dict[int, list[int]] = {}
    for row in conn.execute(select(entities.c.id, entities.c.entities_id)):
        if row.id != row.entities_id:
            children.setdefault(row.entities_id, []).append(row.id)
    found, todo = {entity_id}, [entity_id]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def criterion_computers(conn: Connection, criterion: GroupCriterion) -> set[int]:
    """Ids of the computers matching ``criterion``."""
    query = select(computers.c.id).where(computers.c.is_deleted == 0, computers.c.is_template == 0)
    pattern = criterion.like_pattern()
    if pattern is not None:
        # Lower on both sides: SQLite's LIKE ignores only ASCII case, MariaDB's collation any.
        query = query.where(func.lower(computers.c.name).like(func.lower(pattern), escape="\\"))
    if criterion.entity is not None:
        wanted = (entity_and_descendants(conn, criterion.entity) if criterion.entity_recursive
                  else {criterion.entity})
        query = query.where(computers.c.entities_id.in_(sorted(wanted)))
    if criterion.location is not None:
        query = query.where(computers.c.locations_id == criterion.location)
    if criterion.with_agent:
        query = query.where(exists().where(agents.c.computers_id == computers.c.id))
    return set(conn.execute(query).scalars())


def cache_text(computer_ids: Iterable[int]) -> str:
    """``computers_id_cache`` as the plugin writes it: ``{"12":"12",...}`` (``[]`` when empty)."""
    ids = sorted(set(computer_ids))
    return php_json({str(i): str(i) for i in ids}) if ids else "[]"


def evaluate_groups(conn: Connection, rows, cached, refresh_cache: bool = True) -> set[int]:
    """Computers of dynamic groups' ``dynamicdatas`` rows (``id``, ``fields_array``,
    ``computers_id_cache``): evaluated when the bridge knows the criterion (with
    ``refresh_cache``, the cache written when it changed), else ``cached(row)``."""
    result: set[int] = set()
    for row in rows:
        criterion = parse(row.fields_array)
        if criterion is None:
            result |= cached(row)
            continue
        found = criterion_computers(conn, criterion)
        if refresh_cache and found != cached(row):
            conn.execute(update(dynamic).where(dynamic.c.id == row.id).values(computers_id_cache=cache_text(found)))
        result |= found
    return result
