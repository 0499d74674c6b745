"""``init_database`` for the glpiinventory flavour: GLPI 10 + glpiinventory 1.5.x or GLPI 11 + 1.6.x
(docs/glpi10-schema.md §5).

An empty database gets the core and plugin tables of the chosen GLPI major exactly as GLPI and the
plugin install them, their install rows, the core tables the imports write beyond the facts
(docs/glpi10-schema.md §7), and the bridge's own tables. A database the bridge
created itself gets what is missing of the same. In a real GLPI 10/11 nothing of GLPI's changes
(no DDL, no row): the bridge only verifies GLPI's tables and adds its own.
"""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from schema.check import SchemaError, check_connection
from schema.detect import GLPIINVENTORY, DetectedSchema
from schema.glpiinventory.check import expected_types
from schema.glpiinventory.import_tables import import_tables
from schema.glpiinventory.seed import insert_missing_seed_rows
from schema.glpiinventory.tables import GLPI_MAJORS, tables
from schema.init_steps import (CREATED, EXISTING_GLPI, SCHEMA_VERSION, STANDALONE_UPGRADED, InitReport,
                            create_bridge_tables, create_missing, read_meta, write_meta)

DEFAULT_GLPI = 10


def init_glpiinventory(conn: Connection, detected: DetectedSchema, glpi: int | None) -> InitReport:
    """Runs inside init_database's schema transaction (or lock)."""
    existing = set(inspect(conn).get_table_names())
    meta = read_meta(conn, existing)
    if meta.get("standalone") == "1":
        return _standalone(conn, existing, _major(meta.get("glpi_major"), glpi, "the bridge created it for"),
                           STANDALONE_UPGRADED)
    if detected.empty:
        return _standalone(conn, existing, _major(None, glpi, ""), CREATED)
    return _join_existing(conn, existing, detected, glpi)


def _major(recorded: str | int | None, requested: int | None, holds: str) -> int:
    if requested is not None and requested not in GLPI_MAJORS:
        raise SchemaError(f"GLPI {requested} is not supported with glpiinventory: 10 or 11; created nothing")
    if recorded is None:
        return requested or DEFAULT_GLPI
    recorded = int(recorded)
    if requested is not None and requested != recorded:
        raise SchemaError(f"this database is GLPI {recorded} ({holds} GLPI {recorded}), not GLPI {requested}; "
                          "created nothing")
    if recorded not in GLPI_MAJORS:
        raise SchemaError(f"GLPI {recorded} is not supported with glpiinventory: 10 or 11; created nothing")
    return recorded


def _meta(standalone: str, glpi: int) -> dict[str, str]:
    return {"standalone": standalone, "schema_version": SCHEMA_VERSION, "flavour": GLPIINVENTORY,
            "glpi_major": str(glpi)}


def _standalone(conn: Connection, existing: set[str], glpi: int, mode: str) -> InitReport:
    report = InitReport(mode, flavour=GLPIINVENTORY, glpi=glpi)
    report.tables_created = create_missing(conn, existing, tables(glpi).values())
    # Not from the facts: what the imports write that a real GLPI has (docs/glpi10-schema.md §7).
    report.tables_created += create_missing(conn, existing, import_tables(glpi))
    report.rows_seeded = insert_missing_seed_rows(conn, glpi)
    report.tables_created += create_bridge_tables(conn, GLPIINVENTORY)
    write_meta(conn, _meta("1", glpi))
    report.problems = _check(conn, glpi).problems()
    return report


def _join_existing(conn: Connection, existing: set[str], detected: DetectedSchema, glpi: int | None) -> InitReport:
    if detected.glpi is None:
        raise SchemaError(f"cannot tell the GLPI version of this database ({detected.describe()}); "
                          "created nothing")
    major = _major(detected.glpi, glpi, f"GLPI says so: {detected.evidence}; it holds")
    missing = [name for name in tables(major) if name not in existing]
    if missing:
        raise SchemaError(
            f"this database is not a GLPI {major} with the glpiinventory plugin installed: {len(missing)} "
            f"required tables are missing ({', '.join(missing[:8])}{', ...' if len(missing) > 8 else ''}). "
            f"Install and enable glpiinventory ({'1.5.x' if major == 10 else '1.6.x'}) in GLPI first; "
            "fusion-bridge only creates its own tables in an existing GLPI database, and created nothing.")
    report = InitReport(EXISTING_GLPI, flavour=GLPIINVENTORY, glpi=major)
    check = _check(conn, major)
    report.problems = check.problems() + check.notes()
    report.tables_created = create_bridge_tables(conn, GLPIINVENTORY)
    write_meta(conn, _meta("0", major))
    return report


def _check(conn: Connection, glpi: int):
    return check_connection(conn, list(tables(glpi).values()), reference=f"GLPI {glpi}",
                            expected=expected_types(glpi))
