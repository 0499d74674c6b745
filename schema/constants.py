"""Values the plugin stores in its tables: run and log states, item types, methods, modules."""

from __future__ import annotations

from enum import IntEnum


class TaskjobState(IntEnum):
    """``glpi_plugin_fusioninventory_taskjobstates.state`` (PluginFusioninventoryTaskjobstate)."""

    PREPARED = 0
    SERVER_HAS_SENT_DATA = 1
    AGENT_HAS_SENT_DATA = 2
    FINISHED = 3
    IN_ERROR = 4
    CANCELLED = 5
    POSTPONED = 6

    @property
    def label(self) -> str:
        return TASKJOBSTATE_LABELS[self]


TASKJOBSTATE_LABELS = {
    TaskjobState.PREPARED: "Prepared",
    TaskjobState.SERVER_HAS_SENT_DATA: "Server has sent data to the agent",
    TaskjobState.AGENT_HAS_SENT_DATA: "Agent replied with data to the server",
    TaskjobState.FINISHED: "Finished",
    TaskjobState.IN_ERROR: "Error",
    TaskjobState.CANCELLED: "Cancelled",
    TaskjobState.POSTPONED: "Postponed",
}


class TaskjobLogState(IntEnum):
    """``glpi_plugin_fusioninventory_taskjoblogs.state`` (PluginFusioninventoryTaskjoblog).

    3 is unused since 0.85.
    """

    STARTED = 1
    OK = 2
    ERROR = 4
    INFO = 5
    RUNNING = 6
    PREPARED = 7

    @property
    def label(self) -> str:
        return TASKJOBLOG_LABELS[self]


TASKJOBLOG_LABELS = {
    TaskjobLogState.STARTED: "Started",
    TaskjobLogState.OK: "Ok",
    TaskjobLogState.ERROR: "Error",
    TaskjobLogState.INFO: "Info",
    TaskjobLogState.RUNNING: "Running",
    TaskjobLogState.PREPARED: "Prepared",
}


class ItemType:
    """Strings stored in ``itemtype`` columns and in taskjob targets/actors."""

    COMPUTER = "Computer"
    NETWORK_EQUIPMENT = "NetworkEquipment"
    PRINTER = "Printer"
    GROUP = "Group"
    AGENT = "PluginFusioninventoryAgent"
    IP_RANGE = "PluginFusioninventoryIPRange"
    DEPLOY_PACKAGE = "PluginFusioninventoryDeployPackage"
    DEPLOY_GROUP = "PluginFusioninventoryDeployGroup"
    COLLECT = "PluginFusioninventoryCollect"
    CREDENTIAL_IP = "PluginFusioninventoryCredentialIp"
    UNMANAGED = "PluginFusioninventoryUnmanaged"
    NETWORK_PORT = "NetworkPort"
    NETWORK_NAME = "NetworkName"


class Method:
    """``glpi_plugin_fusioninventory_taskjobs.method``."""

    WAKEONLAN = "wakeonlan"
    INVENTORY = "inventory"
    ESX = "InventoryComputerESX"
    NETWORK_DISCOVERY = "networkdiscovery"
    NETWORK_INVENTORY = "networkinventory"
    DEPLOY = "deployinstall"
    COLLECT = "collect"


class Module:
    """``glpi_plugin_fusioninventory_agentmodules.modulename``, spelled as the plugin installs them.

    Lookups compare case-insensitively, as GLPI's collation does.
    """

    WAKEONLAN = "WAKEONLAN"
    INVENTORY = "INVENTORY"
    ESX = "InventoryComputerESX"
    NETWORK_INVENTORY = "NETWORKINVENTORY"
    NETWORK_DISCOVERY = "NETWORKDISCOVERY"
    DEPLOY = "DEPLOY"
    COLLECT = "Collect"


# The agent module a method needs, as the plugin checks it.
METHOD_MODULES = {
    Method.WAKEONLAN: Module.WAKEONLAN,
    Method.INVENTORY: Module.INVENTORY,
    Method.ESX: Module.ESX,
    Method.NETWORK_DISCOVERY: Module.NETWORK_DISCOVERY,
    Method.NETWORK_INVENTORY: Module.NETWORK_INVENTORY,
    Method.DEPLOY: Module.DEPLOY,
    Method.COLLECT: Module.COLLECT,
}

# Methods whose jobs are sent in the XML PROLOG reply; the others go through REST.
XML_METHODS = (Method.WAKEONLAN, Method.NETWORK_DISCOVERY, Method.NETWORK_INVENTORY)
REST_METHODS = (Method.ESX, Method.DEPLOY, Method.COLLECT)

PLUGIN_DIRECTORY = "fusioninventory"
PLUGIN_VERSION = "9.5+4.2"
PLUGIN_USER_NAME = "Plugin_FusionInventory"
ROOT_ENTITY_ID = 0
