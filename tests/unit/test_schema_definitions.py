"""The schema package's definitions, without a database: its table lists, the reference
snapshot, the plugin's constants and install-time rows."""

from __future__ import annotations

import json

import schema
from schema.constants import Method, Module, TaskjobLogState, TaskjobState
from tests.helpers.plugin_install import PLUGIN_MODULES, REFERENCE

ALL_TABLES = {table.name for table in schema.metadata.sorted_tables}
BRIDGE_NAMES = {table.name for table in schema.BRIDGE_TABLES}


def test_table_lists_cover_the_whole_metadata():
    assert len(schema.PLUGIN_TABLES) == 45
    # 15, the 9 tables of a port's type and links, glpi_rules, _rulecriterias, _ruleactions, glpi_logs
    assert len(schema.CORE_TABLES) == 28
    assert BRIDGE_NAMES == {"glpi_plugin_fusionbridge_meta", "glpi_plugin_fusionbridge_inventories",
                            "glpi_plugin_fusionbridge_agentaddresses", "glpi_plugin_fusionbridge_wakeups",
                            "glpi_plugin_fusionbridge_resttokens",
                            "glpi_plugin_fusionbridge_tasks", "glpi_plugin_fusionbridge_taskjobs",
                            "glpi_plugin_fusionbridge_runs"}
    listed = [t.name for t in [*schema.PLUGIN_TABLES, *schema.CORE_TABLES, *schema.BRIDGE_TABLES]]
    assert sorted(listed) == sorted(ALL_TABLES) == sorted(schema.TABLES_BY_NAME)
    assert all(name.startswith("glpi_plugin_fusioninventory_") for name in map(str, schema.PLUGIN_TABLES))
    assert schema.agents.name == "glpi_plugin_fusioninventory_agents"
    assert schema.entities.name == "glpi_plugin_fusioninventory_entities"
    assert schema.TABLES_BY_NAME["glpi_entities"] is schema.glpi_entities


def test_reference_snapshot_covers_every_non_bridge_table():
    reference = json.loads(REFERENCE.read_text())["tables"]
    assert set(reference) == ALL_TABLES - BRIDGE_NAMES


def test_constants_match_the_plugin():
    assert [s.value for s in TaskjobState] == list(range(7))
    assert TaskjobState.POSTPONED.label == "Postponed"
    assert {s.name: s.value for s in TaskjobLogState} == {
        "STARTED": 1, "OK": 2, "ERROR": 4, "INFO": 5, "RUNNING": 6, "PREPARED": 7}
    assert TaskjobLogState.INFO.label == "Info"
    assert Method.DEPLOY == "deployinstall" and Module.COLLECT == "Collect"


def test_seed_rows_are_the_plugins_install_rows():
    seeds = schema.seed_rows(plugin_user_id=7)
    modules = [(r["modulename"], r["is_active"], r["exceptions"]) for r in seeds[schema.agentmodules.name]]
    assert modules == [(name, active, "[]") for name, active in PLUGIN_MODULES]
    config = {r["type"]: r["value"] for r in seeds[schema.configs.name]}
    assert len(config) == len(seeds[schema.configs.name])
    assert config["inventory_frequence"] == "24" and config["users_id"] == "7"
    assert config["version"] == "9.5+4.2" and config["agent_port"] == "62354"
    assert "mirror_match" not in config
    assert schema.seed_rows()[schema.configs.name][6] == {"type": "users_id", "value": None}
    crons = {(r["itemtype"], r["name"]): r["frequency"] for r in seeds[schema.glpi_crontasks.name]}
    assert crons[("PluginFusioninventoryTask", "taskscheduler")] == 60 and len(crons) == 6
