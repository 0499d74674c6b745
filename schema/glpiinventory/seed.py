"""The rows GLPI 10/11 and glpiinventory write at install time, for a database the bridge creates
itself (docs/glpi10-schema.md §4). A real GLPI already has them and never gets them from here.

GLPI 10 + 1.5.8: exactly the rows observed on a real install (``fixtures/schema/glpi10_seed_rows.json``
minus install timestamps). GLPI 11 + 1.6.10: the same rows with 11's additions
(docs/glpi10-schema.md §4.3).
"""

from __future__ import annotations

from sqlalchemy import and_, insert, select, text
from sqlalchemy.engine import Connection

from schema.glpiinventory.tables import tables

PLUGIN_VERSIONS = {10: "1.5.8", 11: "1.6.10"}
PLUGIN_USER_ID = 7  # the id a fresh GLPI 10 gives the plugin's user (six users come with GLPI)
PLUGIN_USER_NAME = "Plugin_GLPI_Inventory"
CORE_AGENT_TYPE = "Core"

AGENT_MODULES = [("INVENTORY", 1), ("InventoryComputerESX", 0), ("NETWORKINVENTORY", 0),
                 ("NETWORKDISCOVERY", 0), ("DEPLOY", 1), ("Collect", 1)]

# Plugin config keys and install values, in id order; "version" and "users_id" are filled in.
_COMPONENTS = ["processor", "memory", "harddrive", "networkcard", "graphiccard", "soundcard", "drive",
               "networkdrive", "control"]
PLUGIN_CONFIG = [
    ("version", None), ("ssl_only", "0"), ("delete_task", "20"), ("agent_port", "62354"), ("extradebug", "0"),
    ("users_id", None), ("wakeup_agent_max", "10"),
    *[(f"import_{item}", "1") for item in ("software", "volume", "antivirus", "registry", "process", "vm")],
    ("import_monitor_on_partial_sn", "0"),
    *[(f"component_{part}", "1") for part in _COMPONENTS],
    ("component_removablemedia", "0"), ("component_simcard", "1"), ("component_powersupply", "1"),
    ("states_id_default", "0"), ("location", "0"), ("group", "0"), ("create_vm", "0"),
    ("component_networkcardvirtual", "1"), ("otherserial", "0"), ("component_battery", "1"),
    ("threads_networkdiscovery", "20"), ("threads_networkinventory", "10"), ("timeout_networkdiscovery", "1"),
    ("timeout_networkinventory", "15"), ("alert_winpath", "1"), ("server_as_mirror", "1"),
    ("manage_osname", "1"), ("clean_on_demand_tasks", "-1"), ("reprepare_job", "0"),
]

# Core glpi_configs rows of context 'inventory', in insertion order (no fixed ids).
INVENTORY_CONFIG = [
    ("enabled_inventory", "0"),
    *[(f"import_{item}", "1") for item in ("software", "volume", "antivirus", "registry", "process", "vm")],
    ("import_monitor_on_partial_sn", "0"), ("import_unmanaged", "1"),
    *[(f"component_{part}", "1") for part in (
        "processor", "memory", "harddrive", "networkcard", "graphiccard", "soundcard", "drive", "networkdrive",
        "networkcardvirtual", "control", "battery", "simcard")],
    ("states_id_default", "0"), ("entities_id_default", "0"), ("location", "0"), ("group", "0"),
    ("vm_type", "0"), ("vm_components", "0"), ("vm_as_computer", "0"), ("component_removablemedia", "1"),
    ("component_powersupply", "1"), ("inventory_frequency", "24"), ("import_monitor", "1"),
    ("import_printer", "1"), ("import_peripheral", "1"), ("stale_agents_delay", "0"),
    ("stale_agents_action", "[0]"), ("stale_agents_status", "0"),
]
INVENTORY_CONFIG_11 = [("stale_agents_status_condition", '["all"]'), ("import_env", "0"),
                       ("auth_required", "none"), ("basic_auth_login", ""), ("basic_auth_password", "")]

# (id, itemtype, name, frequency in seconds, state): mode 2, allowmode 3, hours 0-24, logs kept 30 days.
CRON_TASKS = [
    (40, "Glpi\\Inventory\\Inventory", "cleantemp", 86400, 0),
    (41, "Glpi\\Inventory\\Inventory", "cleanorphans", 604800, 1),
    (43, "Agent", "Cleanoldagents", 86400, 1),
    (44, "PluginGlpiinventoryTask", "taskscheduler", 60, 1),
    (45, "PluginGlpiinventoryTaskjobstate", "cleantaskjob", 86400, 1),
    (46, "PluginGlpiinventoryAgentWakeup", "wakeupAgents", 120, 1),
    (47, "PluginGlpiinventoryTask", "cleanondemand", 86400, 1),
]
CLEAN_ORPHANS_11 = "cleanorphansinventory"  # GLPI 11.0.9 renamed the task

# The plugin's list columns: itemtype suffix -> search option numbers, ranked 1.. in this order.
DISPLAY_PREFERENCES = {
    "Task": [2, 3, 4, 5, 6, 7, 30], "IPRange": [2, 3, 4], "Taskjob": [1, 2, 3, 4, 5],
    "InventoryComputerBlacklist": [2], "Taskjoblog": [2, 3, 4, 5, 6, 7, 8],
    "StateDiscovery": [2, 4, 5, 6, 7, 8, 9, 10, 11, 12], "CredentialIp": [2], "Credential": [2],
}

