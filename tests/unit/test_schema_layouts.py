"""Statements compiled under the two schema layouts (docs/schema-layouts.md), without a database."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, create_engine, delete, func, insert, select, update
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

import schema
from fusion_bridge.adapters.db_layout import install_layout, layout_of
from fusion_bridge.services.agent.addresses import upsert_statement
from schema import class_names
from schema.constants import ItemType
from schema.layout import (FUSIONINVENTORY, GLPIINVENTORY, MOVED_TABLES, RENAMED_SUFFIXES, physical_column,
                           physical_table)

agents, runs, jobs = schema.agents, schema.taskjobstates, schema.taskjobs
URLS = {"sqlite": "sqlite://", "mysql": "mysql+pymysql://user@localhost/glpi"}


def engine(flavour: str, backend: str = "sqlite"):
    # Compiling needs no connection: create_engine connects lazily.
    return install_layout(create_engine(URLS[backend]), flavour)


def sql(statement, bind) -> str:
    return " ".join(str(statement.compile(bind)).split())


@pytest.fixture(params=["sqlite", "mysql"])
def glpiinventory(request):
    return engine(GLPIINVENTORY, request.param)


def test_fusioninventory_is_the_identity():
    plain = create_engine("sqlite://")
    fi = engine(FUSIONINVENTORY)
    statement = (select(agents.c.id, agents.c.device_id, runs.c.itemtype)
                 .join(runs, runs.c.plugin_fusioninventory_agents_id == agents.c.id)
                 .where(agents.c.lock == 0))
    assert sql(statement, fi) == sql(statement, plain)
    assert layout_of(fi).flavour == FUSIONINVENTORY
    assert fi.dialect.statement_compiler is plain.dialect.statement_compiler


def test_every_plugin_table_is_mapped_as_the_facts_say():
    assert len(RENAMED_SUFFIXES) == 31
    for table in schema.PLUGIN_TABLES:
        suffix = table.name[len("glpi_plugin_fusioninventory_"):]
        expected = MOVED_TABLES.get(table.name) or (
            "glpi_plugin_glpiinventory_" + suffix if suffix in RENAMED_SUFFIXES else table.name)
        assert physical_table(GLPIINVENTORY, table.name) == expected
        assert physical_table(FUSIONINVENTORY, table.name) == table.name


def test_columns_and_foreign_keys(glpiinventory):
    statement = (select(agents.c.id, agents.c.device_id, agents.c.computers_id, runs.c.items_id)
                 .join(runs, runs.c.plugin_fusioninventory_agents_id == agents.c.id)
                 .join(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id)
                 .where(agents.c.lock == 0, agents.c.agent_port.is_not(None)))
    text = sql(statement, glpiinventory)
    assert "glpi_agents.deviceid" in text and "glpi_agents.items_id" in text
    assert "glpi_plugin_glpiinventory_taskjobstates.agents_id = glpi_agents.id" in text
    assert ("glpi_plugin_glpiinventory_taskjobs.id = "
            "glpi_plugin_glpiinventory_taskjobstates.plugin_glpiinventory_taskjobs_id") in text
    assert "glpi_agents.locked" in text and "glpi_agents.port IS NOT NULL" in text
    assert "fusioninventory" not in text


def test_result_rows_keep_the_fusioninventory_keys(glpiinventory):
    # The agent's items_id and the run's items_id are both selected: the result knows them
    # apart by their FusionInventory keys.
    statement = select(agents.c.device_id, agents.c.computers_id, runs.c.items_id).join(
        runs, runs.c.plugin_fusioninventory_agents_id == agents.c.id)
    compiled = statement.compile(glpiinventory)
    keys = [column.keyname for column in compiled._result_columns]
    assert keys == ["device_id", "computers_id", "items_id"]
    assert agents.c.device_id in compiled._result_columns[0].objects


def test_aliases_and_subqueries(glpiinventory):
    other = agents.alias("other")
    text = sql(select(other.c.device_id).where(other.c.lock == 0), glpiinventory)
    assert text.startswith("SELECT other.deviceid FROM glpi_agents AS other WHERE other.locked = ")
    inner = select(agents.c.device_id).where(agents.c.computers_id > 0).subquery()
    text = sql(select(inner.c.device_id), glpiinventory)
    assert "glpi_agents.deviceid AS device_id" in text and "glpi_agents.items_id >" in text


def test_columns_the_layout_lacks_are_neither_written_nor_read(glpiinventory):
    text = sql(update(agents).where(agents.c.device_id == "a").values(token="t", useragent="u"), glpiinventory)
    assert "token" not in text and "useragent=" in text
    assert sql(select(agents.c.token).where(agents.c.id == 1), glpiinventory).startswith("SELECT NULL FROM")
    compiled = update(agents).where(agents.c.id == bindparam("agent")).compile(
        glpiinventory, column_keys=["token", "useragent"])
    assert "token" not in str(compiled)


def test_a_new_agent_gets_the_core_tables_required_columns(glpiinventory):
    text = sql(insert(agents).values(device_id="d", name="d", token="t"), glpiinventory)
    assert text.startswith("INSERT INTO glpi_agents (deviceid, name, agenttypes_id, itemtype, items_id)")
    assert "SELECT min(glpi_agenttypes.id)" in text and "token" not in text
    fi = sql(insert(agents).values(device_id="d", name="d", token="t"), engine(FUSIONINVENTORY))
    assert fi.startswith("INSERT INTO glpi_plugin_fusioninventory_agents (name, device_id, token)")


def test_upserts_name_the_renamed_key():
    for backend, mysql_form in (("mysql", True), ("sqlite", False)):
        text = sql(upsert_statement(mysql_form), engine(GLPIINVENTORY, backend))
        assert "(agents_id, address, date)" in text
        assert "plugin_fusioninventory" not in text
    on_conflict = sqlite.insert(schema.bridge_resttokens).values(plugin_fusioninventory_agents_id=1, token="x")
    on_conflict = on_conflict.on_conflict_do_update(index_elements=[schema.bridge_resttokens.c.plugin_fusioninventory_agents_id],
                                                    set_={"token": on_conflict.excluded.token})
    assert "ON CONFLICT (agents_id) DO UPDATE" in sql(on_conflict, engine(GLPIINVENTORY))
    duplicate = mysql.insert(runs).values(plugin_fusioninventory_agents_id=1, state=0)
    duplicate = duplicate.on_duplicate_key_update(plugin_fusioninventory_agents_id=duplicate.inserted.plugin_fusioninventory_agents_id)
    assert "ON DUPLICATE KEY UPDATE agents_id = VALUES(agents_id)" in sql(duplicate, engine(GLPIINVENTORY, "mysql"))


def test_ddl_of_the_bridges_own_tables_follows_the_flavour():
    gi = engine(GLPIINVENTORY, "mysql")
    text = sql(CreateTable(schema.bridge_wakeups), gi)
    assert "agents_id INTEGER(11) NOT NULL" in text and "plugin_glpiinventory_taskjobstates_id" in text
    index = next(index for index in schema.bridge_wakeups.indexes if "agents_id" in index.name)
    assert sql(CreateIndex(index), gi) == "CREATE INDEX agents_id ON glpi_plugin_fusionbridge_wakeups (agents_id, date)"
    lite = sql(CreateIndex(index), engine(GLPIINVENTORY))
    assert lite.startswith("CREATE INDEX glpi_plugin_fusionbridge_wakeups__agents_id ON")
    assert "token" not in sql(CreateTable(agents), gi)


def test_delete_and_functions(glpiinventory):
    text = sql(delete(runs).where(runs.c.plugin_fusioninventory_agents_id == 3), glpiinventory)
    assert text.startswith("DELETE FROM glpi_plugin_glpiinventory_taskjobstates WHERE "
                           "glpi_plugin_glpiinventory_taskjobstates.agents_id")
    text = sql(select(func.count()).select_from(schema.ipranges_configsecurities), glpiinventory)
    assert "glpi_plugin_glpiinventory_ipranges_snmpcredentials" in text


def test_specific_column_renames():
    assert physical_column(GLPIINVENTORY, schema.unmanageds.name, "item_type") == "itemtype"
    assert physical_column(GLPIINVENTORY, schema.unmanageds.name, "plugin_fusioninventory_configsecurities_id") \
        == "snmpcredentials_id"
    assert physical_column(GLPIINVENTORY, schema.statediscoveries.name, "plugin_fusioninventory_taskjob_id") \
        == "plugin_glpiinventory_taskjob_id"
    assert physical_column(GLPIINVENTORY, schema.timeslotentries.name, "plugin_fusioninventory_timeslots_id") \
        == "plugin_glpiinventory_timeslots_id"
    assert physical_column(GLPIINVENTORY, agents.name, "senddico") is None


@pytest.mark.parametrize("bridge, stored", [
    (ItemType.IP_RANGE, "PluginGlpiinventoryIPRange"),
    (ItemType.AGENT, "Agent"),
    (ItemType.UNMANAGED, "Unmanaged"),
    (ItemType.DEPLOY_PACKAGE, "PluginGlpiinventoryDeployPackage"),
    (ItemType.COMPUTER, "Computer"),
    ("PluginFusioninventoryTask", "PluginGlpiinventoryTask"),
])
def test_class_names_are_written_in_the_databases_spelling(bridge, stored):
    assert class_names.written(GLPIINVENTORY, bridge) == stored
    assert class_names.read(GLPIINVENTORY, stored) == bridge
    assert class_names.read(GLPIINVENTORY, bridge) == bridge  # either spelling reads back
    assert class_names.written(FUSIONINVENTORY, bridge) == bridge


def test_targets_and_actors_json():
    actors = '[{"PluginFusioninventoryAgent":"1"},{"PluginFusioninventoryDeployGroup":"2"},{"Computer":"3"}]'
    stored = class_names.written(GLPIINVENTORY, actors)
    assert stored == '[{"Agent":"1"},{"PluginGlpiinventoryDeployGroup":"2"},{"Computer":"3"}]'
    assert class_names.read(GLPIINVENTORY, stored, json=True) == actors
    # A LIKE pattern is spelled the same way.
    assert class_names.written(GLPIINVENTORY, '%"PluginFusioninventoryAgent":"7"%') == '%"Agent":"7"%'


def test_class_name_columns_process_values_only_on_glpiinventory_engines():
    column_type = jobs.c.actors.type
    assert column_type.bind_processor(engine(FUSIONINVENTORY).dialect) is None
    process = column_type.bind_processor(engine(GLPIINVENTORY).dialect)
    assert process('[{"PluginFusioninventoryAgent":"1"}]') == '[{"Agent":"1"}]'
    read = runs.c.itemtype.type.result_processor(engine(GLPIINVENTORY).dialect, None)
    assert read("PluginGlpiinventoryIPRange") == ItemType.IP_RANGE


def test_extension_rows_read_as_the_assets_own_columns(glpiinventory):
    assets, extension = schema.glpi_networkequipments, schema.networkequipments
    statement = (select(assets.c.id, extension.c.plugin_fusioninventory_configsecurities_id)
                 .select_from(assets.join(extension, extension.c.networkequipments_id == assets.c.id)))
    text = sql(statement, glpiinventory)
    assert ("FROM glpi_networkequipments JOIN glpi_networkequipments AS glpi_plugin_fusioninventory_networkequipments "
            "ON glpi_plugin_fusioninventory_networkequipments.id = glpi_networkequipments.id") in text.replace(
                "INNER JOIN", "JOIN")
    assert "glpi_plugin_fusioninventory_networkequipments.snmpcredentials_id" in text
    text = sql(update(extension).where(extension.c.networkequipments_id == 4)
               .values(plugin_fusioninventory_configsecurities_id=2, memory=5), glpiinventory)
    assert text.startswith("UPDATE glpi_networkequipments AS glpi_plugin_fusioninventory_networkequipments "
                           "SET snmpcredentials_id=")
    assert "memory" not in text
    entities = schema.entities
    text = sql(select(entities.c.entities_id, entities.c.agent_base_url), glpiinventory)
    assert text == ("SELECT glpi_plugin_fusioninventory_entities.id, glpi_plugin_fusioninventory_entities.agent_base_url "
                    "FROM glpi_entities AS glpi_plugin_fusioninventory_entities")
