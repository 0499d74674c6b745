"""GLPI 10/11 + glpiinventory schema facts (fixtures/schema/) for the tests: the facts files, a
database's structure in the same shape, a readable diff, and a "real GLPI" made from the facts
alone (its own DDL writer, independent of schema/glpiinventory)."""

from __future__ import annotations

import difflib
import importlib.util
import json
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "schema"
FACTS_FILES = {10: FIXTURES / "glpi10_glpiinventory158.json", 11: FIXTURES / "glpi11_glpiinventory1610.json"}
SEED_ROWS_FILE = FIXTURES / "glpi10_seed_rows.json"
# What a real GLPI writes in glpi_configs about itself (the bridge's own install does not).
CORE_VERSIONS = {10: "10.0.19", 11: "11.0.7"}


def facts(glpi: int) -> dict:
    return json.loads(FACTS_FILES[glpi].read_text())


def seed_facts() -> dict[str, list[dict]]:
    return json.loads(SEED_ROWS_FILE.read_text())


def _snapshot_module():
    spec = importlib.util.spec_from_file_location("schema_snapshot", FIXTURES / "snapshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def structure(engine: Engine, names) -> dict:
    """The tables ``names`` of a MariaDB database as information_schema shows them, in the facts
    files' shape (no row format or comments; prefix lengths as ``sub_parts``)."""
    shot = _snapshot_module().snapshot_database(engine, names)
    result = {}
    for name, table in shot.items():
        columns = [{key: value for key, value in column.items() if key != "comment"} for column in table["columns"]]
        indexes = []
        for index in table["indexes"]:
            names_, prefixes = [], []
            for column in index["columns"]:
                base, _, prefix = column.partition("(")
                names_.append(base)
                prefixes.append(int(prefix.rstrip(")")) if prefix else None)
            entry = {"name": index["name"], "unique": index["unique"], "type": index["type"], "columns": names_}
            if any(p is not None for p in prefixes):
                entry["sub_parts"] = prefixes
            indexes.append(entry)
        result[name] = {"engine": table["engine"], "collation": table["collation"], "columns": columns,
                        "indexes": indexes}
    return result


def _lines(table: dict | None) -> list[str]:
    if table is None:
        return ["(table missing)"]
    lines = [f"engine: {table['engine']}", f"collation: {table['collation']}"]
    lines += ["column " + json.dumps(column, sort_keys=True) for column in table["columns"]]
    lines += ["index " + json.dumps(index, sort_keys=True) for index in sorted(table["indexes"],
                                                                              key=lambda i: i["name"])]
    return lines


def differences(expected: dict, actual: dict) -> str:
    """A unified diff per table that differs ('' when every expected table is identical)."""
    out = []
    for name in sorted(expected):
        want, got = _lines(expected[name]), _lines(actual.get(name))
        if want != got:
            out.append(f"--- {name}\n" + "\n".join(difflib.unified_diff(want, got, "facts", "created", n=0,
                                                                         lineterm="")))
    return "\n".join(out)


# --- a GLPI 10/11 installed by "GLPI" (from the facts, not from the bridge's definitions) --------

def _column_sql(column: dict) -> str:
    sql = f"`{column['name']}` {column['column_type']}"
    sql += " NOT NULL" if column["is_nullable"] == "NO" else " NULL"
    default = column["column_default"]
    if default is not None and not (default == "NULL" and column["is_nullable"] == "YES"):
        sql += f" DEFAULT {default}"
    if column["extra"] == "auto_increment":
        sql += " AUTO_INCREMENT"
    return sql


def _index_sql(index: dict) -> str:
    prefixes = index.get("sub_parts") or [None] * len(index["columns"])
    columns = ", ".join(f"`{c}`" if p is None else f"`{c}`({p})" for c, p in zip(index["columns"], prefixes))
    if index["name"] == "PRIMARY":
        return f"PRIMARY KEY ({columns})"
    return f"{'UNIQUE ' if index['unique'] else ''}KEY `{index['name']}` ({columns})"


def create_from_facts(conn: Connection, tables: dict) -> None:
    for name, table in tables.items():
        parts = [_column_sql(c) for c in table["columns"]] + [_index_sql(i) for i in table["indexes"]]
        conn.execute(text(f"CREATE TABLE `{name}` (\n  " + ",\n  ".join(parts) +
                          f"\n) ENGINE={table['engine']} DEFAULT CHARSET=utf8mb4 COLLATE={table['collation']}"))


def install_glpi(engine: Engine, glpi: int, with_plugin: bool = True) -> None:
    """A database as GLPI ``glpi`` (+ glpiinventory) installs it: the facts' tables, the install
    rows of the seed facts, GLPI's version row, and a few rows of a site in use."""
    tables = facts(glpi)
    if not with_plugin:
        tables = {name: table for name, table in tables.items() if not name.startswith("glpi_plugin_")}
    with engine.begin() as conn:
        conn.execute(text("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')"))
        create_from_facts(conn, tables)
        for name, rows in seed_facts().items():
            if name in tables:
                for row in rows:
                    columns = [c for c in row if c in {col["name"] for col in tables[name]["columns"]}]
                    conn.execute(text(f"INSERT INTO `{name}` ({', '.join(f'`{c}`' for c in columns)}) VALUES "
                                      f"({', '.join(':' + c for c in columns)})"), {c: row[c] for c in columns})
        conn.execute(text("INSERT INTO glpi_configs (context, name, value) VALUES ('core', 'version', :v)"),
                     {"v": CORE_VERSIONS[glpi]})
        conn.execute(text("INSERT INTO glpi_agents (deviceid, name, agenttypes_id, itemtype, items_id) "
                          "VALUES (:d, :d, 1, 'Computer', 0)"), {"d": f"pc-{uuid.uuid4().hex[:6]}"})


def dump(engine: Engine) -> dict:
    """Every table's DDL, row count and checksum (MariaDB): what a no-op leaves alone."""
    with engine.connect() as conn:
        result = {}
        for (name,) in conn.execute(text("SHOW TABLES")).all():
            result[name] = {"create": conn.execute(text(f"SHOW CREATE TABLE `{name}`")).one()[1],
                            "rows": conn.execute(text(f"SELECT COUNT(*) FROM `{name}`")).scalar(),
                            "checksum": conn.execute(text(f"CHECKSUM TABLE `{name}`")).one()[1]}
        return result
