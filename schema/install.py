"""Prepare a database for the bridge: create it from scratch, upgrade what the bridge created,
or join a real GLPI without touching GLPI's or the plugin's tables.

The bridge remembers in its own meta table whether it created the whole schema
(``standalone=1``). Only such a database gets missing GLPI/plugin tables and install rows;
in a real GLPI (``standalone=0``) it creates and writes nothing but its own tables.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator

from sqlalchemy import inspect, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from schema.base import metadata
from schema.check import SchemaError, check_connection
from schema.seed import insert_missing_seed_rows
from schema.tables import BRIDGE_TABLES, CORE_TABLES, PLUGIN_TABLES, bridge_meta

SCHEMA_VERSION = "1"
LOCK_NAME = "fusion-bridge-schema"
LOCK_TIMEOUT_SECONDS = 60

CREATED = "created"
STANDALONE_UPGRADED = "standalone-upgraded"
EXISTING_GLPI = "existing-glpi"

_GLPI_TABLES = [*PLUGIN_TABLES, *CORE_TABLES]


@dataclass
class InitReport:
    mode: str
    tables_created: list[str] = field(default_factory=list)
    rows_seeded: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def init_database(engine: Engine) -> InitReport:
    """Make ``engine``'s (existing, possibly empty) database ready; safe to run repeatedly and
    from several processes at once."""
    with _schema_transaction(engine) as conn:
        existing = set(inspect(conn).get_table_names())
        standalone = _read_meta(conn, existing).get("standalone")
        if standalone == "1":
            return _upgrade_standalone(conn, existing, STANDALONE_UPGRADED)
        if standalone == "0" or any(table.name in existing for table in _GLPI_TABLES):
            return _join_existing_glpi(conn, existing)
        return _upgrade_standalone(conn, existing, CREATED)


@contextlib.contextmanager
def _schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One connection holding the schema lock (MySQL) or one transaction (SQLite)."""
    with engine.connect() as conn:
        if conn.dialect.name in ("mysql", "mariadb"):
            # DDL commits implicitly on MySQL, so a named lock is what serialises instances.
            acquired = conn.execute(text("SELECT GET_LOCK(:name, :timeout)"),
                                    {"name": LOCK_NAME, "timeout": LOCK_TIMEOUT_SECONDS}).scalar()
            if acquired != 1:
                raise SchemaError(f"could not take the database lock {LOCK_NAME!r} within "
                                  f"{LOCK_TIMEOUT_SECONDS}s: another fusion-bridge is setting up the schema")
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
                conn.commit()
        else:
            conn.begin()
            if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
                # pysqlite in its default mode would run the DDL outside any transaction (engines
                # from fusion_bridge.adapters.db already BEGIN IMMEDIATE on begin()).
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.commit()
            except BaseException:
                conn.rollback()
                raise


def _read_meta(conn: Connection, existing: set[str]) -> dict[str, str]:
    if bridge_meta.name not in existing:
        return {}
    return {row.name: row.value for row in conn.execute(select(bridge_meta.c.name, bridge_meta.c.value))}


def _create_missing(conn: Connection, existing: set[str], tables) -> list[str]:
    missing = [table for table in tables if table.name not in existing]
    metadata.create_all(conn, tables=missing, checkfirst=False)
    return [table.name for table in missing]


def _write_meta(conn: Connection, values: dict[str, str]) -> None:
    current = {row.name: row.value for row in conn.execute(select(bridge_meta.c.name, bridge_meta.c.value))}
    for name, value in values.items():
        if name not in current:
            conn.execute(insert(bridge_meta).values(name=name, value=value))
        elif current[name] != value:
            conn.execute(update(bridge_meta).where(bridge_meta.c.name == name).values(value=value))


def _upgrade_standalone(conn: Connection, existing: set[str], mode: str) -> InitReport:
    report = InitReport(mode)
    report.tables_created = _create_missing(conn, existing, metadata.sorted_tables)
    report.rows_seeded = insert_missing_seed_rows(conn)
    _write_meta(conn, {"standalone": "1", "schema_version": SCHEMA_VERSION})
    report.problems = check_connection(conn).problems()
    return report


def _join_existing_glpi(conn: Connection, existing: set[str]) -> InitReport:
    missing = [table.name for table in _GLPI_TABLES if table.name not in existing]
    if missing:
        raise SchemaError(
            "this database is not a GLPI 9.5 with the FusionInventory plugin installed: "
            f"{len(missing)} required tables are missing ({', '.join(missing[:8])}"
            f"{', ...' if len(missing) > 8 else ''}). Install and enable the FusionInventory "
            "plugin (9.5+4.2) in GLPI first; fusion-bridge only creates its own tables in an "
            "existing GLPI database, and created nothing."
        )
    report = InitReport(EXISTING_GLPI)
    check = check_connection(conn, _GLPI_TABLES)
    report.problems = check.problems() + check.notes()
    report.tables_created = _create_missing(conn, existing, BRIDGE_TABLES)
    _write_meta(conn, {"standalone": "0", "schema_version": SCHEMA_VERSION})
    return report
