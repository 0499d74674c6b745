"""What the server does with each OCS/XML message, and the reply (a ``protocol`` value) it answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy.engine import Engine

import protocol
from fusion_bridge.services import runs
from fusion_bridge.services.agent import agents
from fusion_bridge.services.agent import dispatch
from fusion_bridge.services.agent import progress
from fusion_bridge.services.agent.addresses import AddressBook, normalise
from fusion_bridge.adapters.db import is_mysql
from fusion_bridge.services.inventory import MatchLockNeeded, computer_match_locks, import_computer_inventory
from fusion_bridge.services.inventory.stored import store_last_inventory
from fusion_bridge.services.agent.serving import FUSIONINVENTORY_9_5, ServingProfile
from fusion_bridge.services.agent.settings import SettingsCache
from fusion_bridge.services.relay.intake import RelayIntake
from fusion_bridge.services.relay.queue import Incoming
from fusion_bridge.domain.text import local_now
from fusion_bridge.errors import InvalidRequest
from schema.constants import Method

__all__ = ["AgentExchange", "Received"]

GLPI_AGENT_PREFIX = "GLPI-Agent_v"
JSON_INVENTORY_NOT_TAKEN = ("inventories in JSON are taken only when an inventory upstream (GLPI 10/11) is set; "
                            "send this server XML inventories")


@dataclass(frozen=True)
class Received:
    """The request body as the agent sent it (still compressed), to store without re-encoding."""

    body: bytes
    content_type: str | None
    encoding: str


class AgentExchange:
    def __init__(self, engine: Engine, autocommit_engine: Engine, settings: SettingsCache,
                 clock: Callable[[], datetime] = local_now, relay: RelayIntake | None = None,
                 serving: Callable[[], ServingProfile] = lambda: FUSIONINVENTORY_9_5):
        """``serving``: which server is stood in for (``services.agent.serving``): on GLPI 10/11 a
        PROLOG does not create an unknown agent."""
        self._engine = engine
        self._serving = serving
        self._autocommit_engine = autocommit_engine
        self._settings = settings
        self._clock = clock
        self.addresses = AddressBook(engine, autocommit_engine)
        # Relay mode (an inventory upstream is set): INVENTORYs are queued for GLPI's import.
        self.relay = relay

    def handle(self, message: protocol.Message, user_agent: str | None,
               remote_addr: str | None = None, received: Received | None = None) -> protocol.Reply:
        """Apply ``message`` and return the reply to write; raise a DomainError
        (``fusion_bridge.errors``) if it cannot be.

        ``remote_addr`` (the caller's address) is remembered for waking the agent up;
        ``received``: the body as sent, stored as it is where possible."""
        if isinstance(message, protocol.Prolog):
            return self.prolog(message, user_agent, remote_addr)
        return self.task_message(message, user_agent, remote_addr, received)

    def prolog(self, message: protocol.Prolog, user_agent: str | None,
               remote_addr: str | None = None) -> protocol.PrologReply:
        now = self._clock()
        contact = agents.Contact(now, user_agent, message.token)
        address = normalise(remote_addr)
        touched = agents.touch(self._engine, self._autocommit_engine, message.device_id, contact, address,
                               create=self._serving().prolog_creates_agents)
        settings = self._settings.get()
        if touched is None:
            # GLPI 10/11: an agent GLPI does not know yet gets no work; its CONTACT or its first
            # inventory creates it (docs/glpi10-protocol.md §5.2).
            return protocol.PrologReply(options=(), send_inventory=settings.agent_can_do("INVENTORY", 0),
                                        prolog_freq=settings.prolog_freq)
        agent_id = touched.agent_id
        self.addresses.record(agent_id, address, now, touched.address_known)
        pending = touched.has_runs
        if pending is None:
            with self._autocommit_engine.connect() as conn:
                pending = dispatch.has_pending_runs(conn, agent_id)
        options = dispatch.hand_out(self._engine, agent_id, settings, now) if pending else ()
        return protocol.PrologReply(
            options=options,
            send_inventory=settings.agent_can_do("INVENTORY", agent_id),
            prolog_freq=settings.prolog_freq,
        )

    def task_message(self, message: protocol.Message, user_agent: str | None,
                     remote_addr: str | None = None, received: Received | None = None) -> protocol.EmptyReply:
        now = self._clock()
        if self.relay is not None and isinstance(message, protocol.Inventory) and is_mysql(self._autocommit_engine):
            agent_id = self.relay.accept_known(self._autocommit_engine, message,
                                               _incoming(message, received, user_agent, remote_addr), now)
            if agent_id is not None:
                self.addresses.record(agent_id, normalise(remote_addr), now)
                return protocol.EmptyReply()
        try:
            # Without match locks first: most inventories update the agent's own computer.
            agent_id = self._apply(message, user_agent, remote_addr, received, now, match_locks=None)
        except MatchLockNeeded:
            agent_id = self._apply(message, user_agent, remote_addr, received, now,
                                   match_locks=computer_match_locks(message))
        self.addresses.record(agent_id, normalise(remote_addr), now)
        return protocol.EmptyReply()

    def json_inventory(self, message: protocol.JsonInventory, user_agent: str | None, remote_addr: str | None,
                       received: Received) -> None:
        """A GLPI Agent's JSON inventory, queued for GLPI's import (relay mode only: the bridge's
        own import reads XML), in the transaction that records the agent's contact
        (docs/glpi10-protocol.md §4.6). QueueFull when the queue is full."""
        if self.relay is None or not self._serving().glpiinventory:
            # Imported here (XML only), or relayed to GLPI 9.5's plugin, which takes XML only.
            raise InvalidRequest(JSON_INVENTORY_NOT_TAKEN)
        now = self._clock()
        incoming = Incoming(received.body, received.content_type or protocol.CONTENT_TYPES[received.encoding],
                            user_agent, remote_addr)
        agent_id = None
        if is_mysql(self._autocommit_engine):
            agent_id = self.relay.accept_known(self._autocommit_engine, message, incoming, now)
        if agent_id is None:
            with agents.contact_unit(self._engine, message.device_id, agents.Contact(now, user_agent),
                                     lock_row=True) as (conn, agent):
                agents.record_version(conn, agent, agents.VERSION_KEYS["INVENTORY"],
                                      _glpi_agent_version(message.version_client))
                self.relay.accept(conn, agent.id, message, incoming, now)
                agent_id = agent.id
        self.addresses.record(agent_id, normalise(remote_addr), now)

    def _apply(self, message: protocol.Message, user_agent: str | None, remote_addr: str | None,
               received: Received | None, now: datetime, match_locks: list[str] | None) -> int:
        """One transaction applying ``message``; ``match_locks``: the named locks held around it
        (None: none, and MatchLockNeeded if a computer has to be matched)."""
        contact = agents.Contact(now, user_agent)
        module = agents.VERSION_KEYS[message.query]
        with agents.contact_unit(self._engine, message.device_id, contact, lock_row=True,
                                 locks=match_locks or ()) as (conn, agent):
            agents.record_version(conn, agent, module, _module_version(message))
            if isinstance(message, protocol.Inventory):
                self._inventory(conn, agent.id, message, user_agent, remote_addr, received, now,
                                match_locked=match_locks is not None or not is_mysql(conn))
            elif message.query == "NETDISCOVERY":
                progress.netdiscovery(conn, agent.id, message, now)
            else:
                progress.snmpquery(conn, agent.id, message, now)
        return agent.id

    def _inventory(self, conn, agent_id: int, message: protocol.Inventory, user_agent: str | None,
                   remote_addr: str | None, received: Received | None, now: datetime, *,
                   match_locked: bool) -> None:
        if self.relay is not None:
            self.relay.accept(conn, agent_id, message, _incoming(message, received, user_agent, remote_addr), now)
            return
        # The agent's zlib body is stored as it came: recompressing 240 KB costs ~2 ms.
        as_sent = received.body if received is not None and received.encoding == protocol.ZLIB else None
        store_last_inventory(conn, agent_id, message.device_id, message.xml, now, compressed=as_sent)
        import_computer_inventory(conn, agent_id, message, now,
                                  esx_hosts_expected=runs.agent_runs_method(conn, agent_id, Method.ESX),
                                  match_locked=match_locked)


def _incoming(message: protocol.Inventory, received: Received | None, user_agent: str | None,
              remote_addr: str | None) -> Incoming:
    """The document to queue for GLPI: as the agent sent it."""
    if received is None:
        return Incoming(message.xml, protocol.CONTENT_TYPES[protocol.PLAIN], user_agent, remote_addr)
    # GLPI 10 decompresses by the Content-Type: name the encoding when the agent did not.
    return Incoming(received.body, received.content_type or protocol.CONTENT_TYPES[received.encoding], user_agent,
                    remote_addr)


def _glpi_agent_version(version_client: str | None) -> str | None:
    """``GLPI-Agent_v1.11`` -> ``1.11``; another text as it is."""
    if version_client and version_client.startswith(GLPI_AGENT_PREFIX):
        return version_client[len(GLPI_AGENT_PREFIX):]
    return version_client


def _module_version(message: protocol.Message) -> str | None:
    """MODULEVERSION of network task messages, else the agent version of VERSIONCLIENT."""
    version = getattr(message, "module_version", None)
    if version:
        return version
    client = getattr(message, "version_client", None)
    if client:
        return client[len(agents.AGENT_PREFIX):] if client.startswith(agents.AGENT_PREFIX) else client
    return None
