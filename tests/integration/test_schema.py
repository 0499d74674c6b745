"""The schema package: table definitions, install rows, init_database and check_database.

Runs on SQLite and on MariaDB (127.0.0.1:3306 as root, or FUSION_BRIDGE_TEST_MYSQL_URL);
MariaDB being unreachable is a failure, never a skip. The fixtures live here on purpose.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import threading
import uuid
from pathlib import Path

import pymysql
import pytest
from sqlalchemy import Column, Index, Integer, MetaData, Table, create_engine, delete, event, func, insert
from sqlalchemy import inspect
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url

import schema
import schema.install
from schema.constants import TaskjobLogState, TaskjobState
from tests.helpers.plugin_install import PLUGIN_MODULES, REFERENCE

ROOT = Path(__file__).resolve().parents[2]
SERVER_URL = make_url(os.environ.get("FUSION_BRIDGE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/"))

ALL_TABLES = {table.name for table in schema.metadata.sorted_tables}
BRIDGE_NAMES = {table.name for table in schema.BRIDGE_TABLES}


def _load_snapshot_module():
    path = ROOT / "fixtures" / "schema" / "snapshot.py"
    spec = importlib.util.spec_from_file_location("schema_snapshot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


snapshot = _load_snapshot_module()


# --- databases -----------------------------------------------------------------------------

def _server_connection():
    try:
        return pymysql.connect(host=SERVER_URL.host or "127.0.0.1", port=SERVER_URL.port or 3306,
                               user=SERVER_URL.username or "root", password=SERVER_URL.password or "",
                               connect_timeout=5, autocommit=True)
    except pymysql.MySQLError as error:
        pytest.fail(f"MariaDB is required at {SERVER_URL.render_as_string()} and did not answer: {error}")


@pytest.fixture
def mariadb_url():
    """A fresh, empty MariaDB database, dropped afterwards."""
    name = f"fb_schema_test_{uuid.uuid4().hex[:12]}"
    with _server_connection() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    yield SERVER_URL.set(database=name).update_query_dict({"charset": "utf8mb4"}).render_as_string(
        hide_password=False)
    with _server_connection() as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def empty_engine(request):
    return request.getfixturevalue(f"{request.param}_engine")


def dump(engine, checksums: bool = False) -> dict:
    """Every table's DDL and row count (and MySQL checksum): what a no-op must leave alone."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            master = conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master"
                                       " ORDER BY type, name"))
            result = {"sqlite_master": [tuple(row) for row in master]}
            for name in inspect(conn).get_table_names():
                result[name] = conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar()
            return result
        result = {}
        for (name,) in conn.execute(text("SHOW TABLES")).all():
            create = conn.execute(text(f"SHOW CREATE TABLE `{name}`")).one()[1]
            count = conn.execute(text(f"SELECT COUNT(*) FROM `{name}`")).scalar()
            entry = {"create": create, "rows": count}
            if checksums:
                entry["checksum"] = conn.execute(text(f"CHECKSUM TABLE `{name}`")).one()[1]
            result[name] = entry
        return result


def rows(engine, table, *columns):
    with engine.connect() as conn:
        statement = select(*[table.c[c] for c in columns]).order_by(table.c[columns[0]])
        return [tuple(row) for row in conn.execute(statement)]


def build_glpi_with_plugin(engine, tables=None) -> None:
    """A database shaped like GLPI + the plugin, made without the bridge's meta (not standalone)."""
    complete = tables is None
    tables = [*schema.CORE_TABLES, *schema.PLUGIN_TABLES] if complete else tables
    schema.metadata.create_all(engine, tables=tables)
    with engine.begin() as conn:
        if complete:
            schema.insert_missing_seed_rows(conn)
        conn.execute(insert(schema.agents).values(name="pc01", device_id="pc01-2024", computers_id=3))


# --- definitions ---------------------------------------------------------------------------

def test_sqlite_index_names_are_prefixed_only_for_our_tables(sqlite_engine):
    other = MetaData()
    Table("other", other, Column("id", Integer, primary_key=True), Column("name", Integer),
          Index("name", "name"))
    other.create_all(sqlite_engine)
    schema.metadata.create_all(sqlite_engine, tables=[schema.agents, schema.glpi_computers])
    inspector = inspect(sqlite_engine)
    names = {ix["name"] for table in ("other", schema.agents.name) for ix in inspector.get_indexes(table)}
    assert {"name", f"{schema.agents.name}__name", f"{schema.agents.name}__device_id"} <= names


