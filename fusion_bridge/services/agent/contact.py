"""GLPI Agent's CONTACT: which of the agent's enabled tasks this server runs, and the agent's
module flags (docs/glpi10-protocol.md §5).

Two parts, kept apart on purpose:

* ``decide`` — pure: the ``protocol.ContactReply`` for a ``protocol.ContactRequest`` under a
  ``ContactPolicy`` (what the bridge serves), and the ``use_module_*`` flags the request sets.
* ``record_contact`` — the one database write: the agent's row in GLPI 10/11's ``glpi_agents``
  (created as GLPI's core creates it, flags from ``enabled-tasks``). It is written against the
  table passed in, by GLPI 10's column names, so the schema-layout work can hand it its
  ``Table`` (``ContactCalls(agents_table=...)``); with no table (the FusionInventory 9.5
  schema, which keeps no per-agent flags) nothing is written and the agent's next PROLOG
  records it as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

import fusion_bridge
import protocol
from protocol.glpi_agent import DEFAULT_EXPIRATION
from fusion_bridge.domain.text import fit_utf8mb3, local_now
from fusion_bridge.services.agent.addresses import normalise

# The plugin's tasks (docs/glpi10-protocol.md §5.1): announced with server "glpiinventory".
PLUGIN_TASKS = ("netdiscovery", "netinventory", "esx", "collect", "deploy")
WAKEONLAN = "wakeonlan"
INVENTORY = "inventory"
# Network results are imported through GLPI's inventory: announcing a network task announces
# inventory with it, as GLPI 10 does (docs/glpi10-protocol.md §5.1).
TASKS_WITH_INVENTORY = ("netdiscovery", "netinventory")

# enabled-tasks name -> glpi_agents column (docs/glpi10-protocol.md §5.3). Every known name
# sets its flag, whether the server runs the task or not, as GLPI does.
MODULE_FLAGS = {
    "wakeonlan": "use_module_wake_on_lan",
    "inventory": "use_module_computer_inventory",
    "esx": "use_module_esx_remote_inventory",
    "remoteinventory": "use_module_remote_inventory",
    "netinventory": "use_module_network_inventory",
    "netdiscovery": "use_module_network_discovery",
    "deploy": "use_module_package_deployment",
    "collect": "use_module_collect_data",
}
CORE_AGENT_TYPE = "Core"


@dataclass(frozen=True, slots=True)
class ContactPolicy:
    """What this server announces.

    ``plugin_version``: the version given for the plugin's tasks (the bridge's own);
    ``inventory_version``: the GLPI version given for ``inventory`` when the bridge takes JSON
    inventories (relays them to GLPI 10/11) — None: ``inventory`` is not run here and goes to
    ``disabled``; ``wakeonlan``: whether Wake-on-LAN is announced (the bridge serves it, GLPI 10
    does not); ``expiration``: hours until the agent's next contact, as text.
    """

    plugin_version: str = fusion_bridge.__version__
    inventory_version: str | None = None
    wakeonlan: bool = True
    expiration: str = DEFAULT_EXPIRATION

    @property
    def answers_json_prolog(self) -> bool:
        """A PROLOG sent with ``GLPI-Agent-ID`` is answered in JSON only if inventories in JSON
        are taken: that answer makes GLPI Agent send its next inventory as JSON (docs/glpi10-protocol.md §4.4)."""
        return self.inventory_version is not None


@dataclass(frozen=True, slots=True)
class ContactDecision:
    reply: protocol.ContactReply
    module_flags: dict[str, int]  # glpi_agents column -> 0/1


def decide(request: protocol.ContactRequest, policy: ContactPolicy) -> ContactDecision:
    """The reply to ``request`` and the flags it sets (pure). Entries are in the agent's
    order of ``enabled-tasks``; inventory comes right after the first network task that
    brings it, unless the agent listed it before (docs/glpi10-protocol.md §5.1)."""
    served = set(PLUGIN_TASKS) | ({WAKEONLAN} if policy.wakeonlan else set())
    tasks: dict[str, protocol.AnnouncedTask] = {}
    disabled: list[str] = []
    for name in request.enabled_tasks:
        if name in served:
            tasks[name] = protocol.AnnouncedTask(name, "glpiinventory", policy.plugin_version)
            if name in TASKS_WITH_INVENTORY and policy.inventory_version is not None:
                tasks.setdefault(INVENTORY, _core_inventory(policy.inventory_version))
        elif name == INVENTORY and policy.inventory_version is not None:
            tasks.setdefault(INVENTORY, _core_inventory(policy.inventory_version))
        elif name not in disabled:
            disabled.append(name)
    reply = protocol.ContactReply(
        tasks=tuple(tasks.values()),
        disabled=tuple(disabled),
        messages=tuple(f"{name} task not supported" for name in disabled),
        expiration=policy.expiration,
    )
    enabled = set(request.enabled_tasks)
    return ContactDecision(reply, {column: int(name in enabled) for name, column in MODULE_FLAGS.items()})


def _core_inventory(version: str) -> protocol.AnnouncedTask:
    return protocol.AnnouncedTask(INVENTORY, "glpi", version)


class ContactCalls:
    """The CONTACT handler the HTTP edge calls (``handle_contact``)."""

    def __init__(self, engine: Engine | None, policy: ContactPolicy, agents_table: Table | None = None,
                 agent_type_id: Callable[[Connection], int] | None = None,
                 clock: Callable[[], datetime] = local_now, expiration: Callable[[], str] | None = None):
        """``agents_table``: GLPI 10/11's ``glpi_agents`` (None: the 9.5 schema, nothing written);
        ``agent_type_id``: the id of ``glpi_agenttypes`` 'Core' (default: looked up by name);
        ``expiration``: the hours to answer, read when answering (GLPI's inventory frequency
        through the settings cache) instead of ``policy.expiration``."""
        self._engine = engine
        self._policy = policy
        self._agents = agents_table
        self._agent_type_id = agent_type_id or core_agent_type_id
        self._clock = clock
        self._expiration = expiration

    @property
    def policy(self) -> ContactPolicy:
        if self._expiration is None:
            return self._policy
        return replace(self._policy, expiration=self._expiration())

    def handle_contact(self, request: protocol.ContactRequest, remote_addr: str | None,
                       user_agent: str | None) -> protocol.ContactReply:
        decision = decide(request, self.policy)
        if self._agents is not None and self._engine is not None:
            with self._engine.begin() as conn:
                record_contact(conn, self._agents, request, decision.module_flags, self._clock(),
                               normalise(remote_addr), user_agent, self._agent_type_id)
        return decision.reply


# --- the database part (schema layout: glpi_agents, docs/glpi10-protocol.md §5.3) --------------


def core_agent_type_id(conn: Connection) -> int:
    """``glpi_agenttypes`` 'Core' (id 1 on every install seen)."""
    found = conn.execute(text("SELECT id FROM glpi_agenttypes WHERE name = :name"),
                         {"name": CORE_AGENT_TYPE}).scalar()
    return int(found) if found is not None else 1


def record_contact(conn: Connection, agents: Table, request: protocol.ContactRequest, flags: dict[str, int],
                   now: datetime, remote_addr: str | None, user_agent: str | None,
                   agent_type_id: Callable[[Connection], int] = core_agent_type_id) -> int:
    """Create or update the agent of ``request`` in ``agents`` (GLPI 10's ``glpi_agents``) as
    GLPI's core does at CONTACT; return its id. ``version`` is not written (GLPI takes it from
    inventories only); the tag and the agent's HTTP port are."""
    device_id = fit_utf8mb3(request.device_id)
    values = {
        "last_contact": now,
        "useragent": fit_utf8mb3(user_agent, 255),
        "remote_addr": remote_addr,
        **flags,
    }
    if request.tag is not None:
        values["tag"] = fit_utf8mb3(request.tag, 255)
    if request.httpd_port is not None:
        values["port"] = str(request.httpd_port)
    found = _agent_id(conn, agents, device_id)
    if found is None:
        try:
            with conn.begin_nested():  # deviceid is unique: a concurrent first CONTACT may win
                result = conn.execute(insert(agents).values(
                    deviceid=device_id, name=device_id, entities_id=0, is_recursive=0,
                    agenttypes_id=agent_type_id(conn), locked=0, itemtype="Computer", items_id=0,
                    threads_networkdiscovery=0, threads_networkinventory=0, timeout_networkdiscovery=0,
                    timeout_networkinventory=0, **values))
            return int(result.inserted_primary_key[0])
        except IntegrityError:
            found = _agent_id(conn, agents, device_id)
            if found is None:
                raise
    conn.execute(update(agents).where(agents.c.id == found).values(values))
    return found


def _agent_id(conn: Connection, agents: Table, device_id: str) -> int | None:
    found = conn.execute(select(agents.c.id).where(agents.c.deviceid == device_id)).scalar()
    return None if found is None else int(found)
