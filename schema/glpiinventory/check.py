"""What ``db check`` compares a GLPI 10/11 database's columns against (docs/glpi10-schema.md §2)."""

from __future__ import annotations

import functools

from schema.glpiinventory.tables import table_specs


@functools.cache
def expected_types(glpi: int) -> dict[str, dict[str, str]]:
    """The exact MySQL column types (``int(10) unsigned``...) by table and column, as installed."""
    return {name: {column.name: column.column_type for column in spec.columns}
            for name, spec in table_specs(glpi).items()}
