"""Prepare a database for the bridge: create it from scratch, upgrade what the bridge created,
or join a real GLPI without touching GLPI's or the plugin's tables.

The bridge remembers in its own meta table whether it created the whole schema
(``standalone=1``), and in which flavour and GLPI major. Only such a database gets missing
GLPI/plugin tables and install rows; in a real GLPI (``standalone=0``) it creates and writes
nothing but its own tables. Two flavours: ``fusioninventory`` (GLPI 9.5 + FusionInventory, the
definitions of schema/tables.py) and ``glpiinventory`` (GLPI 10/11 + glpiinventory, those of
schema/glpiinventory; docs/glpi10-schema.md §5).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from schema.base import metadata
from schema.check import SchemaError, check_connection
from schema.detect import FLAVOURS, GLPIINVENTORY, DetectedSchema, detect_flavour
from schema.glpiinventory.install import init_glpiinventory
from schema.init_steps import (  # noqa: F401 - SCHEMA_VERSION and create_bridge_tables are re-exported
    CREATED, EXISTING_GLPI, SCHEMA_VERSION, STANDALONE_UPGRADED, InitReport, create_bridge_tables, create_missing,
    read_meta, write_meta)
from schema.seed import insert_missing_seed_rows
from schema.tables import BRIDGE_TABLES, CORE_TABLES, PLUGIN_TABLES

LOCK_NAME = "fusion-bridge-schema"
LOCK_TIMEOUT_SECONDS = 60

_GLPI_TABLES = [*PLUGIN_TABLES, *CORE_TABLES]


def init_database(engine: Engine, flavour: str | None = None, glpi: int | None = None) -> InitReport:
    """Make ``engine``'s (existing, possibly empty) database ready; safe to run repeatedly and
    from several processes at once.

    ``flavour``: "fusioninventory", "glpiinventory", or None / "auto" = what the database holds
    (an empty one gets fusioninventory, as before flavours existed). ``glpi``: the GLPI major of
    a glpiinventory database (10 or 11; default: what the database holds, else 10). A request
    the database contradicts (another flavour or GLPI major) is refused before anything changes.
    """
    flavour = _requested_flavour(flavour)
    with _schema_transaction(engine) as conn:
        detected = detect_flavour(conn)
        if detected.flavour is not None and flavour is not None and detected.flavour != flavour:
            raise SchemaError(f"this database holds {detected.describe()}: it cannot get the {flavour} "
                              "schema; created nothing")
        if detected.flavour == GLPIINVENTORY or (
                detected.flavour is None and (flavour == GLPIINVENTORY or (detected.glpi or 0) >= 10)):
            return init_glpiinventory(conn, detected, glpi)
        if glpi is not None:
            raise SchemaError(f"--glpi {glpi} is for the glpiinventory schema; the fusioninventory schema is "
                              "GLPI 9.5's; created nothing")
        existing = set(inspect(conn).get_table_names())
        standalone = read_meta(conn, existing).get("standalone")
        if standalone == "1":
            return _upgrade_standalone(conn, existing, STANDALONE_UPGRADED)
        if standalone == "0" or any(table.name in existing for table in _GLPI_TABLES):
            return _join_existing_glpi(conn, existing)
        return _upgrade_standalone(conn, existing, CREATED)


def _requested_flavour(flavour: str | None) -> str | None:
    if flavour is None or flavour == "auto":
        return None
    if flavour not in FLAVOURS:
        raise SchemaError(f"unknown schema flavour {flavour!r}: auto, {', '.join(FLAVOURS)}")
    return flavour


def describe_detected(detected: DetectedSchema) -> str:
    return detected.describe() + (f" ({detected.evidence})" if detected.evidence else "")


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


def _upgrade_standalone(conn: Connection, existing: set[str], mode: str) -> InitReport:
    report = InitReport(mode)
    report.tables_created = create_missing(conn, existing, metadata.sorted_tables)
    report.rows_seeded = insert_missing_seed_rows(conn)
    write_meta(conn, {"standalone": "1", "schema_version": SCHEMA_VERSION})
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
    report.tables_created = create_missing(conn, existing, BRIDGE_TABLES)
    write_meta(conn, {"standalone": "0", "schema_version": SCHEMA_VERSION})
    return report
