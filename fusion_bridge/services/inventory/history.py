"""An item's Historical tab: the ``glpi_logs`` rows GLPI writes when the plugin's imports create,
change or delete assets, ports, network names and addresses (docs/history.md §2).

Each function adds rows in the caller's transaction. The user is the plugin's, as GLPI names it
for an agent's import (docs/history.md §3).
"""

from __future__ import annotations

from datetime import datetime
from typing import Mapping, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

import schema
from schema.constants import PLUGIN_USER_NAME, ItemType
from schema.glpi_core_rules import glpi_logs

from .values import fit

# GLPI's Log::HISTORY_* codes (docs/history.md §2).
CHANGED, ADD_SUBITEM, UPDATE_SUBITEM, DELETE_SUBITEM, CREATED = 0, 17, 18, 19, 20
NOT_AVAILABLE = "N/A"  # GLPI's name of an item without one

# The search option id GLPI logs a field change under, per item type (docs/history.md §2);
# fields not listed here are not logged.
_ASSET_FIELDS = {"name": 1, "locations_id": 3, "serial": 5, "otherserial": 6}
SEARCH_OPTIONS: dict[str, dict[str, int]] = {
    ItemType.COMPUTER: _ASSET_FIELDS,
    ItemType.NETWORK_EQUIPMENT: _ASSET_FIELDS,
    ItemType.PRINTER: _ASSET_FIELDS,
    ItemType.UNMANAGED: {"name": 1, "serial": 4, "otherserial": 5, "contact": 6, "comment": 10,
                         "item_type": 13, "sysdescr": 15, "ip": 18},
    ItemType.NETWORK_PORT: {"name": 1, "logical_number": 3, "mac": 4, "instantiation_type": 5},
    ItemType.NETWORK_NAME: {"name": 1},
}
_USER_KEY = "fusion_bridge.history_user"


def user_name(conn: Connection) -> str:
    """``Plugin_FusionInventory (6) (6)``: the plugin's user and its id, as GLPI writes it for
    the plugin's imports; remembered on the database connection."""
    cached = conn.info.get(_USER_KEY)
    if cached is None:
        configs, users = schema.configs, schema.glpi_users
        raw = conn.execute(select(configs.c.value).where(configs.c.type == "users_id")).scalar()
        user_id = int(raw) if raw and str(raw).isdigit() else 0
        login = conn.execute(select(users.c.name).where(users.c.id == user_id)).scalar() if user_id else None
        login = login or PLUGIN_USER_NAME
        cached = conn.info[_USER_KEY] = f"{login} ({user_id}) ({user_id})" if user_id else login
    return cached


def name_id(name: str | None, items_id: int) -> str:
    """``name (id)``: how GLPI names a sub-item in its parent's history."""
    return f"{name if name else NOT_AVAILABLE} ({items_id})"


def _row(conn: Connection, itemtype: str, items_id: int, now: datetime, *, link: str = "", action: int = CHANGED,
         option: int = 0, old: str = "", new: str = "") -> dict:
    return {"itemtype": itemtype, "items_id": items_id, "itemtype_link": link, "linked_action": action,
            "user_name": user_name(conn), "date_mod": now, "id_search_option": option,
            "old_value": fit(glpi_logs.c.old_value, old), "new_value": fit(glpi_logs.c.new_value, new)}


def created(conn: Connection, itemtype: str, items_id: int, now: datetime) -> None:
    """An item added: GLPI's "Add the item" row (itemtype_link ``0``)."""
    conn.execute(insert(glpi_logs).values(_row(conn, itemtype, items_id, now, link="0", action=CREATED)))


def changed(conn: Connection, itemtype: str, items_id: int, before: Mapping, after: Mapping, now: datetime) -> None:
    """One row per changed field GLPI logs: its search option id, old and new value."""
    options = SEARCH_OPTIONS.get(itemtype, {})
    rows = [_row(conn, itemtype, items_id, now, option=options[key], old=_text(before[key]), new=_text(value))
            for key, value in after.items() if key in options and before[key] != value]
    if rows:
        conn.execute(insert(glpi_logs), rows)


def subitem(conn: Connection, parent_type: str, parent_id: int, child_type: str, label: str, action: int,
            now: datetime) -> None:
    """A child added (17), changed (18) or deleted (19), in its parent's history."""
    old, new = (label, "") if action == DELETE_SUBITEM else ("", label)
    conn.execute(insert(glpi_logs).values(_row(conn, parent_type, parent_id, now, link=child_type,
                                                 action=action, old=old, new=new)))


def child_created(conn: Connection, itemtype: str, items_id: int, name: str | None, parent_type: str,
                  parent_id: int, now: datetime, *, own_history: bool = True) -> None:
    """A port, network name or address added: its own row (when GLPI keeps its history) and
    the parent's "add a sub-item" row."""
    if own_history:
        created(conn, itemtype, items_id, now)
    subitem(conn, parent_type, parent_id, itemtype, name_id(name, items_id), ADD_SUBITEM, now)


def children_purged(conn: Connection, itemtype: str, rows: Sequence[Mapping], parent_type_key: str,
                    parent_id_key: str, now: datetime, name_key: str = "name") -> None:
    """Children deleted for good: the parent's "delete a sub-item" row each, and their own
    history gone with them, as GLPI purges it."""
    if not rows:
        return
    conn.execute(insert(glpi_logs), [
        _row(conn, row[parent_type_key], row[parent_id_key], now, link=itemtype, action=DELETE_SUBITEM,
             old=name_id(row[name_key], row["id"])) for row in rows])
    conn.execute(delete(glpi_logs).where(glpi_logs.c.itemtype == itemtype,
                                         glpi_logs.c.items_id.in_([row["id"] for row in rows])))


def _text(value) -> str:
    return "" if value is None else str(value)
