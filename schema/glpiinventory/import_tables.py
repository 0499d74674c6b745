"""GLPI core tables the bridge's local imports write that the GLPI 10/11 facts files do not list
(docs/glpi10-schema.md §7): history, rules, the port type tables other than ethernet and
aggregate, port VLANs. A real GLPI 10/11 has them all; a database the bridge creates gets them
from the bridge's GLPI 9.5 definitions converted to GLPI 10's conventions (utf8mb4, unsigned ids),
so that the imports run on it. They are never created in a real GLPI's database.
"""

from __future__ import annotations

import functools

from sqlalchemy import MetaData, Table

from schema.base import SQLITE_PREFIXED_INDEXES
from schema.bridge import copy_for_glpi10
from schema.glpiinventory.tables import GLPI_MAJORS, table_specs
from schema.tables import CORE_TABLES


@functools.cache
def import_tables(glpi: int) -> tuple[Table, ...]:
    """The core tables of the 9.5 definitions that GLPI ``glpi``'s facts lack, as GLPI 10 creates them."""
    if glpi not in GLPI_MAJORS:
        raise ValueError(f"GLPI {glpi!r} is not described; one of {', '.join(map(str, GLPI_MAJORS))}")
    metadata = MetaData()
    SQLITE_PREFIXED_INDEXES.append(metadata)
    described = table_specs(glpi)
    return tuple(copy_for_glpi10(table, metadata) for table in CORE_TABLES if table.name not in described)
