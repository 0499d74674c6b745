"""The table description format of ``schema/glpiinventory/data/*.tables``, and its conversions.

A description is one block per table, written the way MariaDB's ``information_schema`` reports the
installed table (docs/glpi10-schema.md §2), one line per column and per index::

    table glpi_agents
      id int(10) unsigned NOT NULL AUTO_INCREMENT
      deviceid varchar(255) NOT NULL
      entities_id int(10) unsigned NOT NULL DEFAULT 0
      name varchar(255) DEFAULT NULL
      PRIMARY KEY (id)
      UNIQUE KEY deviceid (deviceid)
      KEY item (itemtype,items_id)

A column line is ``name type [unsigned] [NOT NULL] [DEFAULT value] [AUTO_INCREMENT]``, the default
exactly as ``COLUMN_DEFAULT`` shows it (``0``, ``'0'``, ``''``, ``NULL``, ``current_timestamp()``).
Index lines start with upper-case ``PRIMARY KEY``, ``UNIQUE KEY`` or ``KEY`` (a column may be named
``key``); a prefix length is written ``column(200)``. ``#`` starts a comment line. ``drop NAME``
removes a table of the description this one is applied over (GLPI 11 over GLPI 10).

Pure code: parsing, formatting, and the conversion to and from the facts files' JSON shape
(``fixtures/schema/glpi10_glpiinventory158.json``), which the tests compare against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TABLE_COLLATION = "utf8mb4_unicode_ci"
TABLE_ENGINE = "InnoDB"


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    column_type: str  # as information_schema's COLUMN_TYPE: "int(10) unsigned", "varchar(255)"
    nullable: bool
    default: str | None  # as COLUMN_DEFAULT: None = no default, "NULL", "0", "'0'", "current_timestamp()"
    auto_increment: bool = False

    @property
    def base_type(self) -> str:
        return re.match(r"[a-z]+", self.column_type).group(0)

    @property
    def unsigned(self) -> bool:
        return self.column_type.endswith(" unsigned")

    @property
    def arguments(self) -> list[int]:
        """The numbers in the type's parentheses: ``[255]``, ``[20, 4]``, ``[]``."""
        match = re.search(r"\(([^)]*)\)", self.column_type)
        return [int(part) for part in match.group(1).split(",")] if match else []


@dataclass(frozen=True)
class IndexSpec:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    prefixes: tuple[int | None, ...] = ()  # prefix length per column (None: whole column)

    @property
    def primary(self) -> bool:
        return self.name == "PRIMARY"


@dataclass
class TableSpec:
    name: str
    columns: list[ColumnSpec] = field(default_factory=list)
    indexes: list[IndexSpec] = field(default_factory=list)

    def column(self, name: str) -> ColumnSpec:
        return next(column for column in self.columns if column.name == name)


class DescriptionError(ValueError):
    """A description line that does not parse."""


_COLUMN = re.compile(
    r"^(?P<name>\w+) (?P<type>[a-z]+(?:\([\d,]+\))?(?: unsigned)?)"
    r"(?P<not_null> NOT NULL)?(?: DEFAULT (?P<default>'(?:[^']|'')*'|[^ ]+))?(?P<auto> AUTO_INCREMENT)?$")
_INDEX = re.compile(r"^(?:(?P<primary>PRIMARY KEY)|(?P<unique>UNIQUE KEY) (?P<uname>\w+)|KEY (?P<name>\w+))"
                    r" \((?P<columns>[^)]*(?:\(\d+\))?[^)]*)\)$")
_INDEX_COLUMN = re.compile(r"^(\w+)(?:\((\d+)\))?$")


def parse(text: str) -> tuple[list[TableSpec], list[str]]:
    """The tables a description defines, in order, and the names it drops."""
    tables: list[TableSpec] = []
    dropped: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("table "):
            tables.append(TableSpec(line.split(" ", 1)[1].strip()))
        elif line.startswith("drop "):
            dropped.append(line.split(" ", 1)[1].strip())
        elif not tables:
            raise DescriptionError(f"line {number}: {line!r} comes before any `table` line")
        elif line.startswith(("PRIMARY KEY", "UNIQUE KEY", "KEY ")):
            tables[-1].indexes.append(_parse_index(line, number))
        else:
            tables[-1].columns.append(_parse_column(line, number))
    return tables, dropped