# The columns that identify an install row: it is inserted only where no row has these values.
NATURAL_KEYS = {
    "glpi_entities": ("id",), "glpi_users": ("id",), "glpi_plugins": ("directory",), "glpi_agenttypes": ("id",),
    "glpi_snmpcredentials": ("id",), "glpi_crontasks": ("itemtype", "name"), "glpi_configs": ("context", "name"),
    "glpi_plugin_glpiinventory_agentmodules": ("modulename",), "glpi_plugin_glpiinventory_configs": ("type",),
    "glpi_displaypreferences": ("itemtype", "num", "users_id"),
}


def seed_rows(glpi: int) -> dict[str, list[dict]]:
    """Install rows by table name, in insertion order, for GLPI ``glpi`` (10 or 11)."""
    version = PLUGIN_VERSIONS[glpi]
    clean_orphans = "cleanorphans" if glpi == 10 else CLEAN_ORPHANS_11
    return {
        "glpi_entities": [{"id": 0, "name": "Root entity", "entities_id": None, "completename": "Root entity",
                           "comment": None, "level": 1, "agent_base_url": None}],
        "glpi_users": [{"id": PLUGIN_USER_ID, "name": PLUGIN_USER_NAME, "password": "35",
                        "firstname": "Plugin GLPI Inventory", "realname": None, "is_active": 1, "auths_id": 0,
                        "authtype": 1, "entities_id": 0, "profiles_id": 0, "is_deleted": 0}],
        "glpi_plugins": [{"id": 1, "directory": "glpiinventory", "name": "GLPI Inventory", "version": version,
                          "state": 1, "author": "Teclib'",
                          "homepage": "https://github.com/glpi-project/glpi-inventory-plugin", "license": "AGPLv3+"}],
        "glpi_agenttypes": [{"id": 1, "name": CORE_AGENT_TYPE}],
        "glpi_snmpcredentials": [_public_community(1, "Public community v1", "1"),
                                 _public_community(2, "Public community v2c", "2")],
        "glpi_crontasks": [
            {"id": row_id, "itemtype": itemtype, "name": clean_orphans if name == "cleanorphans" else name,
             "frequency": frequency, "param": None, "state": state, "mode": 2, "allowmode": 3, "hourmin": 0,
             "hourmax": 24, "logs_lifetime": 30, "lastrun": None, "lastcode": None, "comment": None,
             "date_mod": None, "date_creation": None}
            for row_id, itemtype, name, frequency, state in CRON_TASKS],
        "glpi_configs": [{"context": "inventory", "name": name, "value": value}
                         for name, value in INVENTORY_CONFIG + (INVENTORY_CONFIG_11 if glpi == 11 else [])],
        "glpi_plugin_glpiinventory_agentmodules": [
            {"id": row_id, "modulename": name, "is_active": active, "exceptions": "[]"}
            for row_id, (name, active) in enumerate(AGENT_MODULES, start=1)],
        "glpi_plugin_glpiinventory_configs": [
            {"id": row_id, "type": key, "value": {"version": version, "users_id": str(PLUGIN_USER_ID)}.get(key, value)}
            for row_id, (key, value) in enumerate(PLUGIN_CONFIG, start=1)],
        "glpi_displaypreferences": [
            {"itemtype": f"PluginGlpiinventory{suffix}", "num": num, "rank": rank, "users_id": 0}
            for suffix, numbers in DISPLAY_PREFERENCES.items() for rank, num in enumerate(numbers, start=1)],
    }


def _public_community(row_id: int, name: str, version: str) -> dict:
    return {"id": row_id, "name": name, "snmpversion": version, "community": "public", "username": None,
            "authentication": None, "auth_passphrase": None, "encryption": None, "priv_passphrase": None,
            "is_deleted": 0}


def insert_missing_seed_rows(conn: Connection, glpi: int) -> list[str]:
    """Insert the install rows whose natural key is missing, in the caller's transaction; what
    was inserted, as ``table:key=value``. Idempotent."""
    by_name = tables(glpi)
    inserted: list[str] = []
    with _zero_is_an_id(conn):
        for name, rows in seed_rows(glpi).items():
            table = by_name[name]
            for row in rows:
                condition = and_(*[table.c[key] == row[key] for key in NATURAL_KEYS[name]])
                if conn.execute(select(1).select_from(table).where(condition).limit(1)).first() is None:
                    conn.execute(insert(table).values(row))
                    inserted.append(f"{name}:" + ",".join(f"{key}={row[key]}" for key in NATURAL_KEYS[name]))
    return inserted


class _zero_is_an_id:
    """On MariaDB, an id 0 written into an AUTO_INCREMENT column (GLPI 11's root entity) stays 0
    only under ``NO_AUTO_VALUE_ON_ZERO``; the session's mode is put back afterwards."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self._mode: str | None = None

    def __enter__(self):
        if self._conn.dialect.name in ("mysql", "mariadb"):
            self._mode = self._conn.execute(text("SELECT @@SESSION.sql_mode")).scalar()
            modes = [mode for mode in self._mode.split(",") if mode] + ["NO_AUTO_VALUE_ON_ZERO"]
            self._conn.execute(text("SET SESSION sql_mode = :mode"), {"mode": ",".join(modes)})
        return self

    def __exit__(self, *exc):
        if self._mode is not None:
            self._conn.execute(text("SET SESSION sql_mode = :mode"), {"mode": self._mode})
        return False
