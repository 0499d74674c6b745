"""Tables owned by fusion-bridge itself (prefix ``glpi_plugin_fusionbridge_``).

They are the only tables the bridge may create in a real GLPI database.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String

from schema.base import (
    id_column,
    glpi_table,
    int_column,
    int_type,
    longblob_column,
    string_column,
    text_column,
    timestamp_column,
)

PREFIX = "glpi_plugin_fusionbridge_"

# Rows: ``standalone`` ("1" when the bridge created the whole schema itself, "0" in a real
# GLPI) and ``schema_version``.
bridge_meta = glpi_table(
    PREFIX + "meta",
    Column("name", String(100), primary_key=True),
    text_column("value"),
)

# The last INVENTORY each agent sent, zlib-compressed, for the import that runs later.
bridge_inventories = glpi_table(
    PREFIX + "inventories",
    Column("plugin_fusioninventory_agents_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("device_id"),
    timestamp_column("date"),
    string_column("query", 32),
    string_column("compression", 16, nullable=False, default="zlib"),
    int_column("size", comment="uncompressed size in bytes"),
    longblob_column("content"),
    Index("device_id", "device_id"),
)

# The source address of each agent's last XML contact, for waking it up (push mode). ``date`` is
# when that address was written: first seen from the agent (MariaDB: the PROLOG's UPDATE tells
# whether it changed) or re-confirmed (SQLite and other messages: at most every 5 min per
# worker). The date of the agent's last contact, from that address, is ``agents.last_contact``.
# ``port``: the agent's HTTP port when known here (NULL: ``agents.agent_port``, else the
# plugin's ``agent_port`` config).
bridge_agentaddresses = glpi_table(
    PREFIX + "agentaddresses",
    Column("plugin_fusioninventory_agents_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("address", 64, nullable=False, default=""),
    int_column("port", None, nullable=True),
    timestamp_column("date"),
)

# Every wake-up attempt: probe of http://ADDR:PORT/status, then /now when the agent waits.
# outcome: woken, unreachable, busy or refused (the agent does not trust this server).
bridge_wakeups = glpi_table(
    PREFIX + "wakeups",
    id_column(),
    int_column("plugin_fusioninventory_agents_id"),
    int_column("plugin_fusioninventory_taskjobstates_id", None, nullable=True),
    timestamp_column("date"),
    string_column("address", 64),
    string_column("outcome", 16, nullable=False, default="unreachable"),
    text_column("detail"),
    Index("plugin_fusioninventory_agents_id", "plugin_fusioninventory_agents_id", "date"),
    Index("plugin_fusioninventory_taskjobstates_id", "plugin_fusioninventory_taskjobstates_id"),
)

TABLES = [bridge_meta, bridge_inventories, bridge_agentaddresses, bridge_wakeups]

# The token handed to each agent by Collect ``getJobs`` and rotated by every ``setAnswer``
# (the plugin uses GLPI's CSRF token there): one live token per agent. A POSTed answer must
# carry the live token of the agent that owns the run it answers.
bridge_resttokens = glpi_table(
    PREFIX + "resttokens",
    Column("plugin_fusioninventory_agents_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("token", 64, nullable=False, default=""),
    timestamp_column("date"),
)

TABLES.append(bridge_resttokens)
