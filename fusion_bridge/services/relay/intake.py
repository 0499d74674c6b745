"""Accepting an INVENTORY for the relay, inside the transaction that records the agent's contact.

In relay mode the bridge does not import the computer: GLPI's own import does, with the
site's rules (services/relay/forwarder.py sends it there). The document is validated as for a
local import (size caps, hardened parse, DEVICEID: protocol.decode_request), stored as it came
— still compressed — and the agent is answered once the transaction has committed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import threading
import time
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

import protocol
import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.domain.text import fit_utf8mb3
from fusion_bridge.services import runs
from fusion_bridge.services.inventory.values import node, text
from fusion_bridge.services.relay.queue import Incoming, QueueFull, enqueue, queue, waiting_size
from fusion_bridge.services.relay.settings import Caps
from schema.constants import Method
from schema.layout import Layout

log = logging.getLogger("fusion_bridge.relay")

# What the relay reads of an INVENTORY's CONTENT, and only while the agent runs an ESX job (the
# host's identity): the decoder turns no section into data (SECTIONS_DECODED), the document is
# only validated; the rare ESX host inventory is read again for these (``host_subject``).
SECTIONS_DECODED = protocol.CONTENT_UNREAD
SECTIONS_READ = ("HARDWARE", "BIOS")
FULL_LOG_INTERVAL = 60.0
MAX_SUBJECT = 64

_runs, _jobs = schema.taskjobstates, schema.taskjobs
# In one round trip: the size of the agent's waiting document, and whether the agent runs an ESX
# job now (a run handed out and not over, as services/runs.py agent_runs_method). Built once.
_FIRST_LOOK = select(
    select(queue.c.size).where(queue.c.plugin_fusioninventory_agents_id == bindparam("agent_id"),
                               queue.c.subject == "").scalar_subquery(),
    select(_runs.c.id).join(_jobs, _jobs.c.id == _runs.c.plugin_fusioninventory_taskjobs_id).where(
        _runs.c.plugin_fusioninventory_agents_id == bindparam("agent_id"), _jobs.c.method == Method.ESX,
        _runs.c.state.in_(runs.HANDED_OUT),
    ).exists(),
)


@functools.lru_cache(maxsize=None)
def _touch_known(layout: Layout):
    # The contact of a known agent sending an INVENTORY, in one statement (MySQL): update the
    # first agent with that DEVICEID and hand back through LAST_INSERT_ID(expr) its id and
    # whether it runs an ESX job now (id * 2 + 1), as services/agent/agents.py's PROLOG touch.
    # Names as the engine's layout has them (docs/schema-layouts.md §1).
    agents = layout.table(schema.agents.name)
    states, jobs = layout.table(_runs.name), layout.table(_jobs.name)
    return sql_text(
        f"UPDATE {agents} SET useragent = :useragent, "
        "last_contact = IF(LAST_INSERT_ID(id * 2 + EXISTS("
        f"SELECT 1 FROM {states} r JOIN {jobs} j"
        f" ON j.id = r.{layout.column(_runs.name, 'plugin_fusioninventory_taskjobs_id')}"
        f" WHERE r.{layout.column(_runs.name, 'plugin_fusioninventory_agents_id')} = {agents}.id AND j.method = :esx"
        f" AND r.state IN ({', '.join(str(state) for state in runs.HANDED_OUT)}))) >= 0,"
        " :last_contact, :last_contact) "
        f"WHERE {layout.column(schema.agents.name, 'device_id')} = :device_id ORDER BY id LIMIT 1"
    )


class RelayIntake:
    """Stores INVENTORYs in the relay queue; one per process (the throttled log is per process)."""

    def __init__(self, caps: Caps, log_interval: float = FULL_LOG_INTERVAL,
                 limits: protocol.Limits = protocol.Limits()):
        self.caps = caps
        self._limits = limits
        self._log_interval = log_interval
        self._lock = threading.Lock()
        self._refused = 0
        self._last_log = float("-inf")

    def accept(self, conn: Connection, agent_id: int, inventory: protocol.Inventory, incoming: Incoming,
               now: datetime) -> bool:
        """Queue the document (True: it replaced the agent's waiting one); QueueFull when full."""
        subject = ""
        waiting, esx_running = conn.execute(_FIRST_LOOK, {"agent_id": agent_id}).one()
        if esx_running:
            # While the agent runs an ESX job it also sends the hosts' inventories under its
            # own DEVICEID: each host is a machine of its own, not a newer state of the agent's.
            subject = host_subject(self._host_sections(inventory))
            waiting = waiting_size(conn, agent_id, subject)
        try:
            return enqueue(conn, agent_id, inventory.device_id, subject, incoming, now, self.caps, waiting)
        except QueueFull as full:
            self._refusal(full.reason)
            raise

    def accept_known(self, autocommit_engine: Engine, inventory: protocol.Inventory, incoming: Incoming,
                     now: datetime) -> int | None:
        """MySQL: record the contact of a known agent and queue its document in one transaction of
        four round trips (the general path, ``contact_unit`` then ``accept``, takes six). The
        transaction is begun by hand on the autocommit engine, whose sessions run at READ
        COMMITTED already (no SET TRANSACTION). The agent's id, or None when the general path
        must take the document: an agent not known yet, or one running an ESX job (its hosts'
        inventories are queued by host). docs/relay-upstream.md §3."""
        with autocommit_engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")
            try:
                code = conn.execute(_touch_known(layout_of(conn)), {
                    "useragent": fit_utf8mb3(incoming.user_agent, 255), "last_contact": now, "esx": Method.ESX,
                    "device_id": fit_utf8mb3(inventory.device_id)}).lastrowid
                if not code or code & 1:
                    conn.exec_driver_sql("ROLLBACK")
                    return None
                agent_id = code >> 1
                enqueue(conn, agent_id, inventory.device_id, "", incoming, now, self.caps,
                        waiting_size(conn, agent_id, ""))
                conn.exec_driver_sql("COMMIT")
            except BaseException as error:
                with contextlib.suppress(DBAPIError):  # the error being raised says more
                    conn.exec_driver_sql("ROLLBACK")
                if isinstance(error, QueueFull):
                    self._refusal(error.reason)
                raise
        return agent_id

    def _host_sections(self, inventory: protocol.Inventory) -> dict:
        """HARDWARE and BIOS of an ESX host's inventory (decoded again: only these agents need them)."""
        if all(section in inventory.content for section in SECTIONS_READ):
            return inventory.content
        decoded = protocol.decode_request(inventory.xml, None, self._limits, SECTIONS_READ)
        return getattr(decoded.message, "content", {})

    def _refusal(self, reason: str) -> None:
        """Log a full queue once per interval, with how many documents were refused meanwhile."""
        with self._lock:
            self._refused += 1
            clock = time.monotonic()
            if clock - self._last_log < self._log_interval:
                return
            count, self._refused, self._last_log = self._refused, 0, clock
        log.warning("relay: %s; %d inventor%s answered 503 since the last report", reason, count,
                    "y" if count == 1 else "ies")


def host_subject(content: dict) -> str:
    """A short, stable name of the machine an inventory describes: UUID, else serial, else name."""
    hardware, bios = node(content, "HARDWARE"), node(content, "BIOS")
    for label, value in (("uuid", text(hardware, "UUID")), ("serial", text(bios, "SSN")),
                         ("name", text(hardware, "NAME"))):
        if value:
            subject = f"{label}:{value.lower() if label == 'uuid' else value}"
            if len(subject) > MAX_SUBJECT or not subject.isascii():
                subject = f"{label}#" + hashlib.sha1(value.encode("utf-8")).hexdigest()
            return subject
    return "unknown"
