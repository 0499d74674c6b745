"""The glpiinventory flavour's DDL side: `db init --schema glpiinventory` on empty databases (every
table identical to the facts files), on an existing GLPI 10/11 (nothing of GLPI's changes), and
`detect_flavour` on 9.5 / 10 / 11 / empty databases, on SQLite and MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, select, text

import schema
from schema.bridge import bridge_tables
from schema.glpiinventory import seed_rows, tables
from schema.glpiinventory.import_tables import import_tables
from tests.helpers import cli
from tests.helpers.glpiinventory_schema import (CORE_VERSIONS, differences, dump, facts, install_glpi, seed_facts,
                                                structure)

BRIDGE_NAMES = {table.name for table in schema.BRIDGE_TABLES}
# Not in the facts: core tables the imports write, created on an empty database only (docs/glpi10-schema.md §7).
IMPORT_NAMES = {table.name for table in import_tables(10)}


@pytest.fixture
def mariadb_url(mariadb_server):
    url = mariadb_server.create_database("fb_glpiinv")
    yield url
    mariadb_server.drop_database(url)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'glpiinventory.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def empty_url(request):
    return request.getfixturevalue(f"{request.param}_url")


def _engine(url):
    return create_engine(url)


def _rows(engine, name, columns):
    table = tables(10 if name not in tables(11) else 11)[name]
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(*[table.c[c] for c in columns])
                                                  .order_by(*[table.c[c] for c in columns[:1]])).mappings()]


# --- empty database --------------------------------------------------------------------------

@pytest.mark.mariadb
@pytest.mark.parametrize("glpi", [10, 11])
def test_init_on_empty_mariadb_creates_every_table_and_row_as_the_facts(mariadb_url, mariadb_engine, glpi):
    output = cli.run(mariadb_url, "db", "init", "--schema", "glpiinventory", "--glpi", str(glpi)).output
    assert f"created the GLPI {glpi} and glpiinventory plugin tables" in output
    expected = facts(glpi)
    problems = differences(expected, structure(mariadb_engine, expected))
    assert not problems, "tables differ from the facts:\n" + problems
    assert set(inspect(mariadb_engine).get_table_names()) == set(expected) | BRIDGE_NAMES | IMPORT_NAMES
    bridge = structure(mariadb_engine, BRIDGE_NAMES)
    assert {table["collation"] for table in bridge.values()} == {"utf8mb4_unicode_ci"}
    assert bridge["glpi_plugin_fusionbridge_runs"]["columns"][0]["column_type"] == "int(10) unsigned"
    for name, rows in _expected_install_rows(glpi).items():
        columns = list(rows[0])
        key = (lambda row: row["id"]) if "id" in columns else (lambda row: tuple(str(row[c]) for c in columns))
        assert sorted(_rows(mariadb_engine, name, columns), key=key) == sorted(rows, key=key), name
    assert _detected(mariadb_engine) == DETECTED[f"glpi{glpi}"]
    before = dump(mariadb_engine)
    again = cli.as_json(mariadb_url, "db", "init")
    assert (again["mode"], again["tables_created"], again["rows_seeded"], again["glpi"]) == (
        "standalone-upgraded", [], [], glpi)
    assert dump(mariadb_engine) == before


def _expected_install_rows(glpi: int) -> dict[str, list[dict]]:
    """The observed GLPI 10 rows; for 11 with its additions (docs/glpi10-schema.md §4.3)."""
    rows = seed_facts()
    if glpi == 11:
        rows["glpi_configs"] += [{"context": "inventory", "name": name, "value": value} for name, value in (
            ("stale_agents_status_condition", '["all"]'), ("import_env", "0"), ("auth_required", "none"),
            ("basic_auth_login", ""), ("basic_auth_password", ""))]
        for row in rows["glpi_crontasks"]:
            row["name"] = "cleanorphansinventory" if row["name"] == "cleanorphans" else row["name"]
        rows["glpi_plugins"][0]["version"] = "1.6.10"
        for row in rows["glpi_plugin_glpiinventory_configs"]:
            row["value"] = "1.6.10" if row["type"] == "version" else row["value"]
        rows["glpi_displaypreferences"] = [{**row, "interface": "central"} for row in rows["glpi_displaypreferences"]]
    return rows


def test_init_glpiinventory_on_empty_sqlite_then_again_changes_nothing(sqlite_url):
    empty_url = sqlite_url
    engine = _engine(empty_url)
    report = schema.init_database(engine, "glpiinventory", 10)
    assert (report.mode, len(report.rows_seeded), report.problems) == ("created", 133, [])
    assert sorted(report.tables_created) == sorted(set(facts(10)) | BRIDGE_NAMES | IMPORT_NAMES)
    with engine.connect() as conn:
        meta = dict(conn.execute(select(schema.bridge_meta.c.name, schema.bridge_meta.c.value)).all())
    assert meta == {"standalone": "1", "schema_version": schema.SCHEMA_VERSION, "flavour": "glpiinventory",
                    "glpi_major": "10"}
    again = cli.as_json(empty_url, "db", "init")  # auto: what the database holds
    assert (again["mode"], again["tables_created"], again["rows_seeded"], again["glpi"]) == (
        "standalone-upgraded", [], [], 10)
    check = schema.check_database(engine)
    assert check.ok and check.notes() == [], check.problems()
    assert (check.schema.flavour, check.schema.glpi) == ("glpiinventory", 10)
    engine.dispose()


def test_requests_the_database_contradicts_are_refused(sqlite_url):
    cli.run(sqlite_url, "db", "init", "--schema", "glpiinventory", "--glpi", "11")
    refused = cli.run(sqlite_url, "db", "init", "--glpi", "10", expect=1).output
    assert "not GLPI 10; created nothing" in refused
    refused = cli.run(sqlite_url, "db", "init", "--schema", "fusioninventory", expect=1).output
    assert "holds GLPI 11 with the glpiinventory plugin" in refused
    assert "--glpi goes with --schema glpiinventory" in cli.run(
        sqlite_url, "db", "init", "--schema", "fusioninventory", "--glpi", "10", expect=2).output


def test_default_init_is_still_fusioninventory(sqlite_url):
    report = cli.as_json(sqlite_url, "db", "init")
    assert (report["mode"], report["flavour"], report["glpi"]) == ("created", "fusioninventory", 9)
    assert "glpi_plugin_fusioninventory_agents" in report["tables_created"]
    env = {"FUSION_BRIDGE_SCHEMA": "glpiinventory"}
    assert "holds GLPI 9.5 with the FusionInventory plugin" in cli.run(sqlite_url, "db", "init", env=env,
                                                                        expect=1).output


# --- an existing GLPI ------------------------------------------------------------------------

@pytest.mark.mariadb
@pytest.mark.parametrize("glpi", [10, 11])
def test_init_on_an_existing_glpi_changes_nothing_of_glpis(mariadb_url, mariadb_engine, glpi):
    install_glpi(mariadb_engine, glpi)
    before = dump(mariadb_engine)
    report = cli.as_json(mariadb_url, "db", "init", "--schema", "glpiinventory")
    assert (report["mode"], report["glpi"], report["rows_seeded"], report["problems"]) == (
        "existing-glpi", glpi, [], [])
    assert sorted(report["tables_created"]) == sorted(BRIDGE_NAMES)
    after = dump(mariadb_engine)
    assert set(after) - set(before) == BRIDGE_NAMES
    assert {name: after[name] for name in before} == before
    assert cli.as_json(mariadb_url, "db", "init")["tables_created"] == []
    assert {name: entry for name, entry in dump(mariadb_engine).items() if name in before} == before
    check = cli.run(mariadb_url, "db", "check", "--no-scheduler").output
    assert check.startswith(f"schema     glpiinventory: GLPI {CORE_VERSIONS[glpi]} with the glpiinventory "
                            "plugin (table glpi_plugin_glpiinventory_taskjobstates; glpi_configs core version")
    assert "database is ready" in check


@pytest.mark.mariadb
def test_existing_glpi_column_differences_are_notes_and_other_majors_refused(mariadb_url, mariadb_engine):
    install_glpi(mariadb_engine, 10)
    with mariadb_engine.begin() as conn:  # a GLPI 10.0.19 install still has the older token column
        conn.execute(text("ALTER TABLE glpi_users MODIFY password_forget_token char(40) DEFAULT NULL"))
    before = dump(mariadb_engine)
    assert "this database is GLPI 10" in cli.run(mariadb_url, "db", "init", "--glpi", "11", expect=1).output
    assert dump(mariadb_engine) == before
    report = schema.init_database(mariadb_engine)
    assert report.problems == ["glpi_users: column password_forget_token is char(40), GLPI 10 has varchar(255)"]


@pytest.mark.mariadb
def test_glpi_without_the_plugin_is_refused(mariadb_url, mariadb_engine):
    install_glpi(mariadb_engine, 10, with_plugin=False)
    before = dump(mariadb_engine)
    refused = cli.run(mariadb_url, "db", "init", expect=1).output
    assert "not a GLPI 10 with the glpiinventory plugin installed: 32 required tables are missing" in refused
    assert dump(mariadb_engine) == before


# --- detection -------------------------------------------------------------------------------

def _made(engine, kind):
    if kind == "fusioninventory":
        schema.init_database(engine)
    elif kind in ("glpi10", "glpi11"):
        schema.init_database(engine, "glpiinventory", int(kind[4:]))
    elif kind.startswith("structure"):  # GLPI's own install, without the bridge's meta or a version row
        tables(int(kind[-2:]))["glpi_agents"].metadata.create_all(engine)


DETECTED = {
    "empty": (None, None, ""),
    "fusioninventory": ("fusioninventory", 9, "table glpi_plugin_fusioninventory_taskjobstates; no glpi_agents "
                                              "table (GLPI 9.5)"),
    "glpi10": ("glpiinventory", 10, "table glpi_plugin_glpiinventory_taskjobstates; "
                                    "glpi_plugin_fusionbridge_meta glpi_major 10"),
    "glpi11": ("glpiinventory", 11, "table glpi_plugin_glpiinventory_taskjobstates; "
                                    "glpi_plugin_fusionbridge_meta glpi_major 11"),
    "structure10": ("glpiinventory", 10, "table glpi_plugin_glpiinventory_taskjobstates; table glpi_agents "
                                         "without glpi_groups_items (GLPI 10)"),
    "structure11": ("glpiinventory", 11, "table glpi_plugin_glpiinventory_taskjobstates; table glpi_groups_items "
                                         "(GLPI 11)"),
}


def _detected(engine):
    with engine.connect() as conn:
        found = schema.detect_flavour(conn)
    return found.flavour, found.glpi, found.evidence


@pytest.mark.parametrize("kind", list(DETECTED))
def test_detect_flavour_on_sqlite(sqlite_url, kind):
    engine = _engine(sqlite_url)
    _made(engine, kind)
    assert _detected(engine) == DETECTED[kind]
    engine.dispose()


@pytest.mark.mariadb
def test_detect_flavour_on_mariadb_as_the_database_changes(mariadb_engine):
    assert _detected(mariadb_engine) == DETECTED["empty"]
    _made(mariadb_engine, "structure10")
    assert _detected(mariadb_engine) == DETECTED["structure10"]
    tables(11)["glpi_groups_items"].create(mariadb_engine)
    assert _detected(mariadb_engine) == DETECTED["structure11"]
    with mariadb_engine.begin() as conn:
        conn.execute(text("INSERT INTO glpi_configs (context, name, value) VALUES ('core', 'version', '10.0.22')"))
    assert _detected(mariadb_engine)[1] == 10  # GLPI's own word comes first


def test_detect_flavour_of_the_suites_fusioninventory_databases(engine):
    assert _detected(engine) == DETECTED["fusioninventory"]


def test_create_bridge_tables_follows_the_flavour(sqlite_url):
    engine = _engine(sqlite_url)
    with engine.begin() as conn:
        assert sorted(schema.create_bridge_tables(conn, "glpiinventory")) == sorted(BRIDGE_NAMES)
        assert schema.create_bridge_tables(conn, "glpiinventory") == []
    assert len(bridge_tables("glpiinventory")) == len(bridge_tables("fusioninventory")) == len(BRIDGE_NAMES)
    assert seed_rows(11)["glpi_plugins"][0]["version"] == "1.6.10"
    engine.dispose()
