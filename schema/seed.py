"""The rows the plugin (and GLPI, for a standalone database) create at install time.

Only written to a database the bridge created itself; a real GLPI already has them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, select
from sqlalchemy.engine import Connection

from schema.constants import (
    PLUGIN_DIRECTORY,
    PLUGIN_USER_NAME,
    PLUGIN_VERSION,
    ROOT_ENTITY_ID,
    Module,
)
from schema.default_rules import DEFAULT_IMPORT_RULES, IMPORT_SUB_TYPE
from schema.tables import (
    agentmodules,
    configs,
    configsecurities,
    entities,
    glpi_crontasks,
    glpi_entities,
    glpi_plugins,
    glpi_ruleactions,
    glpi_rulecriterias,
    glpi_rules,
    glpi_users,
)

# GLPI_PLUGIN_DOC_DIR of a Debian-packaged GLPI; deploy stores uploads below it.
DEFAULT_UPLOAD_PATH = "/var/lib/glpi/files/_plugins/fusioninventory/upload"

# (module, is_active at install) in the plugin's insertion order.
AGENT_MODULES = [
    (Module.WAKEONLAN, 0),
    (Module.INVENTORY, 1),
    (Module.ESX, 0),
    (Module.NETWORK_INVENTORY, 0),
    (Module.NETWORK_DISCOVERY, 0),
    (Module.DEPLOY, 1),
    (Module.COLLECT, 1),
]

# Config keys and install defaults. ``mirror_match`` is left out: only the plugin's upgrade
# path adds it, and readers default it to 0.
CONFIG_DEFAULTS = [
    ("version", PLUGIN_VERSION),
    ("ssl_only", "0"),
    ("delete_task", "20"),
    ("inventory_frequence", "24"),
    ("agent_port", "62354"),
    ("extradebug", "0"),
    ("users_id", None),  # the Plugin_FusionInventory user, resolved at insert time
    ("agents_old_days", "0"),
    ("agents_action", "0"),
    ("agents_status", "0"),
    ("wakeup_agent_max", "10"),
    *[(key, "1") for key in ("import_software", "import_volume", "import_antivirus",
                             "import_registry", "import_process", "import_vm", "import_crontask")],
    ("import_monitor_on_partial_sn", "0"),
    ("import_domain", "0"),
    *[("component_" + part, "1") for part in (
        "processor", "memory", "harddrive", "networkcard", "graphiccard", "soundcard", "drive",
        "networkdrive", "control", "simcard", "networkcardvirtual", "battery")],
    ("component_removablemedia", "0"),
    *[(key, "0") for key in ("states_id_default", "states_id_snmp_default", "location", "group",
                             "create_vm", "otherserial")],
    ("threads_networkdiscovery", "20"),
    ("threads_networkinventory", "10"),
    ("timeout_networkdiscovery", "1"),
    ("timeout_networkinventory", "15"),
    ("server_upload_path", DEFAULT_UPLOAD_PATH),
    ("alert_winpath", "1"),
    ("server_as_mirror", "1"),
    ("manage_osname", "1"),
    ("clean_on_demand_tasks", "-1"),
    ("reprepare_job", "0"),
    *[("auto_inventory_number_" + item, "") for item in (
        "computer", "monitor", "networkequipment", "peripheral", "phone", "printer")],
]

# (itemtype, name, frequency in seconds, comment), registered with mode 2 (external),
# allowmode 3 and logs_lifetime 30.
CRON_TASKS = [
    ("PluginFusioninventoryTask", "taskscheduler", 60, None),
    ("PluginFusioninventoryTaskjobstate", "cleantaskjob", 86400, None),
    ("PluginFusioninventoryNetworkPortLog", "cleannetworkportlogs", 86400, None),
    ("PluginFusioninventoryAgent", "cleanoldagents", 86400,
     'Delete agents that have not contacted the server since "xxx" days.'),
    ("PluginFusioninventoryAgentWakeup", "wakeupAgents", 120, "Wake agents ups"),
    ("PluginFusioninventoryTask", "cleanondemand", 86400, "Clean on demand deployment tasks"),
]

# The columns that identify a seed row: it is inserted only if no row has these values.
NATURAL_KEYS = {
    glpi_entities.name: ("id",),
    glpi_users.name: ("name",),
    glpi_plugins.name: ("directory",),
    glpi_crontasks.name: ("itemtype", "name"),
    agentmodules.name: ("modulename",),
    configs.name: ("type",),
    entities.name: ("entities_id",),
    configsecurities.name: ("id",),
}

# Tables in insertion order (the plugin user must exist before the config points at it).
SEED_TABLES = [glpi_entities, glpi_users, glpi_plugins, glpi_crontasks, agentmodules, configs,
               entities, configsecurities]


def seed_rows(plugin_user_id: int | None = None) -> dict[str, list[dict]]:
    """Install-time rows by table name. Config ``users_id`` is ``plugin_user_id`` (or None)."""
    return {
        glpi_entities.name: [{
            "id": ROOT_ENTITY_ID, "name": "Root entity", "entities_id": -1,
            "completename": "Root entity", "level": 1,
        }],
        glpi_users.name: [{"name": PLUGIN_USER_NAME, "firstname": "Plugin FusionInventory"}],
        glpi_plugins.name: [{
            "directory": PLUGIN_DIRECTORY, "name": "FusionInventory", "version": PLUGIN_VERSION,
            "state": 1, "author": "FusionInventory team",
            "homepage": "https://github.com/fusioninventory/fusioninventory-for-glpi",
            "license": "AGPLv3+",
        }],
        glpi_crontasks.name: [
            {"itemtype": itemtype, "name": name, "frequency": frequency, "param": None, "state": 1,
             "mode": 2, "allowmode": 3, "hourmin": 0, "hourmax": 24, "logs_lifetime": 30,
             "comment": comment}
            for itemtype, name, frequency, comment in CRON_TASKS
        ],
        agentmodules.name: [
            {"modulename": name, "is_active": active, "exceptions": "[]"} for name, active in AGENT_MODULES
        ],
        configs.name: [
            {"type": key, "value": value if key != "users_id" else _text(plugin_user_id)}
            for key, value in CONFIG_DEFAULTS
        ],
        entities.name: [{"entities_id": ROOT_ENTITY_ID, "transfers_id_auto": 0, "agent_base_url": ""}],
        configsecurities.name: [
            _public_community(1, "Public community v1", "1"),
            _public_community(2, "Public community v2c", "2"),
        ],
    }


def _public_community(row_id: int, name: str, version: str) -> dict:
    return {"id": row_id, "name": name, "snmpversion": version, "community": "public", "username": "",
            "authentication": "0", "auth_passphrase": "", "encryption": "0", "priv_passphrase": "",
            "is_deleted": 0}


def _text(value) -> str | None:
    return None if value is None else str(value)


def _exists(conn: Connection, table, row: dict) -> bool:
    conditions = []
    for key in NATURAL_KEYS[table.name]:
        column = table.c[key]
        value = row[key]
        # Module names compare case-insensitively, as in GLPI's collation.
        if table is agentmodules and key == "modulename":
            conditions.append(func.lower(column) == value.lower())
        else:
            conditions.append(column == value)
    return conn.execute(select(1).select_from(table).where(and_(*conditions)).limit(1)).first() is not None


def _plugin_user_id(conn: Connection) -> int | None:
    return conn.execute(
        select(glpi_users.c.id).where(glpi_users.c.name == PLUGIN_USER_NAME)
        .order_by(glpi_users.c.id).limit(1)
    ).scalar()


def insert_missing_seed_rows(conn: Connection) -> list[str]:
    """Insert the seed rows whose natural key is missing; return what was inserted.

    Idempotent, and runs inside the caller's transaction.
    """
    inserted: list[str] = []
    for table in SEED_TABLES:
        rows = seed_rows(_plugin_user_id(conn))[table.name]
        for row in rows:
            if not _exists(conn, table, row):
                conn.execute(insert(table).values(row))
                key = ",".join(f"{name}={row[name]}" for name in NATURAL_KEYS[table.name])
                inserted.append(f"{table.name}:{key}")
    inserted += insert_default_import_rules(conn)
    return inserted


def insert_default_import_rules(conn: Connection) -> list[str]:
    """The plugin's 48 import rules with their criteria and actions, when the database has no
    import rule at all (the plugin installs them once; a site's own set is never completed)."""
    has_rules = conn.execute(select(glpi_rules.c.id).where(glpi_rules.c.sub_type == IMPORT_SUB_TYPE).limit(1)
                             ).first()
    if has_rules is not None:
        return []
    now = datetime.now().replace(microsecond=0)  # local time, as GLPI writes dates
    for ranking, (name, active, fusion, criteria) in enumerate(DEFAULT_IMPORT_RULES):
        rule_id = conn.execute(insert(glpi_rules).values(
            entities_id=0, sub_type=IMPORT_SUB_TYPE, ranking=ranking, name=name, match="AND",
            is_active=active, is_recursive=0, condition=0, date_mod=now, date_creation=now,
        )).inserted_primary_key[0]
        conn.execute(insert(glpi_rulecriterias), [
            {"rules_id": rule_id, "criteria": criterion, "condition": condition, "pattern": pattern}
            for criterion, condition, pattern in criteria])
        conn.execute(insert(glpi_ruleactions).values(rules_id=rule_id, action_type="assign", field="_fusion",
                                                     value=fusion))
    return [f"{glpi_rules.name}:sub_type={IMPORT_SUB_TYPE} x{len(DEFAULT_IMPORT_RULES)}"]
