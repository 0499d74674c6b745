"""GLPI 10 + glpiinventory 1.5.x and GLPI 11 + glpiinventory 1.6.x: the core and plugin tables the
bridge needs, exactly as installed (docs/glpi10-schema.md), and their install rows.

``tables(glpi)`` gives the SQLAlchemy tables of GLPI major ``glpi`` (10 or 11) by name,
``metadata_for(glpi)`` their MetaData, ``table_specs(glpi)`` the descriptions they are built
from, ``seed_rows(glpi)`` the install rows. ``schema.init_database(engine, "glpiinventory", glpi)``
creates or joins such a database.
"""

from schema.glpiinventory.seed import insert_missing_seed_rows, seed_rows
from schema.glpiinventory.tables import GLPI_MAJORS, metadata_for, table_specs, tables

__all__ = ["GLPI_MAJORS", "tables", "metadata_for", "table_specs", "seed_rows", "insert_missing_seed_rows"]
