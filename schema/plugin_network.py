"""FusionInventory plugin tables for network discovery and SNMP inventory."""

from __future__ import annotations

from sqlalchemy import Index

from schema.base import (
    bigint_column,
    flag_column,
    glpi_table,
    id_column,
    int_column,
    longblob_column,
    string_column,
    text_column,
    timestamp_column,
)

P = "glpi_plugin_fusioninventory_"

ipranges = glpi_table(
    P + "ipranges",
    id_column(),
    string_column("name"),
    int_column("entities_id"),
    string_column("ip_start"),
    string_column("ip_end"),
    Index("entities_id", "entities_id"),
)

ipranges_configsecurities = glpi_table(
    P + "ipranges_configsecurities",
    id_column(),
    int_column("plugin_fusioninventory_ipranges_id"),
    int_column("plugin_fusioninventory_configsecurities_id"),
    int_column("rank", "1"),
    # Named "unicity" by the plugin but not unique.
    Index("unicity", "plugin_fusioninventory_ipranges_id", "plugin_fusioninventory_configsecurities_id"),
)

configsecurities = glpi_table(
    P + "configsecurities",
    id_column(),
    string_column("name", 64),
    string_column("snmpversion", 8, nullable=False, default="1"),
    string_column("community"),
    string_column("username"),
    string_column("authentication"),
    string_column("auth_passphrase"),
    string_column("encryption"),
    string_column("priv_passphrase"),
    flag_column("is_deleted"),
    Index("snmpversion", "snmpversion"),
    Index("is_deleted", "is_deleted"),
)

unmanageds = glpi_table(
    P + "unmanageds",
    id_column(),
    string_column("name"),
    timestamp_column("date_mod"),
    int_column("entities_id"),
    int_column("locations_id"),
    flag_column("is_deleted"),
    int_column("users_id"),
    string_column("serial"),
    string_column("otherserial"),
    string_column("contact"),
    int_column("domain"),
    text_column("comment"),
    string_column("item_type"),
    flag_column("accepted"),
    int_column("plugin_fusioninventory_agents_id"),
    string_column("ip"),
    flag_column("hub"),
    int_column("states_id"),
    text_column("sysdescr"),
    int_column("plugin_fusioninventory_configsecurities_id"),
    flag_column("is_dynamic"),
    longblob_column("serialized_inventory"),
    Index("entities_id", "entities_id"),
    Index("plugin_fusioninventory_agents_id", "plugin_fusioninventory_agents_id"),
    Index("is_deleted", "is_deleted"),
    Index("date_mod", "date_mod"),
)

statediscoveries = glpi_table(
    P + "statediscoveries",
    id_column(),
    # Holds the taskjobstate id (the agent's PROCESSNUMBER) despite its name.
    int_column("plugin_fusioninventory_taskjob_id"),
    int_column("plugin_fusioninventory_agents_id"),
    timestamp_column("start_time"),
    timestamp_column("end_time"),
    timestamp_column("date_mod"),
    int_column("threads"),
    int_column("nb_ip"),
    int_column("nb_found"),
    int_column("nb_error"),
    int_column("nb_exists"),
    int_column("nb_import"),
)

networkequipments = glpi_table(
    P + "networkequipments",
    id_column(),
    int_column("networkequipments_id"),
    text_column("sysdescr"),
    int_column("plugin_fusioninventory_configsecurities_id"),
    string_column("uptime", nullable=False, default="0"),
    int_column("cpu", width=3, comment="%"),
    int_column("memory"),
    timestamp_column("last_fusioninventory_update"),
    int_column("last_PID_update"),
    longblob_column("serialized_inventory"),
    Index("networkequipments_id", "networkequipments_id"),
)

printers = glpi_table(
    P + "printers",
    id_column(),
    int_column("printers_id"),
    text_column("sysdescr"),
    int_column("plugin_fusioninventory_configsecurities_id"),
    int_column("frequence_days", "1", width=5),
    timestamp_column("last_fusioninventory_update"),
    longblob_column("serialized_inventory"),
    Index("unicity", "printers_id", unique=True),
    Index("plugin_fusioninventory_configsecurities_id", "plugin_fusioninventory_configsecurities_id"),
    Index("printers_id", "printers_id"),
)

networkports = glpi_table(
    P + "networkports",
    id_column(),
    int_column("networkports_id"),
    int_column("ifmtu", width=8),
    bigint_column("ifspeed", width=50),
    string_column("ifinternalstatus"),
    int_column("ifconnectionstatus", width=8),
    string_column("iflastchange"),
    bigint_column("ifinoctets", width=50),
    bigint_column("ifinerrors", width=50),
    bigint_column("ifoutoctets", width=50),
    bigint_column("ifouterrors", width=50),
    string_column("ifstatus"),
    string_column("mac"),
    string_column("ifdescr"),
    string_column("ifalias"),
    string_column("portduplex"),
    flag_column("trunk"),
    timestamp_column("lastup"),
    Index("networkports_id", "networkports_id"),
)

TABLES = [
    ipranges, ipranges_configsecurities, configsecurities, unmanageds, statediscoveries,
    networkequipments, printers, networkports,
]
