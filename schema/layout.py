"""Where each table of ``schema`` lives in the two database layouts the bridge serves.

The Table objects of ``schema`` keep their FusionInventory 9.5 names and column keys: they say what
a table *means*. ``fusioninventory`` (GLPI 9.5 + FusionInventory 9.5+4.2) stores them under those
names; ``glpiinventory`` (GLPI 10 + glpiinventory 1.5.x, GLPI 11 + 1.6.x) renamed the plugin's
tables and its foreign keys, and moved agents, SNMP credentials and unmanaged devices to GLPI's
core tables (docs/schema-layouts.md §2–§4). This module is that mapping as data;
``fusion_bridge.adapters.db_layout`` applies it to an engine. Class names stored as values are
``schema.class_names``'s (docs/schema-layouts.md §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Column, Index, MetaData, String, Table, func, select

from schema.base import (SQLITE_PREFIXED_INDEXES, flag_column, id_column, int_column, int_type, string_column,
                         timestamp_column, tinyint_type)
from schema.class_names import FUSIONINVENTORY, GLPIINVENTORY

FLAVOURS = (FUSIONINVENTORY, GLPIINVENTORY)

FI_PREFIX = "glpi_plugin_fusioninventory_"
GI_PREFIX = "glpi_plugin_glpiinventory_"

# The plugin tables glpiinventory kept, under its own prefix (docs/schema-layouts.md §2).
RENAMED_SUFFIXES = frozenset((
    "agentmodules", "collects", "collects_files", "collects_files_contents", "collects_registries",
    "collects_registries_contents", "collects_wmis", "collects_wmis_contents", "configs", "credentialips",
    "credentials", "deployfiles", "deploygroups", "deploygroups_dynamicdatas", "deploygroups_staticdatas",
    "deploymirrors", "deploypackages", "deploypackages_entities", "deploypackages_groups",
    "deploypackages_profiles", "deploypackages_users", "deployuserinteractiontemplates",
    "inventorycomputerstats", "ipranges", "statediscoveries", "taskjoblogs", "taskjobs", "taskjobstates",
    "tasks", "timeslotentries", "timeslots",
))

# Plugin tables whose rows moved elsewhere (docs/schema-layouts.md §3, §4).
MOVED_TABLES = {
    FI_PREFIX + "agents": "glpi_agents",
    FI_PREFIX + "configsecurities": "glpi_snmpcredentials",
    FI_PREFIX + "ipranges_configsecurities": GI_PREFIX + "ipranges_snmpcredentials",
    FI_PREFIX + "unmanageds": "glpi_unmanageds",
    FI_PREFIX + "rulematchedlogs": "glpi_rulematchedlogs",
}

# Plugin tables glpiinventory dropped with no counterpart (docs/schema-layouts.md §8): the layout
# has no such table; services skip what they would write there (``Layout.stores``).
ABSENT_TABLES = frozenset(FI_PREFIX + suffix for suffix in (
    "ignoredimportdevices", "dblockinventorynames", "dblockinventories", "dblocksoftwares",
    "dblocksoftwareversions"))

# Plugin extension rows whose columns are now columns of the asset's own row (docs/schema-layouts.md
# §4): read under the plugin table's name as an alias of the core table; an INSERT of an
# extension row is an UPDATE of the asset (adapters.db_layout).
MERGED_TABLES = {
    FI_PREFIX + "networkequipments": "glpi_networkequipments",
    FI_PREFIX + "printers": "glpi_printers",
    FI_PREFIX + "entities": "glpi_entities",
    FI_PREFIX + "inventorycomputercomputers": "glpi_computers",
    FI_PREFIX + "networkports": "glpi_networkports",
}

# Columns renamed in one table only; (FI table, FI column) -> column.
TABLE_COLUMNS = {
    (FI_PREFIX + "networkequipments", "networkequipments_id"): "id",
    (FI_PREFIX + "networkequipments", "last_fusioninventory_update"): "last_inventory_update",
    (FI_PREFIX + "printers", "printers_id"): "id",
    (FI_PREFIX + "printers", "last_fusioninventory_update"): "last_inventory_update",
    (FI_PREFIX + "entities", "entities_id"): "id",
    (FI_PREFIX + "entities", "transfers_id_auto"): "transfers_id",
    (FI_PREFIX + "inventorycomputercomputers", "computers_id"): "id",
    (FI_PREFIX + "inventorycomputercomputers", "last_fusioninventory_update"): "last_inventory_update",
    (FI_PREFIX + "networkports", "networkports_id"): "id",
    (FI_PREFIX + "networkports", "ifinoctets"): "ifinbytes",
    (FI_PREFIX + "networkports", "ifoutoctets"): "ifoutbytes",
    (FI_PREFIX + "agents", "device_id"): "deviceid",
    (FI_PREFIX + "agents", "lock"): "locked",
    (FI_PREFIX + "agents", "computers_id"): "items_id",
    (FI_PREFIX + "agents", "agent_port"): "port",
    (FI_PREFIX + "unmanageds", "item_type"): "itemtype",
    (FI_PREFIX + "unmanageds", "last_fusioninventory_update"): "last_inventory_update",
}

# Foreign keys named after a table that moved to the core follow the core's name; every other
# ``plugin_fusioninventory…`` name (columns, and index names, which follow their columns) takes
# the new prefix, in any table, the bridge's own included (docs/schema-layouts.md §2).
MOVED_KEYS = {
    "plugin_fusioninventory_agents_id": "agents_id",
    "plugin_fusioninventory_configsecurities_id": "snmpcredentials_id",
}

# Columns the glpiinventory layout does not have: not written, read as NULL (docs/schema-layouts.md §3).
ABSENT_COLUMNS = frozenset({
    (FI_PREFIX + "agents", "token"),
    (FI_PREFIX + "agents", "senddico"),
    (FI_PREFIX + "networkequipments", "memory"),
    (FI_PREFIX + "networkequipments", "last_PID_update"),
    (FI_PREFIX + "networkequipments", "serialized_inventory"),
    (FI_PREFIX + "printers", "frequence_days"),
    (FI_PREFIX + "printers", "serialized_inventory"),
    (FI_PREFIX + "rulematchedlogs", "criteria"),
    (FI_PREFIX + "unmanageds", "domain"),
    (FI_PREFIX + "unmanageds", "serialized_inventory"),
    (FI_PREFIX + "deploypackages", "icon"),
    (FI_PREFIX + "deploypackages", "style"),
    # GLPI 9.5 core columns GLPI 10 dropped (netpoints became sockets).
    ("glpi_networkportethernets", "netpoints_id"),
    ("glpi_domains", "others"),
    ("glpi_entities", "admin_reply"),
    ("glpi_entities", "admin_reply_name"),
    ("glpi_users", "layout"),
    *((FI_PREFIX + "inventorycomputercomputers", column) for column in (
        "operatingsystem_installationdate", "winowner", "wincompany", "remote_addr", "serialized_inventory",
        "is_entitylocked", "oscomment", "hostid")),
})


@dataclass(frozen=True)
class Layout:
    """Physical names of one flavour; ``fusioninventory`` is the identity."""

    flavour: str

    @property
    def renames(self) -> bool:
        return self.flavour == GLPIINVENTORY

    def table(self, name: str) -> str:
        return physical_table(self.flavour, name)

    def stores(self, name: str) -> bool:
        """Whether this layout has table ``name`` at all (docs/schema-layouts.md §8)."""
        return not (self.renames and name in ABSENT_TABLES)

    def merged_into(self, name: str) -> str | None:
        """The core table holding the rows of plugin table ``name``, read under ``name`` as its alias."""
        return MERGED_TABLES.get(name) if self.renames else None

    def column(self, table: str, column: str) -> str | None:
        """The column's physical name, None when this layout has no such column."""
        return physical_column(self.flavour, table, column)

    def identifier(self, name: str) -> str:
        """A table, column or index name met without its table (``IdentifierPreparer.quote``)."""
        return physical_identifier(self.flavour, name)


