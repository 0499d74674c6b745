"""GLPI 9.5 + FusionInventory 9.5+4.2 tables as SQLAlchemy Core metadata."""

from schema import constants
from schema.tables import *  # noqa: F401,F403 - the table objects
from schema.tables import __all__ as _table_names

__all__ = [*_table_names, "constants"]
