"""Deploy groups (``glpi_plugin_fusioninventory_deploygroups``; docs/schema.md §6): computers
that Deploy and Collect actions take as actors, and Wake-on-LAN as targets.

A STATIC group lists its computers (``_deploygroups_staticdatas``, itemtype ``Computer``). A
DYNAMIC group is, in GLPI, a saved search that only GLPI's search engine runs; the bridge's
dynamic groups are a criterion it evaluates itself (``domain/group_criteria.py``: name, entity,
location, has an agent), stored in GLPI's form in ``_deploygroups_dynamicdatas.fields_array``
so that GLPI's UI shows the group and its criteria, with the computers it matches written to
``computers_id_cache`` (at every change here, and whenever the scheduler evaluates the group).
Dynamic groups saved in GLPI's UI with other criteria are shown and used through the cache
GLPI wrote; changing their criterion here replaces GLPI's.

A group is deleted with its data (as the plugin's purge does), and not while an action uses
it. Each public function runs in one transaction of its own.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.domain.group_criteria import CriterionError, GroupCriterion, parse
from fusion_bridge.services.admin.base import (
    CHUNK,
    DefinitionError,
    flag,
    glpi_text,
    item_names,
    positive_id,
    refuse_if_used,
    row_by_id,
    ui_text,
    user_fields,
)
from fusion_bridge.services.runs import parse_item_list
from fusion_bridge.services.scheduling.actors import computers_id_cache
from fusion_bridge.services.scheduling.dynamic_groups import cache_text, criterion_computers, evaluate_groups
from schema.constants import ItemType

log = logging.getLogger("fusion_bridge.definitions")

groups = schema.deploygroups
static = schema.deploygroups_staticdatas
dynamic = schema.deploygroups_dynamicdatas
jobs = schema.taskjobs
TYPES = ("STATIC", "DYNAMIC")
SHOWN_COMPUTERS = 1000

# User-facing names (the CLI's options) → the code's. The criterion's fields: ``computer_name``
# (GLPI's "contains" text), ``entity``, ``entity_recursive``, ``location``, ``with_agent``.
GROUP_NAMES = {"name": "name", "type": "type", "comment": "comment", "computers": "computers",
               "computer_name": "computer_name", "entity": "entity", "entity_recursive": "entity_recursive",
               "location": "location", "with_agent": "with_agent"}
GROUP_ALIASES = {"computer": "computers"}
CRITERION_FIELDS = ("computer_name", "entity", "entity_recursive", "location", "with_agent")


def _criterion(given: Mapping[str, Any], current: GroupCriterion | None) -> GroupCriterion:
    """The criterion after ``given`` (its fields by user-facing names) over ``current``."""
    values = current.as_dict() if current is not None else {}
    values = {"name": values.get("name"), "entity": values.get("entity"),
              "entity_recursive": values.get("entity_recursive", False), "location": values.get("location"),
              "with_agent": values.get("with_agent", False)}
    if "computer_name" in given:
        text = given["computer_name"]
        if text is not None and not isinstance(text, str):
            raise DefinitionError("computer_name must be text")
        values["name"] = text if text and text.strip() else None
    for field in ("entity", "location"):
        if field in given:
            value = given[field]
            values[field] = None if value in (None, "") else positive_id(value, field, allow_zero=field == "entity")
    for field in ("entity_recursive", "with_agent"):
        if field in given:
            values[field] = bool(flag(given[field], field))
    if values["entity"] is None and "entity_recursive" not in given:
        values["entity_recursive"] = False  # cleared with its entity
    try:
        return GroupCriterion(**values)
    except CriterionError as error:
        raise DefinitionError(str(error)) from None


def _computer_ids(conn: Connection, values: Any) -> list[int]:
    if values is None:
        return []
    if isinstance(values, (str, int)):
        values = [values]
    ids: list[int] = []
    for value in values:
        computer_id = positive_id(value, "computer id")
        if computer_id not in ids:
            ids.append(computer_id)
    found = item_names(conn, [(ItemType.COMPUTER, i) for i in ids], with_flags=True)
    for computer_id in ids:
        if (ItemType.COMPUTER, computer_id) not in found:
            raise DefinitionError(f"computer {computer_id} does not exist")
        if found[(ItemType.COMPUTER, computer_id)][1]:
            raise DefinitionError(f"computer {computer_id} is in the trash")
    return ids


def _group_row(conn: Connection, group_id: Any, lock: bool = False):
    return row_by_id(conn, groups, group_id, "deploy group", lock=lock)


def _dynamic_row(conn: Connection, group_id: int):
    return conn.execute(select(dynamic).where(dynamic.c.plugin_fusioninventory_deploygroups_id == group_id)
                        .order_by(dynamic.c.id).limit(1)).first()


def _members(conn: Connection, row) -> tuple[set[int], dict | None, str]:
    """(computer ids, criterion as a dict or None, who evaluated them) of a group, read only."""
    if (row.type or "").upper() == "STATIC":
        ids = set(conn.execute(select(static.c.items_id).where(
            static.c.plugin_fusioninventory_deploygroups_id == row.id,
            static.c.itemtype == ItemType.COMPUTER, static.c.items_id > 0)).scalars())
        return ids, None, "static list"
    data = _dynamic_row(conn, row.id)
    if data is None:
        return set(), None, "no criterion"
    criterion = parse(data.fields_array)
    ids = evaluate_groups(conn, [data], lambda r: computers_id_cache(r.computers_id_cache), refresh_cache=False)
    if criterion is None:
        return ids, None, "GLPI's criteria (computers GLPI last cached)"
    return ids, {"computer_name": criterion.name, "entity": criterion.entity,
                 "entity_recursive": criterion.entity_recursive, "location": criterion.location,
                 "with_agent": criterion.with_agent}, "the bridge"


def _group_dict(conn: Connection, row, with_computers: bool = True) -> dict:
    ids, criterion, evaluated_by = _members(conn, row)
    result = {"id": row.id, "name": ui_text(row.name), "type": row.type, "comment": ui_text(row.comment),
              "criterion": criterion, "evaluated_by": evaluated_by, "computer_count": len(ids)}
    if with_computers:
        shown = sorted(ids)[:SHOWN_COMPUTERS]
        names = item_names(conn, [(ItemType.COMPUTER, i) for i in shown])
        result["computers"] = [{"id": i, "name": names.get((ItemType.COMPUTER, i))} for i in shown]
    return result


def _write_static(conn: Connection, group_id: int, computer_ids: Iterable[int]) -> None:
    rows = [{"plugin_fusioninventory_deploygroups_id": group_id, "itemtype": ItemType.COMPUTER, "items_id": i}
            for i in computer_ids]
    if rows:
        conn.execute(insert(static), rows)


def _write_dynamic(conn: Connection, group_id: int, criterion: GroupCriterion) -> None:
    values = {"fields_array": criterion.fields_array(),
              "computers_id_cache": cache_text(criterion_computers(conn, criterion))}
    existing = _dynamic_row(conn, group_id)
    if existing is None:
        conn.execute(insert(dynamic).values(plugin_fusioninventory_deploygroups_id=group_id, can_update_group=0,
                                            **values))
    else:
        conn.execute(update(dynamic).where(dynamic.c.id == existing.id).values(values))


def create_group(engine: Engine, name: Any, kind: Any, *, comment: Any = None, computers: Any = None,
                 **criterion_given: Any) -> dict:
    """A static group (``computers``) or a dynamic one (criterion fields)."""
    kind = str(kind or "").strip().upper()
    if kind not in TYPES:
        raise DefinitionError(f"type must be static or dynamic, got {kind.lower() or None!r}")
    unknown = sorted(set(criterion_given) - set(CRITERION_FIELDS))
    if unknown:
        raise TypeError(f"unexpected argument(s): {', '.join(unknown)}")
    given_criterion = {k: v for k, v in criterion_given.items() if v is not None and v is not False}
    if kind == "STATIC" and given_criterion:
        raise DefinitionError(f"{', '.join(sorted(given_criterion))}: only for a dynamic group")
    if kind == "DYNAMIC" and computers:
        raise DefinitionError("computers: only for a static group (a dynamic group holds what its criterion "
                              "matches)")
    values = {"name": glpi_text(name, "deploy group name", required=True),
              "comment": glpi_text(comment, "comment", max_chars=65535), "type": kind}
    criterion = _criterion(given_criterion, None) if kind == "DYNAMIC" else None
    with engine.begin() as conn:
        computer_ids = _computer_ids(conn, computers)
        group_id = conn.execute(insert(groups).values(values)).inserted_primary_key[0]
        if criterion is not None:
            _write_dynamic(conn, group_id, criterion)
        else:
            _write_static(conn, group_id, computer_ids)
        created = _group_dict(conn, _group_row(conn, group_id))
    log.info("deploy group %d %r (%s) created", group_id, values["name"], kind)
    return created


def create_group_from(engine: Engine, given: Mapping[str, Any]) -> dict:
    values = user_fields(given, GROUP_NAMES, "deploy group", GROUP_ALIASES)
    return create_group(engine, values.pop("name", None), values.pop("type", None), **values)


def list_groups(engine: Engine, *, limit: int = 1000) -> list[dict]:
    """Groups by id, each with its number of computers."""
    with engine.connect() as conn:
        return [_group_dict(conn, row, with_computers=False)
                for row in conn.execute(select(groups).order_by(groups.c.id).limit(limit)).all()]


def get_group(engine: Engine, group_id: Any) -> dict:
    """The group with its criterion and its computers (the first 1000)."""
    with engine.connect() as conn:
        return _group_dict(conn, _group_row(conn, group_id))


def update_group(engine: Engine, group_id: Any, changes: Mapping[str, Any]) -> dict:
    """Change name and comment; a static group's computers (the whole list); a dynamic
    group's criterion (the fields given, over the current ones)."""
    given = user_fields(changes, GROUP_NAMES, "deploy group", GROUP_ALIASES)
    if "type" in given:
        raise DefinitionError("type cannot change: create another group")
    with engine.begin() as conn:
        row = _group_row(conn, group_id, lock=True)
        is_static = (row.type or "").upper() == "STATIC"
        values = {}
        if "name" in given:
            values["name"] = glpi_text(given["name"], "deploy group name", required=True)
        if "comment" in given:
            values["comment"] = glpi_text(given["comment"], "comment", max_chars=65535)
        if values:
            conn.execute(update(groups).where(groups.c.id == row.id).values(values))
        criterion_given = {k: v for k, v in given.items() if k in CRITERION_FIELDS}
        if is_static and criterion_given:
            raise DefinitionError(f"{', '.join(sorted(criterion_given))}: only for a dynamic group")
        if not is_static and "computers" in given:
            raise DefinitionError("computers: only for a static group")
        if "computers" in given:
            computer_ids = _computer_ids(conn, given["computers"])
            conn.execute(delete(static).where(static.c.plugin_fusioninventory_deploygroups_id == row.id))
            _write_static(conn, row.id, computer_ids)
        if criterion_given:
            data = _dynamic_row(conn, row.id)
            _write_dynamic(conn, row.id, _criterion(criterion_given, parse(data.fields_array) if data else None))
        updated = _group_dict(conn, _group_row(conn, row.id))
    log.info("deploy group %d updated: %s", row.id, ", ".join(sorted(changes)) or "nothing")
    return updated


