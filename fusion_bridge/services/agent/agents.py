"""Agents as the plugin records them: found by DEVICEID, created on first contact."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Sequence

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

import schema
from schema.layout import CORE_AGENT_TYPE, Layout
from fusion_bridge.adapters.db import (LOCK_POLL_SECONDS, NamedLockTimeout, is_mysql, lock_key, named_lock,
                                       named_locks, read_committed)
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.adapters.db_probe import RawSession
from fusion_bridge.services.agent.addresses import upsert_statement
from fusion_bridge.domain.text import fit_utf8mb3, php_json
from fusion_bridge.services import runs as run_service

agents = schema.agents
log = logging.getLogger("fusion_bridge.agent")

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


def _update_contact(with_token: bool):
    values = {"last_contact": bindparam("p_last_contact"), "useragent": bindparam("p_useragent")}
    if with_token:
        values["token"] = bindparam("p_token")
    return update(agents).where(agents.c.id == bindparam("p_id")).values(values)


# Built once: constructing an UPDATE per contact costs more CPU than running it.
_UPDATE_CONTACT = {True: _update_contact(True), False: _update_contact(False)}


def _record_contact(conn: Connection, agent_id: int, values: dict) -> None:
    conn.execute(_UPDATE_CONTACT["token" in values], {"p_id": agent_id, **{"p_" + k: v for k, v in values.items()}})


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
                    _record_contact(conn, row.id, values)
                    yield conn, AgentRow(row.id, row.version)
                    return
        with named_lock(conn, "agent:" + device_id):
            with conn.begin():
                read_committed(conn)
                row = conn.execute(_SELECT_FOR_UPDATE, {"device_id": device_id}).first()
                if row is not None:
                    _record_contact(conn, row.id, values)
                    yield conn, AgentRow(row.id, row.version)
                    return
                new_row = conn.execute(insert(agents).values(_new_agent(device_id, values)))
                yield conn, AgentRow(new_row.inserted_primary_key[0], None, created=True)
            # Committed: with the access log off this is what shows that agents come in.
            log.info("new agent %r (id %d, %s)", device_id, new_row.inserted_primary_key[0], contact.user_agent)


def _touch_statement(layout: Layout, with_token: bool):
    # The PROLOG of a known agent in one statement and one round trip (autocommit): update the
    # first agent with that DEVICEID, and hand back through LAST_INSERT_ID(expr) its id, whether
    # it has runs to do and whether its recorded source address is :address (id * 4 + 2 when it
    # has runs, + 1 when the address is the same), computed while setting last_contact (the IF
    # yields :last_contact either way). Every statement saved here is ~0.3 ms of CPU.
    # Names as the engine's layout has them (docs/schema-layouts.md §1).
    token = "token = :token, " if with_token else ""
    table = layout.table(agents.name)
    runs = layout.table(schema.taskjobstates.name)
    addresses = layout.table(schema.bridge_agentaddresses.name)
    agent_key = layout.identifier("plugin_fusioninventory_agents_id")
    return text(
        f"UPDATE {table} SET useragent = :useragent, {token}"
        "last_contact = IF(LAST_INSERT_ID(id * 4 + 2 * EXISTS("
        f"SELECT 1 FROM {runs} r WHERE r.{agent_key} = {table}.id"
        f" AND r.state IN ({', '.join(str(state) for state in run_service.ACTIVE)})) + EXISTS("
        f"SELECT 1 FROM {addresses} a WHERE a.{agent_key} = {table}.id"
        " AND a.address = :address)) >= 0, :last_contact, :last_contact) "
        f"WHERE {layout.column(agents.name, 'device_id')} = :device_id ORDER BY id LIMIT 1"
    )


@functools.lru_cache(maxsize=None)
def _statements(layout: Layout, with_token: bool):
    """The touch and create statements of one layout; ``with_token`` only where agents have one."""
    with_token = with_token and layout.column(agents.name, "token") is not None
    return _touch_statement(layout, with_token), _create_statement(layout, with_token), with_token


@dataclass(frozen=True)
class Touched:
    agent_id: int
    # None when not known from the contact itself (new agent, SQLite): ask has_pending_runs.
    has_runs: bool | None
    # Whether the agent's recorded address is the one given to touch; None: not known.
    address_known: bool | None = None


def _create_statement(layout: Layout, with_token: bool):
    # _new_agent's row in one autocommit statement, unless an agent with that DEVICEID exists
    # (rowcount 0).
    # Run under the agent's named lock: the NOT EXISTS is a plain read of what is committed, and
    # whoever creates an agent commits before releasing that lock (contact_unit too).
    columns = ["name", "device_id", "entities_id", "threads_networkdiscovery", "threads_networkinventory",
               "last_contact", "useragent"] + (["token"] if with_token else [])
    values = [":device_id", ":device_id", "0", "0", "0", ":last_contact", ":useragent"] + (
        [":token"] if with_token else [])
    columns = [layout.column(agents.name, column) for column in columns]
    if layout.renames:
        # GLPI's core table wants its agent type and item (docs/schema-layouts.md §3).
        columns += ["agenttypes_id", "itemtype", "items_id"]
        values += [f"(SELECT MIN(id) FROM glpi_agenttypes WHERE name = '{CORE_AGENT_TYPE}')", "'Computer'", "0"]
    table = layout.table(agents.name)
    return text(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM DUAL "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {layout.column(agents.name, 'device_id')} = :device_id)"
    )
_GET_LOCK = text("SELECT GET_LOCK(:key, :wait)")
_RELEASE_LOCK = text("DO RELEASE_LOCK(:key)")
CREATE_LOCK_TIMEOUT = 10


def touch(engine: Engine, autocommit_engine: Engine, device_id: str, contact: Contact,
          address: str | None = None, create: bool = True) -> Touched | None:
    """Record a contact of the agent (creating it if new, unless not ``create``: then None for
    an unknown agent); ``address``: its source address, to tell whether it is already recorded
    (glpi_plugin_fusionbridge_agentaddresses), and to record with a new agent."""
    if not is_mysql(autocommit_engine):
        if not create and not _known(engine, device_id):
            return None
        with contact_unit(engine, device_id, contact) as (_conn, agent):
            # An agent created just now has no runs yet; its address is for the caller to record.
            return Touched(agent.id, False if agent.created else None)
    values = {**contact.values(), "device_id": fit_utf8mb3(device_id)}
    with RawSession(autocommit_engine) as session:
        # After connecting: an engine learns its tables' layout at its first connection.
        touch_statement, create_statement, with_token = _statements(layout_of(autocommit_engine), "token" in values)
        if not with_token:
            values.pop("token", None)
        cursor = session.execute(touch_statement, {**values, "address": address or ""})
        if cursor.rowcount:
            code = cursor.lastrowid
            return Touched(code >> 2, bool(code & 2), bool(code & 1))
        if not create:
            return None
        # A first contact: four more statements on this autocommit connection, each durable
        # at once (a transaction would cost a SET TRANSACTION and a COMMIT more).
        agent_id = _create(session, create_statement, values)
        if agent_id is not None:
            if address:
                session.execute(upsert_statement(True), {"agent": agent_id, "address": address,
                                                         "date": contact.last_contact})
            log.info("new agent %r (id %d, %s)", values["device_id"], agent_id, contact.user_agent)
            return Touched(agent_id, False, bool(address))  # created just now: no runs yet
    # Another contact of this DEVICEID created it meanwhile.
    with contact_unit(engine, device_id, contact) as (_conn, agent):
        return Touched(agent.id, None)


def _known(engine: Engine, device_id: str) -> bool:
    with engine.connect() as conn:
        found = find_agent(conn, device_id) is not None
        conn.rollback()
    return found


def _create(session: RawSession, create_statement, values: dict) -> int | None:
    """The id of the agent created with ``values``, or None if one with that DEVICEID exists."""
    name = "agent:" + values["device_id"]
    key = lock_key(name)
    deadline = time.monotonic() + CREATE_LOCK_TIMEOUT
    while session.execute(_GET_LOCK, {"key": key, "wait": LOCK_POLL_SECONDS}).fetchone()[0] != 1:
        if time.monotonic() >= deadline:
            raise NamedLockTimeout(f"could not take database lock {name!r} within {CREATE_LOCK_TIMEOUT} s")
    try:
        cursor = session.execute(create_statement, values)
    except BaseException:
        if session.usable:  # else the server freed the lock with the lost session
            with contextlib.suppress(DBAPIError):  # the error being raised says more
                session.execute(_RELEASE_LOCK, {"key": key})
        raise
    created = cursor.lastrowid if cursor.rowcount else None
    session.execute(_RELEASE_LOCK, {"key": key})
    return created


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
    """The agent's version as its database keeps it: FusionInventory's JSON map of versions by
    module (``{"INVENTORY":"v2.6-3"}``); on GLPI 10/11 the plain version of the agent, written
    from inventories only (``2.6-3``, ``1.11``: docs/glpi10-protocol.md §5.2)."""
    if not version:
        return
    version = fit_utf8mb3(version, 100)
    if layout_of(conn).renames:
        if module == "INVENTORY":
            plain = version[1:] if version[:1] == "v" and version[1:2].isdigit() else version
            if agent.version != plain:
                conn.execute(update(agents).where(agents.c.id == agent.id).values(version=plain))
        return
    merged = merged_versions(agent.version, module, version)
    if merged is not None and len(merged) <= 255:
        conn.execute(update(agents).where(agents.c.id == agent.id).values(version=merged))
