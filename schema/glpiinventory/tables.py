"""GLPI 10 + glpiinventory 1.5.x and GLPI 11 + 1.6.x tables as SQLAlchemy Core, built from the
descriptions in ``data/`` (format: schema/glpiinventory/description.py).

Each GLPI major has its own ``MetaData`` (the same table names differ between 10 and 11), apart
from the 9.5 one in schema/base.py. On MariaDB the tables render exactly as GLPI's and the
plugin's installers create them (docs/glpi10-schema.md §2); on SQLite the types map to their
plain equivalents and an auto-increment key is ``INTEGER PRIMARY KEY AUTOINCREMENT``.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from sqlalchemy import (CHAR, BigInteger, Column, Date, DateTime, Float, Index, Integer, MetaData, Numeric,
                        SmallInteger, String, Table, Text, text)
from sqlalchemy.dialects import mysql

from schema.base import MYSQL_DIALECTS, SQLITE_PREFIXED_INDEXES
from schema.glpiinventory.description import TABLE_COLLATION, ColumnSpec, TableSpec, parse

GLPI_MAJORS = (10, 11)
DATA = Path(__file__).resolve().parent / "data"
TABLE_CHARSET = "utf8mb4"
PLUGIN_PREFIX = "glpi_plugin_glpiinventory_"

# Description files per area, so that none grows past a few hundred lines.
AREAS = ("core", "accounts", "computers", "devices", "network", "plugin_tasks", "plugin_deploy")
_NETWORK = ("glpi_networkport", "glpi_ipaddresses", "glpi_ipnetworks", "glpi_networknames", "glpi_domains",
            "glpi_snmpcredentials")
_ACCOUNTS = ("glpi_users", "glpi_groups", "glpi_entities")
_COMPUTERS = ("glpi_computer", "glpi_itemvirtualmachines", "glpi_manufacturers", "glpi_states", "glpi_locations",
              "glpi_operatingsystems", "glpi_items_operatingsystems")
_DEVICES = ("glpi_networkequipment", "glpi_printer", "glpi_unmanageds", "glpi_refusedequipments")


def area_of(table_name: str) -> str:
    if table_name.startswith(PLUGIN_PREFIX):
        suffix = table_name[len(PLUGIN_PREFIX):]
        return "plugin_deploy" if suffix.startswith(("deploy", "collect")) else "plugin_tasks"
    if table_name.startswith(_NETWORK):
        return "network"
    for area, prefixes in (("accounts", _ACCOUNTS), ("computers", _COMPUTERS), ("devices", _DEVICES)):
        if table_name.startswith(prefixes):
            return area
    return "core"


def _read(name: str) -> str:
    return resources.files("schema.glpiinventory").joinpath("data", name).read_text(encoding="utf-8")


@functools.cache
def table_specs(glpi: int) -> dict[str, TableSpec]:
    """Every table of GLPI ``glpi`` (10 or 11) with the plugin, by name, in description order."""
    if glpi not in GLPI_MAJORS:
        raise ValueError(f"GLPI {glpi!r} is not described; one of {', '.join(map(str, GLPI_MAJORS))}")
    specs: dict[str, TableSpec] = {}
    for major in GLPI_MAJORS[:GLPI_MAJORS.index(glpi) + 1]:
        for area in AREAS:
            tables, dropped = parse(_read(f"glpi{major}_{area}.tables"))
            for name in dropped:
                del specs[name]
            specs.update((table.name, table) for table in tables)
    return dict(sorted(specs.items()))


@functools.cache
def metadata_for(glpi: int) -> MetaData:
    """The ``MetaData`` holding GLPI ``glpi``'s core and plugin tables (built once)."""
    metadata = MetaData()
    for spec in table_specs(glpi).values():
        build_table(spec, metadata)
    SQLITE_PREFIXED_INDEXES.append(metadata)
    return metadata


def tables(glpi: int) -> dict[str, Table]:
    """GLPI ``glpi``'s tables by name."""
    return dict(metadata_for(glpi).tables)


def build_table(spec: TableSpec, metadata: MetaData) -> Table:
    primary = next((index for index in spec.indexes if index.primary), None)
    keys = set(primary.columns) if primary else set()
    counted = any(column.auto_increment for column in spec.columns)
    columns = [_column(column, column.name in keys) for column in spec.columns]
    indexes = [Index(index.name, *index.columns, unique=index.unique,
                     mysql_length={name: length for name, length in zip(index.columns, index.prefixes) if length})
               for index in spec.indexes if not index.primary]
    return Table(spec.name, metadata, *columns, *indexes, mysql_engine="InnoDB", mysql_charset=TABLE_CHARSET,
                 mysql_collate=TABLE_COLLATION, sqlite_autoincrement=counted)


def _column(spec: ColumnSpec, primary_key: bool) -> Column:
    return Column(spec.name, column_type(spec), primary_key=primary_key, autoincrement=spec.auto_increment,
                  nullable=spec.nullable and not primary_key, server_default=server_default(spec.default))


def column_type(spec: ColumnSpec):
    """The portable type with the exact MariaDB variant; an auto-increment key is plain INTEGER on
    SQLite, the only type SQLite auto-increments."""
    base, arguments, unsigned = spec.base_type, spec.arguments, spec.unsigned
    width = arguments[0] if arguments else None
    if base in _INTEGERS:
        generic, exact = _INTEGERS[base]
        if spec.auto_increment:
            generic = Integer
        return generic().with_variant(exact(display_width=width, unsigned=unsigned), *MYSQL_DIALECTS)
    if base == "varchar":
        return String(width)
    if base == "char":
        return CHAR(width)
    if base == "text":
        return Text()
    if base == "longtext":
        return Text().with_variant(mysql.LONGTEXT(), *MYSQL_DIALECTS)
    if base == "timestamp":
        return DateTime().with_variant(mysql.TIMESTAMP(), *MYSQL_DIALECTS)
    if base == "date":
        return Date()
    if base == "float":
        return Float().with_variant(mysql.FLOAT(), *MYSQL_DIALECTS)
    if base == "decimal":
        return Numeric(*arguments).with_variant(mysql.DECIMAL(*arguments), *MYSQL_DIALECTS)
    raise ValueError(f"column {spec.name}: type {spec.column_type!r} is not supported")


_INTEGERS = {
    "tinyint": (Integer, mysql.TINYINT),
    "smallint": (SmallInteger, mysql.SMALLINT),
    "int": (Integer, mysql.INTEGER),
    "bigint": (BigInteger, mysql.BIGINT),
}


def server_default(default: str | None):
    """The ``server_default`` that makes information_schema show ``default`` again."""
    if default is None or default == "NULL":
        return None
    if default == "current_timestamp()":
        return text("CURRENT_TIMESTAMP")
    if default.startswith("'"):
        return default[1:-1].replace("''", "'")
    return text(default)