# --- standalone: created by the bridge ----------------------------------------------------

def test_init_on_empty_database_creates_and_seeds_everything(empty_engine):
    report = schema.init_database(empty_engine)
    assert report.mode == "created"
    assert sorted(report.tables_created) == sorted(ALL_TABLES)
    assert report.problems == []
    assert set(inspect(empty_engine).get_table_names()) == ALL_TABLES
    assert rows(empty_engine, schema.agentmodules, "id", "modulename", "is_active", "exceptions") == [
        (i, name, active, "[]") for i, (name, active) in enumerate(PLUGIN_MODULES, start=1)]
    config = dict(rows(empty_engine, schema.configs, "type", "value"))
    [(user_id,)] = rows(empty_engine, schema.glpi_users, "id")
    assert config["inventory_frequence"] == "24" and config["users_id"] == str(user_id)
    assert rows(empty_engine, schema.configsecurities, "id", "name", "snmpversion", "community") == [
        (1, "Public community v1", "1", "public"), (2, "Public community v2c", "2", "public")]
    assert rows(empty_engine, schema.entities, "entities_id", "transfers_id_auto", "agent_base_url") == [
        (0, 0, "")]
    assert rows(empty_engine, schema.glpi_entities, "id", "name", "entities_id", "completename", "level") == [
        (0, "Root entity", -1, "Root entity", 1)]
    assert rows(empty_engine, schema.glpi_plugins, "directory", "version", "state") == [
        ("fusioninventory", "9.5+4.2", 1)]
    assert len(rows(empty_engine, schema.glpi_crontasks, "id")) == 6
    assert dict(rows(empty_engine, schema.bridge_meta, "name", "value")) == {
        "standalone": "1", "schema_version": schema.SCHEMA_VERSION}
    check = schema.check_database(empty_engine)
    assert check.ok, check.problems()
    assert {t.status for t in check.tables} == {"ok"} and len(check.tables) == len(ALL_TABLES)


def test_init_on_a_sqlite_engine_that_begins_its_own_transactions(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'own.sqlite'}")

    @event.listens_for(engine, "connect")
    def _autocommit(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    assert schema.init_database(engine).mode == "created"
    assert schema.init_database(engine).rows_seeded == []
    assert schema.check_database(engine).ok
    engine.dispose()


def test_failed_sqlite_init_leaves_nothing_behind(sqlite_engine, monkeypatch):
    def fail(conn):
        raise RuntimeError("seeding failed")

    monkeypatch.setattr(schema.install, "insert_missing_seed_rows", fail)
    with pytest.raises(RuntimeError, match="seeding failed"):
        schema.init_database(sqlite_engine)
    assert inspect(sqlite_engine).get_table_names() == []


def test_second_init_changes_nothing(empty_engine):
    schema.init_database(empty_engine)
    before = dump(empty_engine)
    report = schema.init_database(empty_engine)
    assert (report.mode, report.tables_created, report.rows_seeded, report.problems) == (
        "standalone-upgraded", [], [], [])
    assert dump(empty_engine) == before


def test_standalone_upgrade_restores_missing_tables_and_rows_only(empty_engine):
    schema.init_database(empty_engine)
    files = schema.TABLES_BY_NAME["glpi_plugin_fusioninventory_collects_files"]
    files.drop(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(delete(schema.agentmodules).where(schema.agentmodules.c.modulename == "DEPLOY"))
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == "Collect")
                     .values(modulename="COLLECT", is_active=0))
        conn.execute(delete(schema.configs).where(schema.configs.c.type == "ssl_only"))
        conn.execute(update(schema.configs).where(schema.configs.c.type == "inventory_frequence")
                     .values(value="12"))
    report = schema.init_database(empty_engine)
    assert report.mode == "standalone-upgraded"
    assert report.tables_created == [files.name]
    assert sorted(report.rows_seeded) == [
        "glpi_plugin_fusioninventory_agentmodules:modulename=DEPLOY",
        "glpi_plugin_fusioninventory_configs:type=ssl_only"]
    modules = dict(rows(empty_engine, schema.agentmodules, "modulename", "is_active"))
    assert modules["COLLECT"] == 0 and "Collect" not in modules and modules["DEPLOY"] == 1
    assert dict(rows(empty_engine, schema.configs, "type", "value"))["inventory_frequence"] == "12"


