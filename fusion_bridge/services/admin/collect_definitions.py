"""Collect definitions: a collect (``glpi_plugin_fusioninventory_collects``, of type registry,
wmi or file) and its items, the registry keys, WMI properties or file searches the agent runs
(``_collects_registries``, ``_collects_wmis``, ``_collects_files``; docs/schema.md §7). A
``collect`` action targets a collect; at ``getJobs`` each item of it becomes one job
(services/rest/collect.py).

Stored as GLPI's UI with the plugin stores them: names HTML-encoded; what the agent uses (paths,
keys, classes, filters) as given, since the plugin sends them as stored. A collect's items are
of its type (the plugin's UI shows only those); its type cannot change while it has items.
Deleting an item deletes the values computers sent for it (``_contents``); the plugin does that
for file searches only and leaves registry and WMI values behind, unreachable. A collect is
deleted with its items and their values, and not while an action targets it. Each public
function runs in one transaction of its own.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.services.admin.base import (
    DefinitionError,
    NotFound,
    entity_exists,
    flag,
    given_text,
    glpi_text,
    positive_id,
    refuse_if_used,
    row_by_id,
    ui_text,
    user_fields,
)
from fusion_bridge.services.admin.network import actions_targeting
from schema.constants import ItemType

log = logging.getLogger("fusion_bridge.definitions")

collects = schema.collects
TYPES = ("registry", "wmi", "file")
# The hives the plugin's UI offers.
HIVES = ("HKEY_LOCAL_MACHINE",)
# Item table, its values table and the values' key column, by collect type.
ITEMS = {
    "registry": (schema.collects_registries, schema.collects_registries_contents,
                 "plugin_fusioninventory_collects_registries_id"),
    "wmi": (schema.collects_wmis, schema.collects_wmis_contents, "plugin_fusioninventory_collects_wmis_id"),
    "file": (schema.collects_files, schema.collects_files_contents, "plugin_fusioninventory_collects_files_id"),
}

# User-facing names (the CLI's options) → columns.
COLLECT_NAMES = {"name": "name", "type": "type", "entity": "entities_id", "recursive": "is_recursive",
                 "active": "is_active", "comment": "comment"}
ITEM_NAMES = {
    "registry": {"name": "name", "hive": "hive", "path": "path", "key": "key"},
    "wmi": {"name": "name", "class": "class", "properties": "properties", "moniker": "moniker"},
    "file": {"name": "name", "dir": "dir", "limit": "limit", "recursive": "is_recursive",
             "regex": "filter_regex", "size_equals": "filter_sizeequals", "size_greater": "filter_sizegreater",
             "size_lower": "filter_sizelower", "sha512": "filter_checksumsha512", "sha2": "filter_checksumsha2",
             "filename": "filter_name", "iname": "filter_iname", "files": "filter_is_file",
             "dirs": "filter_is_dir"},
}
_LABELS = {kind: {column: user for user, column in names.items()} for kind, names in ITEM_NAMES.items()}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _agent_text(value: Any, what: str, required: bool = True, max_chars: int = 255) -> str | None:
    """A value the agent uses, stored as given (an encoded path would not be found)."""
    value = given_text(value, what, required)
    if value is None:
        return None
    if len(value) > max_chars:
        raise DefinitionError(f"{what} is too long (at most {max_chars} characters)")
    return value.strip()


def _collect_values(conn: Connection, given: Mapping[str, Any], current) -> dict:
    values: dict[str, Any] = {}
    if "name" in given or current is None:
        values["name"] = glpi_text(given.get("name"), "collect name", required=True)
    if "type" in given or current is None:
        kind = str(given.get("type") or "").strip().lower()
        if kind not in TYPES:
            raise DefinitionError(f"type must be one of {', '.join(TYPES)}, got {given.get('type')!r}")
        values["type"] = kind
    if "entities_id" in given or current is None:
        values["entities_id"] = positive_id(given.get("entities_id", 0), "entity", allow_zero=True)
        entity_exists(conn, values["entities_id"])
    if "is_recursive" in given or current is None:
        values["is_recursive"] = flag(given.get("is_recursive", False), "recursive")
    if "is_active" in given or current is None:
        values["is_active"] = flag(given.get("is_active", True), "active")
    if "comment" in given:
        values["comment"] = glpi_text(given["comment"], "comment", max_chars=65535)
    return values


def _registry_values(given: Mapping[str, Any]) -> dict:
    hive = str(given.get("hive") or HIVES[0]).strip().upper()
    if hive not in HIVES:
        raise DefinitionError(f"hive must be one of {', '.join(HIVES)} (the hives the plugin offers), got {hive!r}")
    path = _agent_text(given.get("path"), "path").replace("\\", "/")
    # The agent reads hive + path + key: the path starts and ends with a slash.
    path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
    return {"hive": hive, "path": path, "key": _agent_text(given.get("key"), "key (a value name, or * for all)")}


def _wmi_values(given: Mapping[str, Any]) -> dict:
    values = {}
    for field in ("class", "properties"):
        text = _agent_text(given.get(field), field)
        if not _IDENTIFIER.match(text):
            raise DefinitionError(f"{field} must be one WMI name (letters, digits, _), got {text!r}")
        values[field] = text
    values["moniker"] = _agent_text(given.get("moniker"), "moniker", required=False)
    return values


def _file_values(given: Mapping[str, Any]) -> dict:
    labels = _LABELS["file"]
    values: dict[str, Any] = {"dir": _agent_text(given.get("dir"), "dir"),
                              "limit": positive_id(given.get("limit", 50), "limit"),
                              "is_recursive": flag(given.get("is_recursive", False), "recursive"),
                              "filter_is_file": flag(given.get("filter_is_file", True), "files"),
                              "filter_is_dir": flag(given.get("filter_is_dir", False), "dirs")}
    if not values["filter_is_file"] and not values["filter_is_dir"]:
        raise DefinitionError("files and dirs are both off: the search would find nothing")
    sizes = {}
    for column in ("filter_sizeequals", "filter_sizegreater", "filter_sizelower"):
        size = positive_id(given.get(column, 0) or 0, labels[column], allow_zero=True)
        values[column] = size
        if size:
            sizes[labels[column]] = size
    if len(sizes) > 1:
        # The plugin sends only the first of them.
        raise DefinitionError(f"give one size filter, not {' and '.join(sizes)}")
    for column, length in (("filter_checksumsha512", 128), ("filter_checksumsha2", 64)):
        checksum = _agent_text(given.get(column), labels[column], required=False)
        if checksum is not None and not re.fullmatch(f"[0-9a-fA-F]{{{length}}}", checksum):
            raise DefinitionError(f"{labels[column]} must be {length} hexadecimal digits")
        values[column] = checksum.lower() if checksum else None
    for column in ("filter_regex", "filter_name", "filter_iname"):
        values[column] = _agent_text(given.get(column), labels[column], required=False)
    return values


_ITEM_VALUES = {"registry": _registry_values, "wmi": _wmi_values, "file": _file_values}


def _item_dicts(conn: Connection, collect_id: int, kind: str) -> list[dict]:
    table, _contents, _key = ITEMS[kind]
    found = []
    for row in conn.execute(select(table).where(table.c.plugin_fusioninventory_collects_id == collect_id)
                            .order_by(table.c.id)):
        values = dict(row._mapping)
        item = {"id": values.pop("id"), "name": ui_text(values.pop("name"))}
        values.pop("plugin_fusioninventory_collects_id")
        labels = _LABELS[kind]
        for column, value in values.items():
            label = labels.get(column, column)
            item[label] = bool(value) if label in ("recursive", "files", "dirs") else value
        found.append(item)
    return found


def _collect_dict(conn: Connection, row, with_items: bool = True) -> dict:
    kind = (row.type or "").lower()
    result = {"id": row.id, "name": ui_text(row.name), "type": row.type, "entities_id": row.entities_id,
              "is_recursive": bool(row.is_recursive), "is_active": bool(row.is_active),
              "comment": ui_text(row.comment)}
    if kind in ITEMS and with_items:
        result["items"] = _item_dicts(conn, row.id, kind)
    elif kind in ITEMS:
        table = ITEMS[kind][0]
        result["items"] = conn.execute(select(func.count()).select_from(table).where(
            table.c.plugin_fusioninventory_collects_id == row.id)).scalar()
    return result


def _collect_row(conn: Connection, collect_id: Any, lock: bool = False):
    return row_by_id(conn, collects, collect_id, "collect", lock=lock)


def create_collect(engine: Engine, name: Any, kind: Any, *, entities_id: Any = 0, is_recursive: Any = False,
                   is_active: Any = True, comment: Any = None) -> dict:
    given = {"name": name, "type": kind, "entities_id": entities_id, "is_recursive": is_recursive,
             "is_active": is_active, "comment": comment}
    with engine.begin() as conn:
        values = _collect_values(conn, given, None)
        collect_id = conn.execute(insert(collects).values(values)).inserted_primary_key[0]
        created = _collect_dict(conn, _collect_row(conn, collect_id))
    log.info("collect %d %r (%s) created", collect_id, values["name"], values["type"])
    return created


def create_collect_from(engine: Engine, given: Mapping[str, Any]) -> dict:
    """``create_collect`` from fields by user-facing names (the API's body)."""
    values = user_fields(given, COLLECT_NAMES, "collect")
    return create_collect(engine, values.pop("name", None), values.pop("type", None), **values)


def list_collects(engine: Engine, *, limit: int = 1000) -> list[dict]:
    """Collects by id, each with its number of items."""
    with engine.connect() as conn:
        return [_collect_dict(conn, row, with_items=False)
                for row in conn.execute(select(collects).order_by(collects.c.id).limit(limit)).all()]


def get_collect(engine: Engine, collect_id: Any) -> dict:
    with engine.connect() as conn:
        return _collect_dict(conn, _collect_row(conn, collect_id))


def update_collect(engine: Engine, collect_id: Any, changes: Mapping[str, Any]) -> dict:
    """Change name, entity, recursive, active, comment; the type only while it has no items."""
    given = user_fields(changes, COLLECT_NAMES, "collect")
    with engine.begin() as conn:
        current = _collect_row(conn, collect_id, lock=True)
        values = _collect_values(conn, given, current)
        old_kind = (current.type or "").lower()
        if "type" in values and values["type"] != old_kind and old_kind in ITEMS:
            table = ITEMS[old_kind][0]
            if conn.execute(select(table.c.id).where(table.c.plugin_fusioninventory_collects_id == current.id)
                            .limit(1)).first() is not None:
                raise DefinitionError(f"collect {current.id} has {old_kind} items: remove them before changing "
                                      "its type")
        if values:
            conn.execute(update(collects).where(collects.c.id == current.id).values(values))
        updated = _collect_dict(conn, _collect_row(conn, current.id))
    log.info("collect %d updated: %s", current.id, ", ".join(sorted(changes)) or "nothing")
    return updated


def _delete_items(conn: Connection, kind: str, item_ids: list[int]) -> int:
    table, contents, key = ITEMS[kind]
    if not item_ids:
        return 0
    values = conn.execute(delete(contents).where(contents.c[key].in_(item_ids))).rowcount
    conn.execute(delete(table).where(table.c.id.in_(item_ids)))
    return values


def delete_collect(engine: Engine, collect_id: Any) -> dict:
    """Delete the collect with its items and their values; refused while an action targets it."""
    with engine.begin() as conn:
        row = _collect_row(conn, collect_id, lock=True)
        refuse_if_used(actions_targeting(conn, ItemType.COLLECT, row.id), f"collect {row.id}")
        items = values = 0
        for kind, (table, _contents, _key) in ITEMS.items():
            ids = conn.execute(select(table.c.id).where(table.c.plugin_fusioninventory_collects_id == row.id)
                               ).scalars().all()
            items += len(ids)
            values += _delete_items(conn, kind, ids)
        conn.execute(delete(collects).where(collects.c.id == row.id))
    log.info("collect %d deleted with %d item(s)", row.id, items)
    return {"id": row.id, "deleted": True, "items": items, "values": values}


def add_item(engine: Engine, collect_id: Any, given: Mapping[str, Any]) -> dict:
    """An item of the collect's type: registry (``path``, ``key``, ``hive``), wmi (``class``,
    ``properties``, ``moniker``) or file (``dir``, ``limit``, ``recursive`` and filters)."""
    with engine.begin() as conn:
        collect = _collect_row(conn, collect_id, lock=True)
        kind = (collect.type or "").lower()
        if kind not in ITEMS:
            raise DefinitionError(f"collect {collect.id} has the unknown type {collect.type!r}")
        fields = user_fields(given, ITEM_NAMES[kind], f"{kind} item")
        values = {"name": glpi_text(fields.get("name"), "item name", required=True),
                  **_ITEM_VALUES[kind](fields), "plugin_fusioninventory_collects_id": collect.id}
        table = ITEMS[kind][0]
        item_id = conn.execute(insert(table).values(values)).inserted_primary_key[0]
        result = _collect_dict(conn, collect)
    log.info("collect %d: %s item %d added", collect.id, kind, item_id)
    return {**result, "added_item": item_id}


def remove_item(engine: Engine, collect_id: Any, item_id: Any) -> dict:
    """Remove an item of the collect, with the values computers sent for it."""
    item_id = positive_id(item_id, "item id")
    with engine.begin() as conn:
        collect = _collect_row(conn, collect_id, lock=True)
        kind = (collect.type or "").lower()
        table = ITEMS[kind][0] if kind in ITEMS else None
        if table is None or conn.execute(select(table.c.id).where(
                table.c.id == item_id, table.c.plugin_fusioninventory_collects_id == collect.id)).first() is None:
            raise NotFound(f"collect {collect.id} has no item {item_id}")
        values = _delete_items(conn, kind, [item_id])
        result = _collect_dict(conn, collect)
    log.info("collect %d: item %d removed with %d value(s)", collect.id, item_id, values)
    return {**result, "removed_item": item_id, "values_removed": values}
