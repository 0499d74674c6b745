"""Test databases of either schema flavour (docs/schema-layouts.md §1): ``db init``'s own, the
glpiinventory one as GLPI 10 + glpiinventory 1.5.8 install it (docs/glpi10-schema.md)."""

from __future__ import annotations

import schema
from fusion_bridge.adapters.db import make_engine
from schema.layout import FLAVOURS, FUSIONINVENTORY, GLPIINVENTORY

__all__ = ["FLAVOURS", "FUSIONINVENTORY", "GLPIINVENTORY", "init_flavoured_database"]


def init_flavoured_database(url: str, flavour: str, glpi: int | None = None) -> None:
    """Create the schema of ``flavour`` (GLPI ``glpi``: 10 by default for glpiinventory) in the
    empty database at ``url``."""
    engine = make_engine(url, flavour=flavour)
    try:
        schema.init_database(engine, flavour=flavour, glpi=glpi if flavour == GLPIINVENTORY else None)
    finally:
        engine.dispose()