def test_bigint_keys_auto_increment(empty_engine):
    schema.init_database(empty_engine)
    with empty_engine.begin() as conn:
        def new_id(table, **values):
            return conn.execute(insert(table).values(**values)).inserted_primary_key[0]

        first = new_id(schema.taskjobstates, items_id=5, itemtype="Computer")
        second = new_id(schema.taskjoblogs, plugin_fusioninventory_taskjobstates_id=first,
                        state=TaskjobLogState.PREPARED)
        third = new_id(schema.taskjobstates, items_id=6)
    assert (first, second, third) == (1, 1, 2)
    [row] = rows(empty_engine, schema.taskjobstates, "id", "state", "max_retry", "nb_retry")[:1]
    assert row == (1, TaskjobState.PREPARED, 1, 0)


@pytest.mark.mariadb
def test_init_takes_the_schema_lock(mariadb_engine, monkeypatch):
    monkeypatch.setattr(schema.install, "LOCK_TIMEOUT_SECONDS", 1)
    with mariadb_engine.connect() as holder:
        assert holder.execute(text("SELECT GET_LOCK('fusion-bridge-schema', 1)")).scalar() == 1
        with pytest.raises(schema.SchemaError, match="lock"):
            schema.init_database(mariadb_engine)
        holder.execute(text("SELECT RELEASE_LOCK('fusion-bridge-schema')"))
    assert inspect(mariadb_engine).get_table_names() == []


@pytest.mark.mariadb
def test_concurrent_inits_make_one_schema(mariadb_url):
    engines = [create_engine(mariadb_url) for _ in range(3)]
    reports, errors = [], []
    barrier = threading.Barrier(len(engines))

    def run(engine):
        barrier.wait()
        try:
            reports.append(schema.init_database(engine))
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.mode for r in reports) == ["created", "standalone-upgraded", "standalone-upgraded"]
    assert len(rows(engines[0], schema.agentmodules, "id")) == 7
    for engine in engines:
        engine.dispose()


# --- a real GLPI -------------------------------------------------------------------------

@pytest.mark.mariadb
def test_existing_glpi_gets_only_the_bridge_tables(mariadb_engine):
    build_glpi_with_plugin(mariadb_engine)
    with mariadb_engine.begin() as conn:
        # What a real GLPI has beyond our definitions, and a database never migrated to timestamps.
        conn.execute(text("CREATE TABLE glpi_configs (id int(11) NOT NULL AUTO_INCREMENT PRIMARY KEY,"
                          " name varchar(150)) ENGINE=InnoDB DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci"))
        conn.execute(text("ALTER TABLE glpi_computers ADD COLUMN is_extra tinyint(1) NOT NULL DEFAULT '0'"))
        conn.execute(text("ALTER TABLE glpi_plugin_fusioninventory_agents MODIFY last_contact datetime NULL"))
    before = dump(mariadb_engine, checksums=True)

    report = schema.init_database(mariadb_engine)

    assert report.mode == "existing-glpi"
    assert sorted(report.tables_created) == sorted(BRIDGE_NAMES)
    assert report.rows_seeded == []
    assert report.problems == [
        "glpi_plugin_fusioninventory_agents: column last_contact is datetime, GLPI 9.5 has timestamp"]
    after = dump(mariadb_engine, checksums=True)
    assert set(after) - set(before) == BRIDGE_NAMES
    for name, entry in before.items():
        assert after[name] == entry, name
    assert dict(rows(mariadb_engine, schema.bridge_meta, "name", "value")) == {
        "standalone": "0", "schema_version": schema.SCHEMA_VERSION}

    again = schema.init_database(mariadb_engine)
    assert (again.mode, again.tables_created, again.rows_seeded) == ("existing-glpi", [], [])
    assert dump(mariadb_engine, checksums=True) == after
    check = schema.check_database(mariadb_engine)
    assert check.ok, check.problems()
    assert check.table("glpi_plugin_fusioninventory_agents").type_notes == [
        "column last_contact is datetime, GLPI 9.5 has timestamp"]


