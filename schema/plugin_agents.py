"""FusionInventory plugin tables around agents: agents, modules, configuration, entities,
ESX credentials, computer-inventory side tables and the MEMORY lock tables."""

from __future__ import annotations

from sqlalchemy import Column, Index, String

from schema.base import (
    class_names_column,
    CURRENT_TIMESTAMP,
    flag_column,
    glpi_table,
    id_column,
    int_column,
    longblob_column,
    string_column,
    text_column,
    timestamp_column,
    timestamp_type,
    tinyint_type,
    int_type,
)

P = "glpi_plugin_fusioninventory_"

agents = glpi_table(
    P + "agents",
    id_column(),
    int_column("entities_id"),
    flag_column("is_recursive", "1"),
    string_column("name"),
    timestamp_column("last_contact"),
    string_column("version"),
    flag_column("lock"),
    string_column("device_id", comment="XML <DEVICE_ID> TAG VALUE"),
    int_column("computers_id"),
    string_column("token"),
    string_column("useragent"),
    string_column("tag"),
    int_column("threads_networkdiscovery", "1", width=4, comment="array(xmltag=>value)"),
    int_column("threads_networkinventory", "1", width=4, comment="array(xmltag=>value)"),
    flag_column("senddico"),
    int_column("timeout_networkdiscovery", width=4,
               comment="Network Discovery task timeout (disabled by default)"),
    int_column("timeout_networkinventory", width=4,
               comment="Network Inventory task timeout (disabled by default)"),
    string_column("agent_port", 6),
    Index("name", "name"),
    Index("device_id", "device_id"),
    Index("computers_id", "computers_id"),
)

agentmodules = glpi_table(
    P + "agentmodules",
    id_column(),
    string_column("modulename"),
    flag_column("is_active"),
    text_column("exceptions", comment="array(agent_id)"),
    Index("modulename", "modulename", unique=True),
    Index("is_active", "is_active"),
)

configs = glpi_table(
    P + "configs",
    id_column(),
    string_column("type"),
    string_column("value"),
    Index("unicity", "type", unique=True),
)

entities = glpi_table(
    P + "entities",
    id_column(),
    int_column("entities_id"),
    int_column("transfers_id_auto"),
    string_column("agent_base_url", nullable=False, default=""),
    Index("entities_id", "entities_id", "transfers_id_auto"),
)

credentials = glpi_table(
    P + "credentials",
    id_column(),
    int_column("entities_id"),
    flag_column("is_recursive"),
    string_column("name", nullable=False, default=""),
    string_column("username", nullable=False, default=""),
    string_column("password", nullable=False, default=""),
    text_column("comment"),
    timestamp_column("date_mod"),
    class_names_column(length=255, nullable=False, default=""),
)

credentialips = glpi_table(
    P + "credentialips",
    id_column(),
    int_column("entities_id"),
    int_column("plugin_fusioninventory_credentials_id"),
    string_column("name", nullable=False, default=""),
    text_column("comment"),
    string_column("ip", nullable=False, default=""),
    timestamp_column("date_mod"),
)

ignoredimportdevices = glpi_table(
    P + "ignoredimportdevices",
    id_column(),
    string_column("name"),
    timestamp_column("date"),
    string_column("itemtype", 100),
    int_column("entities_id"),
    string_column("ip"),
    string_column("mac"),
    int_column("rules_id"),
    string_column("method"),
    string_column("serial"),
    string_column("uuid"),
    int_column("plugin_fusioninventory_agents_id"),
)

rulematchedlogs = glpi_table(
    P + "rulematchedlogs",
    id_column(),
    timestamp_column("date"),
    int_column("items_id"),
    string_column("itemtype", 100),
    int_column("rules_id"),
    int_column("plugin_fusioninventory_agents_id"),
    string_column("method"),
    text_column("criteria"),
    Index("item", "itemtype", "items_id"),
)

inventorycomputercomputers = glpi_table(
    P + "inventorycomputercomputers",
    id_column(),
    int_column("computers_id"),
    timestamp_column("operatingsystem_installationdate"),
    string_column("winowner"),
    string_column("wincompany"),
    timestamp_column("last_fusioninventory_update"),
    string_column("remote_addr"),
    longblob_column("serialized_inventory"),
    flag_column("is_entitylocked"),
    text_column("oscomment"),
    string_column("hostid"),
    timestamp_column("last_boot"),
    Index("computers_id", "computers_id"),
    Index("last_fusioninventory_update", "last_fusioninventory_update"),
)


def _dblock_table(suffix: str, value_column: Column):
    # The plugin declares both a primary key and a unique key on `value`.
    return glpi_table(
        P + suffix,
        value_column,
        Column("date", timestamp_type(), nullable=False, server_default=CURRENT_TIMESTAMP),
        Index("value", "value", unique=True),
        engine="MEMORY",
    )


dblockinventorynames = _dblock_table(
    "dblockinventorynames",
    Column("value", String(100), primary_key=True, nullable=False, server_default=""),
)


def _number_key(column_type) -> Column:
    return Column("value", column_type, primary_key=True, autoincrement=False, nullable=False,
                  server_default="0")


dblockinventories = _dblock_table("dblockinventories", _number_key(int_type(11)))
dblocksoftwares = _dblock_table("dblocksoftwares", _number_key(tinyint_type(1)))
dblocksoftwareversions = _dblock_table("dblocksoftwareversions", _number_key(tinyint_type(1)))

TABLES = [
    agents, agentmodules, configs, entities, credentials, credentialips, ignoredimportdevices,
    rulematchedlogs, inventorycomputercomputers, dblockinventorynames, dblockinventories,
    dblocksoftwares, dblocksoftwareversions,
]
