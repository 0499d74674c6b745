"""fusion-bridge: a FusionInventory agent server running on GLPI's database."""

__version__ = "0.1.0"
