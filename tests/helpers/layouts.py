"""Test databases of either schema flavour (docs/schema-layouts.md §1): ``db init``'s own, the
glpiinventory one as GLPI 10 + glpiinventory 1.5.8 install it (docs/glpi10-schema.md)."""

from __future__ import annotations

from sqlalchemy import text

import schema
from fusion_bridge.adapters.db import make_engine
from schema.layout import FLAVOURS, FUSIONINVENTORY, GLPIINVENTORY

__all__ = ["FLAVOURS", "FUSIONINVENTORY", "GLPIINVENTORY", "init_flavoured_database", "set_inventory_config"]


def init_flavoured_database(url: str, flavour: str, glpi: int | None = None) -> None:
    """Create the schema of ``flavour`` (GLPI ``glpi``: 10 by default for glpiinventory) in the
    empty database at ``url``."""
    engine = make_engine(url, flavour=flavour)
    try:
        schema.init_database(engine, flavour=flavour, glpi=glpi if flavour == GLPIINVENTORY else None)
        if flavour == GLPIINVENTORY:
            with engine.begin() as conn:
                set_inventory_config(conn, enabled_inventory="1")
    finally:
        engine.dispose()


def set_inventory_config(conn, **values: str) -> None:
    """Set GLPI 10/11's ``glpi_configs`` rows of context 'inventory' (``enabled_inventory``,
    ``inventory_frequency``, ``auth_required``…), adding the ones missing. A test database serves
    agents, so its inventory is enabled (GLPI installs it disabled: docs/glpi10-protocol.md §8.3)."""
    for name, value in values.items():
        found = conn.execute(text("UPDATE glpi_configs SET value = :value WHERE context = 'inventory' AND name = :name"),
                             {"name": name, "value": value}).rowcount
        if not found:
            conn.execute(text("INSERT INTO glpi_configs (context, name, value) VALUES ('inventory', :name, :value)"),
                         {"name": name, "value": value})