@lru_cache(maxsize=None)
def layout(flavour: str) -> Layout:
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown schema flavour {flavour!r} (one of {', '.join(FLAVOURS)})")
    return Layout(flavour)


@lru_cache(maxsize=4096)
def physical_table(flavour: str, name: str) -> str:
    if flavour != GLPIINVENTORY or not name.startswith(FI_PREFIX):
        return name
    if name in MOVED_TABLES:
        return MOVED_TABLES[name]
    suffix = name[len(FI_PREFIX):]
    return GI_PREFIX + suffix if suffix in RENAMED_SUFFIXES else name


@lru_cache(maxsize=8192)
def physical_identifier(flavour: str, name: str) -> str:
    if flavour != GLPIINVENTORY:
        return name
    if name.startswith(FI_PREFIX):
        return physical_table(flavour, name)
    if name.startswith("plugin_fusioninventory"):
        for old, new in MOVED_KEYS.items():
            if name == old or name.startswith(old + "_"):
                return new + name[len(old):]
        return "plugin_glpiinventory" + name[len("plugin_fusioninventory"):]
    return name


@lru_cache(maxsize=8192)
def physical_column(flavour: str, table: str, column: str) -> str | None:
    if flavour != GLPIINVENTORY:
        return column
    if (table, column) in ABSENT_COLUMNS:
        return None
    return TABLE_COLUMNS.get((table, column)) or physical_identifier(flavour, column)


