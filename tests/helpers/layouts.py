"""Test databases of either schema flavour (docs/schema-layouts.md §1).

A glpiinventory database is made, until the exact GLPI 10/11 DDL is in ``schema``, by compiling
``schema``'s tables under the glpiinventory layout — renamed tables and keys, the core
``glpi_agents`` and ``glpi_agenttypes`` of ``schema.layout`` instead of the plugin's agents — plus
the install rows. Close enough for the services' statements; ``db init --schema glpiinventory``
is the faithful one.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.engine import Engine

import schema
from fusion_bridge.adapters.db import make_engine
from schema.layout import FLAVOURS, FUSIONINVENTORY, GLPIINVENTORY, core_metadata, glpi_agenttypes

__all__ = ["FLAVOURS", "FUSIONINVENTORY", "GLPIINVENTORY", "init_flavoured_database"]


def init_flavoured_database(url: str, flavour: str) -> None:
    """Create the schema of ``flavour`` in the (empty) database at ``url``."""
    engine = make_engine(url, flavour=flavour)
    try:
        if flavour == FUSIONINVENTORY:
            schema.init_database(engine)
        else:
            _init_glpiinventory(engine)
    finally:
        engine.dispose()


def _init_glpiinventory(engine: Engine) -> None:
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=[table for table in schema.metadata.sorted_tables
                                                 if table is not schema.agents])
        core_metadata.create_all(conn)
        conn.execute(insert(glpi_agenttypes).values(id=1, name="Core"))
        schema.insert_missing_seed_rows(conn)
        conn.execute(insert(schema.bridge_meta), [{"name": "standalone", "value": "1"},
                                                  {"name": "schema_version", "value": schema.SCHEMA_VERSION}])