def _static_row(conn: Connection, group_id: Any):
    row = _group_row(conn, group_id, lock=True)
    if (row.type or "").upper() != "STATIC":
        raise DefinitionError(f"deploy group {row.id} is dynamic: its computers are what its criterion matches")
    return row


def add_computers(engine: Engine, group_id: Any, computers: Any) -> dict:
    """Add computers to a static group (those already in it stay once)."""
    with engine.begin() as conn:
        row = _static_row(conn, group_id)
        wanted = _computer_ids(conn, computers)
        if not wanted:
            raise DefinitionError("give at least one computer")
        present = set(conn.execute(select(static.c.items_id).where(
            static.c.plugin_fusioninventory_deploygroups_id == row.id,
            static.c.itemtype == ItemType.COMPUTER)).scalars())
        _write_static(conn, row.id, [i for i in wanted if i not in present])
        updated = _group_dict(conn, row)
    log.info("deploy group %d: %d computer(s) added", row.id, len(set(wanted) - present))
    return updated


def remove_computers(engine: Engine, group_id: Any, computers: Any) -> dict:
    """Remove computers from a static group."""
    with engine.begin() as conn:
        row = _static_row(conn, group_id)
        ids = [positive_id(value, "computer id") for value in
               ([computers] if isinstance(computers, (str, int)) else list(computers or []))]
        if not ids:
            raise DefinitionError("give at least one computer")
        for start in range(0, len(ids), CHUNK):
            conn.execute(delete(static).where(static.c.plugin_fusioninventory_deploygroups_id == row.id,
                                              static.c.itemtype == ItemType.COMPUTER,
                                              static.c.items_id.in_(ids[start:start + CHUNK])))
        updated = _group_dict(conn, row)
    log.info("deploy group %d: computer(s) %s removed", row.id, ", ".join(map(str, ids)))
    return updated


