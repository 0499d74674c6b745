"""The plugin's switches the agent path needs: agent modules and config values, and on GLPI 10/11
the core inventory settings (``glpi_configs`` context ``inventory``: whether inventory is
enabled, its frequency, GLPI 11's agent authentication; docs/glpi10-protocol.md §8).

GLPI's UI changes them rarely and every PROLOG needs them, so each worker keeps a copy for
``ttl`` seconds instead of querying them on every request.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.adapters.secret_codec import codec_of
from fusion_bridge.domain.glpi_agent_auth import NO_AUTHENTICATION, AgentAuthSettings, agent_auth_settings
from schema.constants import Module

DEFAULT_PROLOG_FREQ = "24"


@dataclass(frozen=True)
class ModuleSwitch:
    is_active: bool
    exceptions: frozenset[int]

    def allows(self, agent_id: int) -> bool:
        # Active: everyone but the exceptions. Inactive: only the exceptions.
        return (agent_id in self.exceptions) != self.is_active


@dataclass(frozen=True)
class PluginSettings:
    config: Mapping[str, str]
    modules: Mapping[str, ModuleSwitch]
    # GLPI 10/11's glpi_configs rows of context 'inventory' (empty on GLPI 9.5).
    core_inventory: Mapping[str, str] = field(default_factory=dict)
    # GLPI 11's agent authentication, its password decrypted (none on GLPI 9.5 and 10).
    agent_auth: AgentAuthSettings = NO_AUTHENTICATION

    @property
    def inventory_enabled(self) -> bool:
        """GLPI 10/11's switch of every agent endpoint (``enabled_inventory``); a database without
        the row (GLPI 9.5) is enabled."""
        value = self.core_inventory.get(ENABLED_INVENTORY)
        return value is None or value.strip() == "1"

    def agent_can_do(self, module: str, agent_id: int) -> bool:
        # Module names compare case-insensitively, as GLPI's collation does.
        switch = self.modules.get(module.lower())
        return switch is not None and switch.allows(agent_id)

    @property
    def prolog_freq(self) -> str:
        """Hours until the agent's next contact: the plugin's ``inventory_frequence`` (9.5), else
        GLPI 10/11's ``inventory_frequency`` (PROLOG_FREQ and CONTACT ``expiration``)."""
        value = (self.config.get("inventory_frequence") or self.core_inventory.get(INVENTORY_FREQUENCY)
                 or "").strip()
        try:
            return value if float(value) > 0 else DEFAULT_PROLOG_FREQ
        except ValueError:
            return DEFAULT_PROLOG_FREQ


ENABLED_INVENTORY = "enabled_inventory"
INVENTORY_FREQUENCY = "inventory_frequency"
_CORE_INVENTORY = text("SELECT name, value FROM glpi_configs WHERE context = 'inventory'")


def load_settings(engine: Engine) -> PluginSettings:
    with engine.connect() as conn:
        config = {row.type: row.value for row in conn.execute(select(schema.configs.c.type, schema.configs.c.value))}
        modules = module_switches(conn)
        core: dict[str, str] = {}
        auth = NO_AUTHENTICATION
        if layout_of(conn).renames:  # GLPI 10/11
            core = {row.name: row.value for row in conn.execute(_CORE_INVENTORY)}
            auth = agent_auth_settings(core, codec_of(conn).reveal)
        conn.rollback()
    return PluginSettings(config, modules, core, auth)


# glpiinventory dropped Wake-on-LAN and its switch row; the bridge still serves it, to every agent
# unless a row says otherwise (docs/schema-layouts.md §7).
_GLPIINVENTORY_DEFAULTS = {Module.WAKEONLAN.lower(): ModuleSwitch(True, frozenset())}


def module_switches(conn: Connection) -> dict[str, ModuleSwitch]:
    """The agentmodules switches by lower-case module name (GLPI's collation compares names
    case-insensitively)."""
    modules = schema.agentmodules
    switches = {
        (row.modulename or "").lower(): ModuleSwitch(bool(row.is_active), parse_exceptions(row.exceptions))
        for row in conn.execute(select(modules.c.modulename, modules.c.is_active, modules.c.exceptions))
    }
    if layout_of(conn).renames:
        switches = {**_GLPIINVENTORY_DEFAULTS, **switches}
    return switches


def parse_exceptions(raw: str | None) -> frozenset[int]:
    """Agent ids from GLPI's exportArrayToDB: a JSON list or object of (string) ids."""
    if not raw:
        return frozenset()
    try:
        value = json.loads(raw)
    except ValueError:
        return frozenset()
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    ids = set()
    for item in items:
        try:
            ids.add(int(item))
        except (TypeError, ValueError):
            continue
    return frozenset(ids)


class SettingsCache:
    def __init__(self, engine: Engine, ttl: float, clock: Callable[[], float] = time.monotonic):
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._value: PluginSettings | None = None
        self._expires = 0.0

    def get(self) -> PluginSettings:
        now = self._clock()
        value = self._value
        if value is not None and now < self._expires:
            return value
        with self._lock:
            if self._value is None or self._clock() >= self._expires:
                self._value = load_settings(self._engine)
                self._expires = self._clock() + self._ttl
            return self._value
