"""Minimal imports: what tasks need and what GLPI must show of inventoried and discovered devices.

Every function takes an open Connection inside the caller's transaction and the ``now`` to
write as dates; none commits.

- ``import_computer_inventory(conn, agent_id, inventory, now) -> computers_id``
- ``import_discovered_device(conn, agent_id, device, entity_id, now) -> ImportResult``
- ``update_inventoried_device(conn, itemtype, items_id, device, now) -> bool``
- ``item_link``, ``type_name`` and the plugin's log comments for taskjoblogs.
"""

from .computers import MatchLockNeeded, computer_match_locks, import_computer_inventory
from .names import (ImportResult, discovery_comment, item_link, itemtype_for_discovery_type,
                    snmp_error_comment, snmp_no_information_comment, snmp_update_comment, type_name)
from .matching import asset_row
from .network_devices import (create_asset, discovered_match, discovered_name, import_decided_device, import_discovered_device,
                              snmp_device_has_information, update_inventoried_device)

__all__ = [
    "ImportResult", "MatchLockNeeded", "asset_row", "computer_match_locks", "create_asset", "discovered_match", "import_decided_device",
    "discovered_name", "discovery_comment", "import_computer_inventory",
    "import_discovered_device", "item_link", "itemtype_for_discovery_type", "snmp_device_has_information",
    "snmp_error_comment", "snmp_no_information_comment", "snmp_update_comment", "type_name",
    "update_inventoried_device",
]
