"""Verify that a database holds the tables, columns and rows the bridge reads and writes.

Extra tables or columns (a real GLPI has many) are fine; missing ones are not. On MySQL a
column whose type differs notably from GLPI 9.5's (say ``datetime`` where 9.5 installs
``timestamp``, or a shorter ``varchar``) gets a note, which does not make the check fail.
``check_database`` first finds out which schema the database holds (schema/detect.py) and checks
a GLPI 10/11 one against that version's definitions, ``unsigned`` included
(docs/glpi10-schema.md §3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import Table, func, inspect, select, text
from sqlalchemy.engine import Connection, Engine

from schema.constants import Module
from schema.crontasks import CronTask, competing_cron_tasks
from schema.tables import BRIDGE_TABLES, CORE_TABLES, PLUGIN_TABLES, agentmodules, configs

REQUIRED_TABLES: list[Table] = [*PLUGIN_TABLES, *CORE_TABLES, *BRIDGE_TABLES]


class SchemaError(RuntimeError):
    """The database cannot be used (or set up) as it is."""


@dataclass
class TableCheck:
    name: str
    status: str  # "ok", "missing" or "incomplete"
    missing_columns: list[str] = field(default_factory=list)
    type_notes: list[str] = field(default_factory=list)


@dataclass
class SeedCheck:
    description: str
    ok: bool


@dataclass
class CheckReport:
    tables: list[TableCheck] = field(default_factory=list)
    # What the database holds (schema.detect.DetectedSchema), when check_database found out.
    schema: object | None = None
    seeds: list[SeedCheck] = field(default_factory=list)
    # The plugin's cron tasks that do what the bridge's scheduler does (schema/crontasks.py).
    # Not part of ``ok``: they only matter where the bridge runs its scheduler.
    cron_tasks: list[CronTask] = field(default_factory=list)

    def competing(self) -> list[CronTask]:
        """The competing cron tasks GLPI would run (enabled)."""
        return [task for task in self.cron_tasks if task.enabled]

    @property
    def ok(self) -> bool:
        return all(t.status == "ok" for t in self.tables) and all(s.ok for s in self.seeds)

    def table(self, name: str) -> TableCheck:
        return next(t for t in self.tables if t.name == name)

    def problems(self) -> list[str]:
        found = []
        for check in self.tables:
            if check.status == "missing":
                found.append(f"table {check.name} is missing")
            elif check.status == "incomplete":
                found.append(f"table {check.name} lacks columns {', '.join(check.missing_columns)}")
        found += [f"missing row: {s.description}" for s in self.seeds if not s.ok]
        return found

    def notes(self) -> list[str]:
        return [f"{t.name}: {note}" for t in self.tables for note in t.type_notes]


def check_database(engine: Engine, tables: Iterable[Table] | None = None) -> CheckReport:
    """Check ``tables``, or (None) the tables of the schema the database holds: GLPI 9.5 +
    FusionInventory's unless it holds GLPI 10/11 + glpiinventory."""
    from schema.detect import GLPIINVENTORY, detect_flavour

    with engine.connect() as conn:
        detected = detect_flavour(conn) if tables is None else None
        if detected is not None and detected.flavour == GLPIINVENTORY and detected.glpi in (10, 11):
            from schema.bridge import bridge_tables
            from schema.glpiinventory.check import expected_types
            from schema.glpiinventory.tables import tables as glpiinventory_tables

            report = check_connection(conn, [*glpiinventory_tables(detected.glpi).values(),
                                             *bridge_tables(GLPIINVENTORY)],
                                      reference=f"GLPI {detected.glpi}", expected=expected_types(detected.glpi))
        else:
            report = check_connection(conn, tables)
        report.schema = detected
        conn.rollback()
    return report


def check_connection(conn: Connection, tables: Iterable[Table] | None = None, *, reference: str = "GLPI 9.5",
                     expected: dict[str, dict[str, str]] | None = None) -> CheckReport:
    """``reference`` names the expected schema in notes; ``expected`` gives the exact MySQL column
    types by table and column (default: the definitions' types, compared loosely)."""
    tables = list(REQUIRED_TABLES if tables is None else tables)
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    actual_types = _mysql_column_types(conn) if conn.dialect.name in ("mysql", "mariadb") else {}
    report = CheckReport()
    for table in tables:
        if table.name not in existing:
            report.tables.append(TableCheck(table.name, "missing"))
            continue
        present = {column["name"].lower() for column in inspector.get_columns(table.name)}
        missing = [column.name for column in table.columns if column.name.lower() not in present]
        notes = _type_notes(conn, table, actual_types.get(table.name, {}), reference,
                            (expected or {}).get(table.name))
        report.tables.append(TableCheck(table.name, "incomplete" if missing else "ok", missing, notes))
    checked = {table.name for table in tables}
    if agentmodules.name in checked and agentmodules.name in existing:
        report.seeds.append(SeedCheck(
            f"{agentmodules.name} modulename={Module.INVENTORY}",
            _has_row(conn, agentmodules, func.lower(agentmodules.c.modulename) == Module.INVENTORY.lower())))
    if configs.name in checked and configs.name in existing:
        report.seeds.append(SeedCheck(
            f"{configs.name} type=inventory_frequence",
            _has_row(conn, configs, configs.c.type == "inventory_frequence")))
    report.cron_tasks = competing_cron_tasks(conn)
    return report


def _has_row(conn: Connection, table: Table, condition) -> bool:
    return conn.execute(select(1).select_from(table).where(condition).limit(1)).first() is not None


def _mysql_column_types(conn: Connection) -> dict[str, dict[str, str]]:
    types: dict[str, dict[str, str]] = {}
    rows = conn.execute(text("SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS"
                             " WHERE TABLE_SCHEMA = DATABASE()"))
    for table_name, column_name, column_type in rows:
        types.setdefault(table_name, {})[column_name.lower()] = column_type
    return types


_ALIASES = {"integer": "int", "numeric": "decimal", "bool": "tinyint", "boolean": "tinyint"}
_INTEGERS = {"tinyint", "smallint", "mediumint", "int", "bigint"}


def _normalized(column_type: str) -> tuple[str, str]:
    """(base type, length) with integer display widths dropped (MySQL 8 hides them)."""
    match = re.match(r"\s*([a-z]+)\s*(\(([^)]*)\))?", column_type.lower())
    if not match:
        return column_type.lower(), ""
    base = _ALIASES.get(match.group(1), match.group(1))
    length = "" if base in _INTEGERS else (match.group(3) or "").replace(" ", "")
    return base, length


def _exact(column_type: str) -> str:
    """A MySQL column type without integer display widths (MySQL 8 hides them), sign kept."""
    base, length = _normalized(column_type)
    unsigned = " unsigned" if "unsigned" in column_type.lower() else ""
    return f"{base}({length}){unsigned}" if length else f"{base}{unsigned}"


def _type_notes(conn: Connection, table: Table, actual: dict[str, str], reference: str = "GLPI 9.5",
                exact: dict[str, str] | None = None) -> list[str]:
    notes = []
    for column in table.columns:
        found = actual.get(column.name.lower())
        if found is None:
            continue
        if exact is not None and column.name in exact:
            if _exact(found) != _exact(exact[column.name]):
                notes.append(f"column {column.name} is {found}, {reference} has {exact[column.name]}")
            continue
        expected = column.type.compile(dialect=conn.dialect)
        if _normalized(found) != _normalized(expected):
            notes.append(f"column {column.name} is {found}, {reference} has {expected.lower()}")
    return notes
