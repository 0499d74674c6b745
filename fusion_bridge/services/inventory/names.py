"""Item types, their display names and the taskjoblog comments the plugin writes about them.

Comments use the plugin's mini-language (``PluginFusioninventoryTaskjoblog::convertComment``):
``[[Itemtype::id]]`` becomes a link to the item, ``==code==`` a translated word.
"""

from __future__ import annotations

from dataclasses import dataclass

from schema import class_names
from schema.constants import ItemType

# What the plugin prints with ``$item->getTypeName()`` (no count: GLPI's plural for the core
# types, the plugin's fixed singular for unmanaged devices), in GLPI's English.
TYPE_NAMES = {
    ItemType.COMPUTER: "Computers",
    ItemType.NETWORK_EQUIPMENT: "Network devices",
    ItemType.PRINTER: "Printers",
    ItemType.UNMANAGED: "Unmanaged device",
}
# glpiinventory's (recorded on GLPI 10: ``Unmanaged assets [[Unmanaged::1]]``, docs/glpi10-protocol.md §9).
GLPIINVENTORY_TYPE_NAMES = {**TYPE_NAMES, ItemType.UNMANAGED: "Unmanaged assets"}

# Discovery TYPE -> the asset created for it (the plugin also accepts the old numeric codes).
DISCOVERY_TYPES = {
    "COMPUTER": ItemType.COMPUTER,
    "1": ItemType.COMPUTER,
    "NETWORKING": ItemType.NETWORK_EQUIPMENT,
    "2": ItemType.NETWORK_EQUIPMENT,
    "PRINTER": ItemType.PRINTER,
    "3": ItemType.PRINTER,
}

ASSET_TYPES = (ItemType.COMPUTER, ItemType.NETWORK_EQUIPMENT, ItemType.PRINTER, ItemType.UNMANAGED)


def item_link(itemtype: str, items_id: int, glpiinventory: bool = False) -> str:
    """``[[Itemtype::id]]``: GLPI renders it as a link to the item (``glpiinventory``: its class names)."""
    if glpiinventory:
        itemtype = class_names.written(class_names.GLPIINVENTORY, itemtype)
    return f"[[{itemtype}::{int(items_id)}]]"


def type_name(itemtype: str, glpiinventory: bool = False) -> str:
    return (GLPIINVENTORY_TYPE_NAMES if glpiinventory else TYPE_NAMES).get(itemtype, itemtype)


def itemtype_for_discovery_type(device_type: str | None) -> str | None:
    """The asset type a discovered TYPE becomes; None for unknown types (-> unmanaged)."""
    if not device_type:
        return None
    return DISCOVERY_TYPES.get(device_type.strip().upper())


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What a discovered DEVICE became."""

    itemtype: str
    items_id: int
    created: bool

    @property
    def link(self) -> str:
        return item_link(self.itemtype, self.items_id)

    @property
    def log_comment(self) -> str:
        """The plugin's log line for it; END counts ``==addtheitem==``/``==updatetheitem==`` lines."""
        return discovery_comment(self.itemtype, self.items_id, self.created)


def discovery_comment(itemtype: str, items_id: int, created: bool, glpiinventory: bool = False) -> str:
    code = "==addtheitem==" if created else "==updatetheitem=="
    return (f"[==detail==] {code} {type_name(itemtype, glpiinventory)} "
            f"{item_link(itemtype, items_id, glpiinventory)}")


# How an SNMP inventory's "device updated" line starts, by plugin: FusionInventory 9.5, glpiinventory
# (docs/glpi10-protocol.md §9). SNMPQUERY END counts the lines that start so.
SNMP_UPDATED_FUSIONINVENTORY = "[==detail==] Update "
SNMP_UPDATED_GLPIINVENTORY = "[==detail==] ==updatetheitem== "


def snmp_updated_prefix(glpiinventory: bool = False) -> str:
    return SNMP_UPDATED_GLPIINVENTORY if glpiinventory else SNMP_UPDATED_FUSIONINVENTORY


def snmp_update_comment(itemtype: str, items_id: int, glpiinventory: bool = False) -> str:
    """``[==detail==] Update <type> [[Itemtype::id]]``, in the spelling of the plugin served."""
    return (f"{snmp_updated_prefix(glpiinventory)}{type_name(itemtype, glpiinventory)} "
            f"{item_link(itemtype, items_id, glpiinventory)}")


def snmp_no_information_comment(itemtype: str, items_id: int) -> str:
    """Logged by the plugin for a DEVICE without sysdescr, name and serial."""
    return f"[==detail==] No informations {item_link(itemtype, items_id)}"


def snmp_error_comment(message: str, itemtype: str, items_id: int) -> str:
    """An SNMPQUERY ``DEVICE/ERROR``: ``[==detail==] <message> [[Itemtype::id]]``."""
    return f"[==detail==] {message} {item_link(itemtype, items_id)}"