def _parse_column(line: str, number: int) -> ColumnSpec:
    match = _COLUMN.match(line)
    if match is None:
        raise DescriptionError(f"line {number}: not a column: {line!r}")
    return ColumnSpec(match["name"], match["type"], nullable=match["not_null"] is None,
                      default=match["default"], auto_increment=match["auto"] is not None)


def _parse_index(line: str, number: int) -> IndexSpec:
    match = _INDEX.match(line)
    if match is None:
        raise DescriptionError(f"line {number}: not an index: {line!r}")
    names, prefixes = [], []
    for part in match["columns"].split(","):
        column = _INDEX_COLUMN.match(part.strip())
        if column is None:
            raise DescriptionError(f"line {number}: bad index column {part!r}")
        names.append(column.group(1))
        prefixes.append(int(column.group(2)) if column.group(2) else None)
    name = "PRIMARY" if match["primary"] else (match["uname"] or match["name"])
    return IndexSpec(name, tuple(names), unique=bool(match["primary"] or match["unique"]),
                     prefixes=tuple(prefixes) if any(p is not None for p in prefixes) else ())


def format_column(column: ColumnSpec) -> str:
    parts = [column.name, column.column_type]
    if not column.nullable:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.auto_increment:
        parts.append("AUTO_INCREMENT")
    return " ".join(parts)


def format_index(index: IndexSpec) -> str:
    prefixes = index.prefixes or (None,) * len(index.columns)
    columns = ",".join(name if prefix is None else f"{name}({prefix})"
                       for name, prefix in zip(index.columns, prefixes))
    if index.primary:
        return f"PRIMARY KEY ({columns})"
    return f"{'UNIQUE KEY' if index.unique else 'KEY'} {index.name} ({columns})"


def format_tables(tables: list[TableSpec], dropped: list[str] = (), header: str = "") -> str:
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"drop {name}" for name in dropped]
    for table in tables:
        if lines:
            lines.append("")
        lines.append(f"table {table.name}")
        lines += [f"  {format_column(column)}" for column in table.columns]
        lines += [f"  {format_index(index)}" for index in table.indexes]
    return "\n".join(lines) + "\n"


def from_facts(name: str, facts: dict) -> TableSpec:
    """A table of a facts file (information_schema, as JSON) as a description."""
    if (facts["engine"], facts["collation"]) != (TABLE_ENGINE, TABLE_COLLATION):
        raise DescriptionError(f"{name}: only {TABLE_ENGINE} {TABLE_COLLATION} tables are described")
    table = TableSpec(name)
    for column in facts["columns"]:
        if column["collation"] not in (None, TABLE_COLLATION) or column["extra"] not in ("", "auto_increment"):
            raise DescriptionError(f"{name}.{column['name']}: collation or extra cannot be described")
        table.columns.append(ColumnSpec(column["name"], column["column_type"], column["is_nullable"] == "YES",
                                        column["column_default"], column["extra"] == "auto_increment"))
    for index in facts["indexes"]:
        prefixes = tuple(index.get("sub_parts") or ())
        table.indexes.append(IndexSpec(index["name"], tuple(index["columns"]), index["unique"], prefixes))
    return table


_TEXT_TYPES = ("varchar", "char", "text", "longtext")


def to_facts(table: TableSpec) -> dict:
    """The facts-file form of a description: what information_schema shows once it is created."""
    columns = [{"name": c.name, "column_type": c.column_type, "is_nullable": "YES" if c.nullable else "NO",
                "column_default": c.default, "extra": "auto_increment" if c.auto_increment else "",
                "collation": TABLE_COLLATION if c.base_type in _TEXT_TYPES else None} for c in table.columns]
    indexes = []
    for index in table.indexes:
        entry = {"name": index.name, "unique": index.unique, "type": "BTREE", "columns": list(index.columns)}
        if index.prefixes:
            entry["sub_parts"] = list(index.prefixes)
        indexes.append(entry)
    return {"engine": TABLE_ENGINE, "collation": TABLE_COLLATION, "columns": columns, "indexes": indexes}