def actions_using(conn: Connection, itemtype: str, item_id: int) -> list[int]:
    """Ids of the actions that have this item among their targets or actors."""
    found = []
    pattern = f'%"{itemtype}"%'
    for row in conn.execute(select(jobs.c.id, jobs.c.targets, jobs.c.actors)
                            .where(or_(jobs.c.targets.like(pattern), jobs.c.actors.like(pattern)))
                            .order_by(jobs.c.id)):
        if (itemtype, item_id) in parse_item_list(row.targets) + parse_item_list(row.actors):
            found.append(row.id)
    return found


def delete_group(engine: Engine, group_id: Any) -> dict:
    """Delete the group with its static list or criterion; refused while an action uses it."""
    with engine.begin() as conn:
        row = _group_row(conn, group_id, lock=True)
        refuse_if_used(actions_using(conn, ItemType.DEPLOY_GROUP, row.id), f"deploy group {row.id}",
                       "is used by")
        members = conn.execute(select(func.count()).select_from(static).where(
            static.c.plugin_fusioninventory_deploygroups_id == row.id)).scalar()
        conn.execute(delete(static).where(static.c.plugin_fusioninventory_deploygroups_id == row.id))
        conn.execute(delete(dynamic).where(dynamic.c.plugin_fusioninventory_deploygroups_id == row.id))
        conn.execute(delete(groups).where(groups.c.id == row.id))
    log.info("deploy group %d deleted", row.id)
    return {"id": row.id, "deleted": True, "static_computers": members}
