"""What GLPI 9.5 with the plugin 4.2 installed holds, as the schema tests expect it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Structure of every GLPI and plugin table, taken from a real installation (fixtures/schema/).
REFERENCE = ROOT / "fixtures" / "schema" / "glpi95_fusioninventory42.json"
# The agent modules the plugin's installer writes: (modulename, is_active), in id order.
PLUGIN_MODULES = [("WAKEONLAN", 0), ("INVENTORY", 1), ("InventoryComputerESX", 0), ("NETWORKINVENTORY", 0),
                  ("NETWORKDISCOVERY", 0), ("DEPLOY", 1), ("Collect", 1)]