def test_glpi_with_only_part_of_the_plugin_is_refused(empty_engine):
    build_glpi_with_plugin(empty_engine, [*schema.CORE_TABLES, *schema.PLUGIN_TABLES[:10]])
    before = dump(empty_engine)
    with pytest.raises(schema.SchemaError, match="FusionInventory plugin") as raised:
        schema.init_database(empty_engine)
    assert "glpi_plugin_fusioninventory_timeslots" in str(raised.value)
    assert dump(empty_engine) == before
    assert not BRIDGE_NAMES & set(inspect(empty_engine).get_table_names())


def test_glpi_without_the_plugin_is_refused(sqlite_engine):
    schema.metadata.create_all(sqlite_engine, tables=schema.CORE_TABLES)
    with pytest.raises(schema.SchemaError, match="45 required tables are missing"):
        schema.init_database(sqlite_engine)
    assert set(inspect(sqlite_engine).get_table_names()) == {t.name for t in schema.CORE_TABLES}


# --- check_database ----------------------------------------------------------------------

def test_check_reports_missing_tables_columns_and_rows(sqlite_engine):
    with sqlite_engine.begin() as conn:
        conn.execute(text("CREATE TABLE glpi_plugin_fusioninventory_agents"
                          " (id INTEGER PRIMARY KEY, name TEXT, device_id TEXT, extra TEXT)"))
    schema.metadata.create_all(sqlite_engine, tables=[schema.agentmodules, schema.configs])
    report = schema.check_database(sqlite_engine)
    assert not report.ok
    agents_check = report.table(schema.agents.name)
    assert agents_check.status == "incomplete"
    assert "last_contact" in agents_check.missing_columns and "device_id" not in agents_check.missing_columns
    assert report.table(schema.tasks.name).status == "missing"
    assert report.table(schema.configs.name).status == "ok"
    assert [(s.description, s.ok) for s in report.seeds] == [
        ("glpi_plugin_fusioninventory_agentmodules modulename=INVENTORY", False),
        ("glpi_plugin_fusioninventory_configs type=inventory_frequence", False)]
    with sqlite_engine.begin() as conn:
        conn.execute(insert(schema.agentmodules).values(modulename="inventory", is_active=1))
        conn.execute(insert(schema.configs).values(type="inventory_frequence", value="24"))
    assert all(s.ok for s in schema.check_database(sqlite_engine).seeds)
    assert "table glpi_plugin_fusioninventory_tasks is missing" in report.problems()


# --- conformance with the plugin's own SQL -------------------------------------------------

def _structure_lines(table: dict | None) -> list[str]:
    """One line per table option, column and index, so a diff names what differs."""
    if table is None:
        return ["(table missing)"]
    lines = [f"{key}: {table[key]!r}" for key in ("engine", "collation", "row_format", "comment")]
    lines += ["column " + json.dumps(column) for column in table["columns"]]
    lines += ["index " + json.dumps(index) for index in table["indexes"]]
    return lines


@pytest.mark.mariadb
def test_tables_are_identical_to_the_plugins_and_glpis(mariadb_engine):
    """init_database creates every table exactly as the plugin's install SQL and GLPI 9.5.0's
    SQL do, per information_schema, on the same server the reference was recorded from."""
    reference = json.loads(REFERENCE.read_text())["tables"]
    schema.init_database(mariadb_engine)
    ours = snapshot.snapshot_database(mariadb_engine, reference)
    differences = []
    for name in sorted(reference):
        expected, actual = _structure_lines(reference[name]), _structure_lines(ours.get(name))
        if expected != actual:
            differences.append(f"--- {name}\n" + "\n".join(
                difflib.unified_diff(expected, actual, "plugin/GLPI SQL", "fusion-bridge", n=0, lineterm="")))
    assert not differences, "\n".join(differences)


@pytest.mark.mariadb
def test_collation_makes_module_lookup_case_insensitive(mariadb_engine):
    schema.init_database(mariadb_engine)
    with mariadb_engine.connect() as conn:
        found = conn.execute(select(schema.agentmodules.c.modulename)
                             .where(schema.agentmodules.c.modulename == "collect")).scalar()
        same = conn.execute(select(func.count()).select_from(schema.configs)
                            .where(schema.configs.c.type == "INVENTORY_FREQUENCE")).scalar()
    assert (found, same) == ("Collect", 1)
