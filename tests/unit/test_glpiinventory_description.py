"""The GLPI 10/11 table descriptions (schema/glpiinventory), without a database: the format, the
descriptions against the facts files, the rendered DDL, the install rows, the flavour setting."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.schema import CreateTable

from fusion_bridge.config import Config
from schema.detect import DetectedSchema, _major
from schema.glpiinventory import seed_rows, table_specs, tables
from schema.glpiinventory.description import (ColumnSpec, DescriptionError, IndexSpec, TableSpec, format_tables,
                                              from_facts, parse, to_facts)
from schema.glpiinventory.tables import area_of, server_default
from tests.helpers.glpiinventory_schema import facts, seed_facts

SAMPLE = """# a comment
drop glpi_old

table glpi_things
  id int(10) unsigned NOT NULL AUTO_INCREMENT
  key varchar(255) DEFAULT NULL
  kind varchar(8) NOT NULL DEFAULT '1'
  price decimal(20,4) DEFAULT 0.0000
  date timestamp NOT NULL DEFAULT current_timestamp()
  PRIMARY KEY (id)
  UNIQUE KEY unicity (kind,key)
  KEY key (key(200))
"""


def test_the_format_parses_and_formats_back():
    [table], dropped = parse(SAMPLE)
    assert dropped == ["glpi_old"]
    assert table.column("id") == ColumnSpec("id", "int(10) unsigned", False, None, True)
    assert table.column("key") == ColumnSpec("key", "varchar(255)", True, "NULL")
    assert table.column("kind").default == "'1'" and table.column("price").arguments == [20, 4]
    assert table.indexes == [IndexSpec("PRIMARY", ("id",), True), IndexSpec("unicity", ("kind", "key"), True),
                             IndexSpec("key", ("key",), False, (200,))]
    assert format_tables([table], ["glpi_old"], "a comment") == SAMPLE


@pytest.mark.parametrize("line", ["table t\n  id int(10) NOT NUL", "  id int(10)", "table t\n  KEY k (a,)"])
def test_lines_that_do_not_parse_say_where(line):
    with pytest.raises(DescriptionError, match="line"):
        parse(line)


@pytest.mark.parametrize("glpi", [10, 11])
def test_descriptions_are_the_facts(glpi):
    """The descriptions shipped in schema/glpiinventory/data say exactly what the facts files say
    (after fixtures/schema/describe_glpiinventory.py, nothing to regenerate)."""
    expected = facts(glpi)
    described = {name: to_facts(spec) for name, spec in table_specs(glpi).items()}
    assert sorted(described) == sorted(expected)
    for name in expected:
        assert described[name] == expected[name], name
        assert to_facts(from_facts(name, expected[name])) == expected[name]


def test_glpi11_is_glpi10_with_its_changes():
    ten, eleven = table_specs(10), table_specs(11)
    assert set(ten) - set(eleven) == {"glpi_computervirtualmachines"}
    assert set(eleven) - set(ten) == {"glpi_groups_items", "glpi_itemvirtualmachines"}
    assert ten["glpi_agents"] == eleven["glpi_agents"]
    assert [c.name for c in eleven["glpi_plugin_glpiinventory_collects_registries"].columns][-3:] == [
        "mode", "defined", "depth"]


def test_every_table_belongs_to_one_area_file():
    assert area_of("glpi_plugin_glpiinventory_taskjobs") == "plugin_tasks"
    assert area_of("glpi_plugin_glpiinventory_deploypackages") == "plugin_deploy"
    assert {area_of(name) for name in table_specs(11)} == {"core", "accounts", "computers", "devices", "network",
                                                           "plugin_tasks", "plugin_deploy"}


def test_ddl_on_mariadb_and_sqlite():
    jobstates = tables(10)["glpi_plugin_glpiinventory_taskjobstates"]
    on_mariadb = str(CreateTable(jobstates).compile(dialect=mysql.dialect()))
    assert "id BIGINT(20) UNSIGNED NOT NULL AUTO_INCREMENT" in on_mariadb
    assert "max_retry INTEGER(11) NOT NULL DEFAULT 1" in on_mariadb
    assert "CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci" in on_mariadb and "ENGINE=InnoDB" in on_mariadb
    on_sqlite = str(CreateTable(jobstates).compile(dialect=sqlite.dialect()))
    assert "id INTEGER NOT NULL" in on_sqlite and "AUTOINCREMENT" in on_sqlite
    entities = str(CreateTable(tables(10)["glpi_entities"]).compile(dialect=mysql.dialect()))
    assert "id INTEGER(10) UNSIGNED NOT NULL DEFAULT 0" in entities and "AUTO_INCREMENT" not in entities
    assert "AUTO_INCREMENT" in str(CreateTable(tables(11)["glpi_entities"]).compile(dialect=mysql.dialect()))


@pytest.mark.parametrize("default, rendered", [(None, None), ("NULL", None), ("'central'", "central"),
                                               ("''", ""), ("'it''s'", "it's")])
def test_server_defaults(default, rendered):
    assert server_default(default) == rendered


def test_numeric_and_expression_defaults_are_sql():
    assert str(server_default("-2")) == "-2" and str(server_default("current_timestamp()")) == "CURRENT_TIMESTAMP"


def test_glpi10_install_rows_are_the_observed_ones():
    ours = seed_rows(10)
    for name, rows in seed_facts().items():
        assert ours[name] == rows, name
    assert set(ours) == set(seed_facts()) and sum(map(len, ours.values())) == 133


def test_glpi11_install_rows_differ_only_where_11_does():
    ten, eleven = seed_rows(10), seed_rows(11)
    changed = {name for name in ten if ten[name] != eleven[name]}
    assert changed == {"glpi_configs", "glpi_crontasks", "glpi_plugins", "glpi_plugin_glpiinventory_configs"}
    assert eleven["glpi_configs"][:37] == ten["glpi_configs"] and len(eleven["glpi_configs"]) == 42


def test_schema_setting():
    assert Config().schema_flavour == "auto"
    assert Config.from_env({"FUSION_BRIDGE_SCHEMA": " GLPIinventory "}).schema_flavour == "glpiinventory"
    with pytest.raises(ValueError, match="FUSION_BRIDGE_SCHEMA must be one of auto, fusioninventory"):
        Config.from_env({"FUSION_BRIDGE_SCHEMA": "glpi10"})


def test_detected_schema_in_words():
    assert DetectedSchema(None, None).describe() == "an empty database (no GLPI table)"
    assert DetectedSchema("fusioninventory", 9).describe() == "GLPI 9.5 with the FusionInventory plugin"
    assert DetectedSchema(None, 10, "10.0.19").describe() == "GLPI 10.0.19 with no inventory plugin"
    assert (_major("11.0.7"), _major("10.0.19"), _major("dev"), _major(None)) == (11, 10, None, None)


def test_table_spec_column_lookup():
    table = TableSpec("t", [ColumnSpec("a", "tinyint(4)", False, "0")])
    assert table.column("a").base_type == "tinyint" and not table.column("a").unsigned


def test_the_descriptions_ship_in_the_wheel():
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "schema.glpiinventory"]
    folder = root / "schema" / "glpiinventory"
    shipped = [path for path in (folder / "data").iterdir()
               if any(fnmatch.fnmatch(str(path.relative_to(folder)), pattern) for pattern in patterns)]
    assert sorted(shipped) == sorted((folder / "data").iterdir()) and len(shipped) == 14
