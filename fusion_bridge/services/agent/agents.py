"""Agents as the plugin records them: found by DEVICEID, created on first contact."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Sequence

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db import is_mysql, named_lock, named_locks, read_committed
from fusion_bridge.domain.text import fit_utf8mb3, php_json

agents = schema.agents

# Module names the plugin stores in the agent's ``version`` JSON, by QUERY.
VERSION_KEYS = {"INVENTORY": "INVENTORY", "NETDISCOVERY": "NETWORKDISCOVERY", "SNMPQUERY": "NETWORKINVENTORY"}
AGENT_PREFIX = "FusionInventory-Agent_"


@dataclass(frozen=True)
class AgentRow:
    id: int
    version: str | None
    created: bool = False


@dataclass(frozen=True)
class Contact:
    """What every XML request updates on the agent row."""

    last_contact: datetime
    user_agent: str | None
    token: str | None = None

    def values(self) -> dict:
        values = {"last_contact": self.last_contact, "useragent": fit_utf8mb3(self.user_agent, 255)}
        if self.token is not None:
            values["token"] = fit_utf8mb3(self.token, 255)
        return values


def _select_agent(for_update: bool):
    statement = (
        select(agents.c.id, agents.c.version)
        .where(agents.c.device_id == bindparam("device_id"))
        .order_by(agents.c.id)
        .limit(1)
    )
    return statement.with_for_update() if for_update else statement


_SELECT = _select_agent(False)
_SELECT_FOR_UPDATE = _select_agent(True)


# How long a contact waits for the named locks it asked for (``contact_unit``'s ``locks``): the
# imports of every agent reporting the same computer name take them one after the other.
LOCKS_TIMEOUT = 30


@contextlib.contextmanager
def contact_unit(engine: Engine, device_id: str, contact: Contact, lock_row: bool = False,
                 locks: Sequence[str] = (), new: bool = False) -> Iterator[tuple[Connection, AgentRow]]:
    """A transaction in which the agent exists and its contact fields are updated.

    The first agent with that DEVICEID is used, as the plugin does (the column is not
    unique in GLPI). Creation happens under a named lock so that concurrent first contacts
    of one agent, from any worker or instance, create one row. The transactions run at READ
    COMMITTED: no gap locks, so first contacts of different agents never deadlock on the
    index gap where their rows go (``adapters.db.read_committed``).

    ``locks``: named locks held around the whole transaction, taken before it (no row lock is
    held while waiting for them). ``new``: the caller just saw no agent with that DEVICEID.
    """
    device_id = fit_utf8mb3(device_id)
    values = contact.values()
    with engine.connect() as conn, named_locks(conn, locks, timeout=LOCKS_TIMEOUT):
        if not new:
            with conn.begin():
                read_committed(conn)
                row = conn.execute(_SELECT_FOR_UPDATE if lock_row else _SELECT, {"device_id": device_id}).first()
                if row is not None:
                    conn.execute(update(agents).where(agents.c.id == row.id).values(values))
                    yield conn, AgentRow(row.id, row.version)
                    return
        with named_lock(conn, "agent:" + device_id):
            with conn.begin():
                read_committed(conn)
                row = conn.execute(_SELECT_FOR_UPDATE, {"device_id": device_id}).first()
                if row is not None:
                    conn.execute(update(agents).where(agents.c.id == row.id).values(values))
                    yield conn, AgentRow(row.id, row.version)
                    return
                new_row = conn.execute(insert(agents).values(_new_agent(device_id, values)))
                yield conn, AgentRow(new_row.inserted_primary_key[0], None, created=True)


def _touch_statement(with_token: bool):
    # The PROLOG of a known agent in one statement and one round trip (autocommit): update the
    # first agent with that DEVICEID, and hand back through LAST_INSERT_ID(expr) its id, whether
    # it has runs to do and whether its recorded source address is :address (id * 4 + 2 when it
    # has runs, + 1 when the address is the same), computed while setting last_contact (the IF
    # yields :last_contact either way). Every statement saved here is ~0.3 ms of CPU.
    token = "token = :token, " if with_token else ""
    runs = schema.taskjobstates
    addresses = schema.bridge_agentaddresses
    return text(
        f"UPDATE {agents.name} SET useragent = :useragent, {token}"
        "last_contact = IF(LAST_INSERT_ID(id * 4 + 2 * EXISTS("
        f"SELECT 1 FROM {runs.name} r WHERE r.plugin_fusioninventory_agents_id = {agents.name}.id"
        " AND r.state IN (0, 1, 2)) + EXISTS("
        f"SELECT 1 FROM {addresses.name} a WHERE a.plugin_fusioninventory_agents_id = {agents.name}.id"
        " AND a.address = :address)) >= 0, :last_contact, :last_contact) "
        "WHERE device_id = :device_id ORDER BY id LIMIT 1"
    )


_TOUCH = {True: _touch_statement(True), False: _touch_statement(False)}


@dataclass(frozen=True)
class Touched:
    agent_id: int
    # None when not known from the contact itself (new agent, SQLite): ask has_pending_runs.
    has_runs: bool | None
    # Whether the agent's recorded address is the one given to touch; None: not known.
    address_known: bool | None = None


def touch(engine: Engine, autocommit_engine: Engine, device_id: str, contact: Contact,
          address: str | None = None) -> Touched:
    """Record a contact of the agent (creating it if new); ``address``: its source address, to
    tell whether it is already recorded (glpi_plugin_fusionbridge_agentaddresses)."""
    if is_mysql(autocommit_engine):
        values = contact.values()
        with autocommit_engine.connect() as conn:
            result = conn.execute(_TOUCH["token" in values],
                                  {**values, "device_id": fit_utf8mb3(device_id), "address": address or ""})
            if result.rowcount:
                code = result.lastrowid
                return Touched(code >> 2, bool(code & 2), bool(code & 1))
        new = True
    else:
        new = False
    with contact_unit(engine, device_id, contact, new=new) as (_conn, agent):
        return Touched(agent.id, None)


def _new_agent(device_id: str, contact_values: dict) -> dict:
    return {
        "name": device_id,
        "device_id": device_id,
        "entities_id": 0,
        "threads_networkdiscovery": 0,
        "threads_networkinventory": 0,
        **contact_values,
    }


def find_agent(conn: Connection, device_id: str):
    """The agent row (id, lock) for a REST ``machineid``, or None."""
    return conn.execute(
        select(agents.c.id, agents.c.lock)
        .where(agents.c.device_id == bindparam("device_id"))
        .order_by(agents.c.id)
        .limit(1),
        {"device_id": fit_utf8mb3(device_id)},
    ).first()


def merged_versions(current: str | None, module: str, version: str) -> str | None:
    """The ``version`` column after recording ``module``'s version; None if unchanged."""
    versions: dict = {}
    if current:
        try:
            parsed = json.loads(current)
        except ValueError:
            parsed = None
        # A pre-JSON value is the agent's version string: the plugin keeps it as INVENTORY.
        versions = parsed if isinstance(parsed, dict) else {"INVENTORY": current}
    if versions.get(module) == version:
        return None
    versions[module] = version
    return php_json(versions)


def record_version(conn: Connection, agent: AgentRow, module: str, version: str | None) -> None:
    if not version:
        return
    version = fit_utf8mb3(version, 100)
    merged = merged_versions(agent.version, module, version)
    if merged is not None and len(merged) <= 255:
        conn.execute(update(agents).where(agents.c.id == agent.id).values(version=merged))
