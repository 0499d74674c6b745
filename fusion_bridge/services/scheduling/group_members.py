"""Which computers a GLPI group holds directly (its "Group" field): a column of the computer in
GLPI 9.5 and 10 (``glpi_computers.groups_id``), rows of ``glpi_groups_items`` in GLPI 11
(docs/schema-layouts.md §6). The one place that knows the difference."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Column, Integer, MetaData, String, Table, select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.adapters.db_layout import has_table
from schema.constants import ItemType

computers = schema.glpi_computers

# GLPI 11's link of items to groups; ``type`` 1 is the group in charge ("Group"), 2 the
# technical group (docs/schema-layouts.md §6).
glpi_groups_items = Table(
    "glpi_groups_items", MetaData(),
    Column("id", Integer, primary_key=True),
    Column("groups_id", Integer, nullable=False),
    Column("itemtype", String(255), nullable=False),
    Column("items_id", Integer, nullable=False),
    Column("type", Integer, nullable=False),
)
NORMAL_GROUP = 1


def _linked(conn: Connection) -> bool:
    return has_table(conn, glpi_groups_items.name)


def computers_of_groups(conn: Connection, group_ids: Iterable[int]) -> set[int]:
    """The computers whose group is one of ``group_ids``."""
    group_ids = sorted(set(group_ids))  # a job's few groups
    if not group_ids:
        return set()
    if _linked(conn):
        links = glpi_groups_items.c
        return set(conn.execute(select(links.items_id).where(
            links.groups_id.in_(group_ids), links.itemtype == ItemType.COMPUTER,
            links.type == NORMAL_GROUP)).scalars())
    return set(conn.execute(select(computers.c.id).where(computers.c.groups_id.in_(group_ids))).scalars())


def computer_has_group(conn: Connection, computer_id: int, group_id: int) -> bool:
    if _linked(conn):
        links = glpi_groups_items.c
        return conn.execute(select(links.id).where(
            links.groups_id == group_id, links.itemtype == ItemType.COMPUTER, links.items_id == computer_id,
            links.type == NORMAL_GROUP).limit(1)).first() is not None
    return conn.execute(select(computers.c.id).where(computers.c.id == computer_id,
                                                     computers.c.groups_id == group_id)).first() is not None
