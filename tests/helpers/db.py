"""Generic row access for the tests, on an ``Engine`` (one transaction per call) or on an open
``Connection`` (inside the caller's transaction)."""

from __future__ import annotations

import contextlib
from typing import Iterator

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection, Engine

import schema
from schema.bridge import bridge_tables
from schema.detect import GLPIINVENTORY, detect_flavour
from schema.glpiinventory.import_tables import import_tables
from schema.glpiinventory.seed import insert_missing_seed_rows as insert_glpiinventory_seed_rows
from schema.glpiinventory.tables import tables as glpiinventory_tables
from tests.helpers.layouts import set_inventory_config


@contextlib.contextmanager
def writing(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection to write with: a new transaction for an engine, the caller's for a connection."""
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        yield bind


@contextlib.contextmanager
def reading(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            yield conn
    else:
        yield bind


def insert_row(bind, table, **values) -> int:
    """Insert one row; its primary key."""
    with writing(bind) as conn:
        return conn.execute(insert(table).values(**values)).inserted_primary_key[0]


def row(bind, table, row_id):
    """The row with this id (a mapping); fails unless there is exactly one."""
    with reading(bind) as conn:
        return conn.execute(select(table).where(table.c.id == row_id)).mappings().one()


def rows(bind, table, *where) -> list:
    """The rows matching ``where`` (mappings), by id."""
    with reading(bind) as conn:
        return conn.execute(select(table).where(*where).order_by(table.c.id)).mappings().all()


def count(bind, table, *where) -> int:
    with reading(bind) as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def reset_database(engine: Engine) -> None:
    """Empty every table, then put the install-time rows back (of either schema flavour)."""
    with engine.begin() as conn:
        detected = detect_flavour(conn)
        if detected.flavour == GLPIINVENTORY:
            for table in [*reversed(list(glpiinventory_tables(detected.glpi).values())),
                          *import_tables(detected.glpi), *bridge_tables(GLPIINVENTORY)]:
                if table.name != schema.bridge_meta.name:
                    conn.execute(delete(table))
            insert_glpiinventory_seed_rows(conn, detected.glpi)
            set_inventory_config(conn, enabled_inventory="1")
            return
        for table in reversed(schema.metadata.sorted_tables):
            if table is not schema.bridge_meta:
                conn.execute(delete(table))
        schema.insert_missing_seed_rows(conn)
