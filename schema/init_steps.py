"""The steps every flavour's ``init_database`` is made of: the report, the bridge's meta rows,
creating missing tables, and the bridge's own tables (schema/bridge.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect, insert, select, update
from sqlalchemy.engine import Connection

from schema.bridge import bridge_meta, bridge_tables
from schema.detect import FUSIONINVENTORY

SCHEMA_VERSION = "1"

CREATED = "created"
STANDALONE_UPGRADED = "standalone-upgraded"
EXISTING_GLPI = "existing-glpi"


@dataclass
class InitReport:
    mode: str
    tables_created: list[str] = field(default_factory=list)
    rows_seeded: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    flavour: str = FUSIONINVENTORY
    glpi: int | None = 9


def create_bridge_tables(conn: Connection, flavour: str) -> list[str]:
    """Create the bridge's own tables (``glpi_plugin_fusionbridge_*``) that ``conn``'s database
    lacks, as a database of ``flavour`` wants them; the names created."""
    return create_missing(conn, set(inspect(conn).get_table_names()), bridge_tables(flavour))


def read_meta(conn: Connection, existing: set[str]) -> dict[str, str]:
    if bridge_meta.name not in existing:
        return {}
    return {row.name: row.value for row in conn.execute(select(bridge_meta.c.name, bridge_meta.c.value))}


def create_missing(conn: Connection, existing: set[str], tables) -> list[str]:
    """Create the ``tables`` not in ``existing`` (each from its own MetaData); their names."""
    missing = [table for table in tables if table.name not in existing]
    for table in missing:
        table.create(conn, checkfirst=False)
    return [table.name for table in missing]


def write_meta(conn: Connection, values: dict[str, str]) -> None:
    current = {row.name: row.value for row in conn.execute(select(bridge_meta.c.name, bridge_meta.c.value))}
    for name, value in values.items():
        if name not in current:
            conn.execute(insert(bridge_meta).values(name=name, value=value))
        elif current[name] != value:
            conn.execute(update(bridge_meta).where(bridge_meta.c.name == name).values(value=value))
