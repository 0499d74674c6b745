"""Each agent's source address, remembered at its XML contacts so that it can be woken up.

Cheap on the hot path: one upsert statement, only when the address changed. On MariaDB the
PROLOG's single UPDATE (``agents.touch``) also tells whether the recorded address is the
caller's; otherwise (SQLite, other messages) each worker keeps the address it last wrote per
agent and writes again when the address differs or its entry is older than ``refresh``
seconds. The row's ``date`` is when the address was written (first seen, or re-confirmed by a
worker without that knowledge); ``agents.last_contact`` is the date of the last contact.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import time
from datetime import datetime
from typing import Callable

from sqlalchemy import bindparam
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

import schema
from fusion_bridge.adapters.db import is_mysql
from fusion_bridge.adapters.db_errors import log_failure

log = logging.getLogger(__name__)

addresses = schema.bridge_agentaddresses
REFRESH_SECONDS = 300.0
MAX_CACHED = 200_000

_ROW = {"plugin_fusioninventory_agents_id": bindparam("agent"), "address": bindparam("address"),
        "date": bindparam("date")}
# Statements, not SQL text: each engine compiles them once into its tables' layout
# (docs/schema-layouts.md §1).
_MYSQL_INSERT = mysql.insert(addresses).values(_ROW)
_SQLITE_INSERT = sqlite.insert(addresses).values(_ROW)
_UPSERT = {
    True: _MYSQL_INSERT.on_duplicate_key_update(address=_MYSQL_INSERT.inserted.address,
                                                date=_MYSQL_INSERT.inserted.date),
    False: _SQLITE_INSERT.on_conflict_do_update(
        index_elements=[addresses.c.plugin_fusioninventory_agents_id],
        set_={"address": _SQLITE_INSERT.excluded.address, "date": _SQLITE_INSERT.excluded.date}),
}


@functools.lru_cache(maxsize=16384)
def normalise(remote_addr: str | None) -> str | None:
    """The address as text (IPv4-mapped IPv6 as plain IPv4), or None if it is not an IP."""
    if not remote_addr:
        return None
    try:
        address = ipaddress.ip_address(remote_addr.split("%", 1)[0] if "%" in remote_addr else remote_addr)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.compressed


def upsert(conn, agent_id: int, address: str, when: datetime) -> None:
    conn.execute(_UPSERT[is_mysql(conn)], {"agent": agent_id, "address": address, "date": when})


def upsert_statement(mysql: bool):
    """``upsert``'s statement, for a connection below SQLAlchemy's execution layer (RawSession):
    parameters ``agent``, ``address``, ``date``."""
    return _UPSERT[mysql]


class AddressBook:
    """Records agents' source addresses; one per worker process."""

    def __init__(self, engine: Engine, autocommit_engine: Engine, refresh: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self._engine = engine
        self._autocommit = autocommit_engine if is_mysql(autocommit_engine) else None
        self._refresh = refresh
        self._clock = clock
        self._written: dict[int, tuple[str, float]] = {}

    def record(self, agent_id: int, address: str | None, when: datetime, known: bool | None = None) -> None:
        """Remember that ``agent_id`` called from ``address`` (normalised); ``known``: whether
        the database already holds that address (None: not known, the cache decides)."""
        if not address or known:
            return
        now = self._clock()
        if known is None:
            cached = self._written.get(agent_id)
            if cached is not None and cached[0] == address and now < cached[1]:
                return
        try:
            if self._autocommit is not None:
                with self._autocommit.connect() as conn:
                    upsert(conn, agent_id, address, when)
            else:
                with self._engine.begin() as conn:
                    upsert(conn, agent_id, address, when)
        except SQLAlchemyError as error:
            # The contact itself succeeded; a missing address only delays a wake-up.
            log_failure(log, "recording an agent's address", error, logging.WARNING)
            return
        if len(self._written) >= MAX_CACHED:
            self._written.clear()
        self._written[agent_id] = (address, now + self._refresh)

    def forget(self) -> None:
        self._written.clear()
