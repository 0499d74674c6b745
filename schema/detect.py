"""Which schema a database holds: GLPI 9.5 + FusionInventory, GLPI 10/11 + glpiinventory, or none.

The markers (docs/glpi10-schema.md §3): the plugin's task runs table tells the flavour; GLPI's own
``glpi_configs`` row (context ``core``, name ``version``) tells the GLPI version where GLPI wrote
it; otherwise the structure does: ``glpi_groups_items`` is new in GLPI 11, ``glpi_agents`` in
GLPI 10. A database the bridge created itself has no core version row but records what it
created in its meta table, which comes after GLPI's own word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

FUSIONINVENTORY = "fusioninventory"
GLPIINVENTORY = "glpiinventory"
FLAVOURS = (FUSIONINVENTORY, GLPIINVENTORY)

# Tables whose presence tells the plugin: its task runs, which every install has.
FLAVOUR_MARKERS = {
    GLPIINVENTORY: "glpi_plugin_glpiinventory_taskjobstates",
    FUSIONINVENTORY: "glpi_plugin_fusioninventory_taskjobstates",
}
GLPI11_MARKER = "glpi_groups_items"
GLPI10_MARKER = "glpi_agents"
GLPI9_MARKERS = ("glpi_computers", "glpi_configs", "glpi_entities")
BRIDGE_META = "glpi_plugin_fusionbridge_meta"


@dataclass(frozen=True)
class DetectedSchema:
    """``flavour``: "fusioninventory", "glpiinventory" or None (no plugin tables: an empty
    database, or a GLPI without the plugin); ``glpi``: the GLPI major (9, 10, 11) or None when
    nothing tells it; ``glpi_version``: GLPI's own version string when it wrote one;
    ``evidence``: what the answer rests on, in words."""

    flavour: str | None
    glpi: int | None
    glpi_version: str | None = None
    evidence: str = ""

    @property
    def empty(self) -> bool:
        return self.flavour is None and self.glpi is None

    def describe(self) -> str:
        if self.empty:
            return "an empty database (no GLPI table)"
        major = "9.5" if self.glpi == 9 else self.glpi
        glpi = f"GLPI {self.glpi_version or major or '(version unknown)'}"
        plugin = {FUSIONINVENTORY: "the FusionInventory plugin", GLPIINVENTORY: "the glpiinventory plugin",
                  None: "no inventory plugin"}[self.flavour]
        return f"{glpi} with {plugin}"


def detect_flavour(conn: Connection) -> DetectedSchema:
    """What ``conn``'s database holds; reads only (docs/glpi10-schema.md §3)."""
    existing = set(inspect(conn).get_table_names())
    flavour = next((name for name, marker in FLAVOUR_MARKERS.items() if marker in existing), None)
    evidence = [f"table {FLAVOUR_MARKERS[flavour]}"] if flavour else []
    version = _core_version(conn) if "glpi_configs" in existing else None
    glpi = _major(version)
    if glpi is not None:
        evidence.append(f"glpi_configs core version {version}")
    else:
        glpi, why = _recorded_major(conn, existing)
        if glpi is None:
            glpi, why = _structural_major(existing, flavour)
        if why:
            evidence.append(why)
    return DetectedSchema(flavour, glpi, version, "; ".join(evidence))


def _core_version(conn: Connection) -> str | None:
    columns = {column["name"] for column in inspect(conn).get_columns("glpi_configs")}
    if not {"context", "name", "value"} <= columns:  # another shape: the structure tells instead
        return None
    return conn.execute(text("SELECT value FROM glpi_configs WHERE context = 'core' AND name = 'version'")
                        ).scalar()


def _major(version: str | None) -> int | None:
    match = re.match(r"\s*(\d+)\.", version or "")
    return int(match.group(1)) if match else None


def _recorded_major(conn: Connection, existing: set[str]) -> tuple[int | None, str]:
    if BRIDGE_META not in existing:
        return None, ""
    value = conn.execute(text(f"SELECT value FROM {BRIDGE_META} WHERE name = 'glpi_major'")).scalar()
    return (int(value), f"{BRIDGE_META} glpi_major {value}") if value and value.isdigit() else (None, "")


def _structural_major(existing: set[str], flavour: str | None) -> tuple[int | None, str]:
    if GLPI11_MARKER in existing:
        return 11, f"table {GLPI11_MARKER} (GLPI 11)"
    if GLPI10_MARKER in existing:
        return 10, f"table {GLPI10_MARKER} without {GLPI11_MARKER} (GLPI 10)"
    if flavour == FUSIONINVENTORY or any(name in existing for name in GLPI9_MARKERS):
        return 9, f"no {GLPI10_MARKER} table (GLPI 9.5)"
    return None, ""
