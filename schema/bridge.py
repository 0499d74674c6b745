"""Tables owned by fusion-bridge itself (prefix ``glpi_plugin_fusionbridge_``).

They are the only tables the bridge may create in a real GLPI database.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String

from schema.base import (
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

TABLES = [bridge_meta, bridge_inventories]