# ---------------------------------------------------------------------------------------------
# GLPI 10/11 core tables the glpiinventory layout needs beside the plugin's (docs/schema-layouts.md
# §3). Their own MetaData: a fusioninventory database never has them. ``glpi_agents`` carries the
# FusionInventory keys of the columns that mean the same (``device_id`` is ``deviceid``…), so that
# an INSERT of ``schema.agents`` can be compiled into it with its required columns filled in.

core_metadata = MetaData()
SQLITE_PREFIXED_INDEXES.append(core_metadata)

glpi_agenttypes = Table(
    "glpi_agenttypes", core_metadata,
    id_column(),
    string_column("name"),
    Index("name", "name"),
    mysql_engine="InnoDB", mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_ci",
)

CORE_AGENT_TYPE = "Core"
CORE_AGENT_TYPE_ID = select(func.min(glpi_agenttypes.c.id)).where(glpi_agenttypes.c.name == CORE_AGENT_TYPE) \
    .scalar_subquery()

glpi_agents = Table(
    "glpi_agents", core_metadata,
    id_column(),
    Column("deviceid", String(255), key="device_id", nullable=False),
    int_column("entities_id"),
    flag_column("is_recursive", width=4),
    string_column("name"),
    Column("agenttypes_id", int_type(11), nullable=False, default=CORE_AGENT_TYPE_ID),
    timestamp_column("last_contact"),
    string_column("version"),
    Column("locked", tinyint_type(4), key="lock", nullable=False, server_default="0"),
    Column("itemtype", String(100), nullable=False, default="Computer"),
    Column("items_id", int_type(11), key="computers_id", nullable=False, default=0),
    string_column("useragent"),
    string_column("tag"),
    Column("port", String(6), key="agent_port"),
    string_column("remote_addr"),
    int_column("threads_networkdiscovery", "1"),
    int_column("threads_networkinventory", "1"),
    int_column("timeout_networkdiscovery"),
    int_column("timeout_networkinventory"),
    *(flag_column("use_module_" + module, width=4) for module in (
        "wake_on_lan", "computer_inventory", "esx_remote_inventory", "remote_inventory", "network_inventory",
        "network_discovery", "package_deployment", "collect_data")),
    Index("deviceid", "device_id", unique=True),
    Index("agenttypes_id", "agenttypes_id"),
    Index("entities_id", "entities_id"),
    Index("is_recursive", "is_recursive"),
    Index("item", "itemtype", "computers_id"),
    Index("name", "name"),
    mysql_engine="InnoDB", mysql_charset="utf8mb4", mysql_collate="utf8mb4_unicode_ci",
)

# INSERTs into a plugin table that the glpiinventory layout keeps in a core table with more
# required columns are compiled into that table (adapters.db_layout).
INSERT_TABLES = {FI_PREFIX + "agents": glpi_agents}
