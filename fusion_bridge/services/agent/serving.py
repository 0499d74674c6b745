"""Which server the bridge stands in for: FusionInventory for GLPI 9.5, or GLPI 10/11 with
glpiinventory — decided once per process from the database (docs/glpi10-protocol.md §8).

``ServingProfile`` says what follows from the schema flavour and GLPI major for the agents: the
PROLOG reply's form, whether a PROLOG creates an unknown agent, where CONTACT writes, whether
GLPI's ``enabled_inventory`` switch and GLPI 11's agent authentication apply. ``LazyServing``
finds it at the first request that needs it (after the engine's first connection, which
installs the layout: docs/schema-layouts.md §1), so a worker starts while the database is down.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Table
from sqlalchemy.engine import Engine

import protocol
from fusion_bridge.adapters.db_layout import layout_of
from schema.detect import FUSIONINVENTORY, GLPIINVENTORY, detect_flavour

# A glpiinventory database whose GLPI version nothing tells is served as GLPI 10 (no agent
# authentication on the REST tasks).
DEFAULT_GLPI = 10


@dataclass(frozen=True)
class ServingProfile:
    flavour: str
    glpi: int  # 9 (9.5), 10 or 11
    glpi_version: str | None = None  # GLPI's own version string ("10.0.19") where GLPI wrote it

    @property
    def announced_version(self) -> str:
        """The GLPI version a CONTACT reply gives for GLPI's own tasks (``inventory``)."""
        return self.glpi_version or f"{self.glpi}.0"

    @property
    def glpiinventory(self) -> bool:
        return self.flavour == GLPIINVENTORY

    @property
    def reply_style(self) -> protocol.ReplyStyle:
        """The PROLOG reply as GLPI 10 writes it on glpiinventory (docs/glpi10-protocol.md §3)."""
        return protocol.ReplyStyle.GLPI10 if self.glpiinventory else protocol.ReplyStyle.FUSIONINVENTORY

    @property
    def prolog_creates_agents(self) -> bool:
        """GLPI 10/11 create an agent at CONTACT or inventory, never at PROLOG (docs/glpi10-protocol.md §5.2);
        FusionInventory 9.5 creates it at its first PROLOG."""
        return not self.glpiinventory

    @property
    def inventory_switch(self) -> bool:
        """Whether GLPI's ``enabled_inventory`` = 0 closes the agent endpoints (GLPI 10/11)."""
        return self.glpiinventory

    @property
    def rest_tasks_switched(self) -> bool:
        """Whether ``b/deploy``, ``b/collect``, ``b/esx`` follow ``enabled_inventory`` and the
        agent authentication (glpiinventory 1.6 on GLPI 11; 1.5 on GLPI 10 checks neither)."""
        return self.glpiinventory and self.glpi >= 11

    @property
    def agent_authentication(self) -> bool:
        """Whether GLPI 11's agent authentication settings apply (docs/glpi-secrets.md §5)."""
        return self.glpiinventory and self.glpi >= 11

    def agents_table(self) -> Table | None:
        """GLPI 10/11's core ``glpi_agents`` as installed (GLPI's column names), where CONTACT
        writes; None on 9.5, which keeps no per-agent module flags."""
        if not self.glpiinventory:
            return None
        from schema.glpiinventory.tables import tables  # built on first use only

        return tables(self.glpi)["glpi_agents"]


FUSIONINVENTORY_9_5 = ServingProfile(FUSIONINVENTORY, 9)


def serving_profile(engine: Engine) -> ServingProfile:
    """The profile of ``engine``'s database (connects once)."""
    with engine.connect() as conn:
        if not layout_of(conn).renames:
            return FUSIONINVENTORY_9_5
        detected = detect_flavour(conn)
        conn.rollback()
    glpi = detected.glpi if detected.glpi in (10, 11) else DEFAULT_GLPI
    return ServingProfile(GLPIINVENTORY, glpi, detected.glpi_version)


class LazyServing:
    """``serving_profile(engine)``, found at the first ``get`` and kept."""

    def __init__(self, engine: Engine, profile: ServingProfile | None = None):
        self._engine = engine
        self._profile = profile
        self._lock = threading.Lock()

    def known(self) -> ServingProfile | None:
        """The profile if it was found already, else None (never connects)."""
        return self._profile

    def get(self) -> ServingProfile:
        profile = self._profile
        if profile is None:
            with self._lock:
                if self._profile is None:
                    self._profile = serving_profile(self._engine)
                profile = self._profile
        return profile
