"""GLPI 9.5 + FusionInventory 9.5+4.2 tables as SQLAlchemy Core metadata, and their setup.

``init_database(engine)`` prepares a database; ``check_database(engine)`` verifies one;
``detect_flavour(conn)`` tells which schema a database holds. GLPI 10/11 + glpiinventory tables
are in ``schema.glpiinventory``.
"""

from schema import constants
from schema.check import CheckReport, SchemaError, SeedCheck, TableCheck, check_database
from schema.detect import DetectedSchema, detect_flavour
from schema.install import SCHEMA_VERSION, InitReport, create_bridge_tables, init_database
from schema.seed import insert_missing_seed_rows, seed_rows
from schema.tables import *  # noqa: F401,F403 - the table objects
from schema.tables import __all__ as _table_names

__all__ = [
    *_table_names,
    "constants", "init_database", "InitReport", "check_database", "CheckReport", "TableCheck",
    "SeedCheck", "SchemaError", "seed_rows", "insert_missing_seed_rows", "SCHEMA_VERSION",
    "detect_flavour", "DetectedSchema", "create_bridge_tables",
]
