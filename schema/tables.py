"""All table definitions in one MetaData, and the names the service layer uses."""

from __future__ import annotations

from sqlalchemy import Table

from schema import (bridge, glpi_core_assets, glpi_core_base, glpi_core_ports, glpi_core_rules, plugin_agents,
                    plugin_collect)
from schema import plugin_deploy, plugin_network, plugin_tasks
from schema.base import metadata
from schema.bridge import bridge_inventories, bridge_meta
from schema.glpi_core_assets import (
    glpi_computers,
    glpi_domains,
    glpi_domains_items,
    glpi_ipaddresses,
    glpi_networkequipments,
    glpi_networknames,
    glpi_networkports,
    glpi_printers,
)
from schema.glpi_core_base import (
    glpi_crontasklogs,
    glpi_crontasks,
    glpi_entities,
    glpi_groups,
    glpi_groups_users,
    glpi_plugins,
    glpi_users,
)
from schema.plugin_agents import agentmodules, agents, configs, entities
from schema.plugin_network import configsecurities, ipranges
from schema.plugin_tasks import taskjoblogs, taskjobs, taskjobstates, tasks, timeslotentries, timeslots

PLUGIN_TABLES: list[Table] = [
    *plugin_agents.TABLES,
    *plugin_tasks.TABLES,
    *plugin_network.TABLES,
    *plugin_deploy.TABLES,
    *plugin_collect.TABLES,
]
CORE_TABLES: list[Table] = [*glpi_core_base.TABLES, *glpi_core_assets.TABLES, *glpi_core_ports.TABLES,
                             *glpi_core_rules.TABLES]
BRIDGE_TABLES: list[Table] = list(bridge.TABLES)

TABLES_BY_NAME: dict[str, Table] = {table.name: table for table in metadata.sorted_tables}

# Every other table under its module-level name too (schema.statediscoveries, schema.deploygroups…).
_MODULES = (plugin_agents, plugin_tasks, plugin_network, plugin_deploy, plugin_collect, glpi_core_base,
            glpi_core_assets, glpi_core_ports, glpi_core_rules, bridge)
_MORE_TABLES = {name: value for module in _MODULES for name, value in vars(module).items()
                if isinstance(value, Table) and not name.startswith("_")}
globals().update({name: table for name, table in _MORE_TABLES.items() if name not in globals()})

__all__ = [
    "metadata", "PLUGIN_TABLES", "CORE_TABLES", "BRIDGE_TABLES", "TABLES_BY_NAME",
    "agents", "agentmodules", "configs", "entities", "tasks", "taskjobs", "taskjobstates",
    "taskjoblogs", "timeslots", "timeslotentries", "ipranges", "configsecurities",
    "bridge_meta", "bridge_inventories",
    "glpi_entities", "glpi_users", "glpi_groups", "glpi_groups_users", "glpi_crontasks",
    "glpi_crontasklogs", "glpi_plugins", "glpi_computers", "glpi_networkequipments",
    "glpi_printers", "glpi_networkports", "glpi_networknames", "glpi_ipaddresses", "glpi_domains",
    "glpi_domains_items",
    *sorted(name for name in _MORE_TABLES if name not in (
        "agents", "agentmodules", "configs", "entities", "tasks", "taskjobs", "taskjobstates", "taskjoblogs",
        "timeslots", "timeslotentries", "ipranges", "configsecurities", "bridge_meta", "bridge_inventories")
        and not name.startswith("glpi_")),
]
