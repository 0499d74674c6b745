"""Database adapter: engines for MariaDB/MySQL (GLPI's database) and the embedded SQLite file."""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass
from typing import Iterable, Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from fusion_bridge.adapters.db_layout import apply_flavour


@dataclass(frozen=True)
class DbLimits:
    """How long a request may wait on the database (seconds; 0 = no bound of the bridge's own).

    A stuck database (frozen, partitioned, a lock held for ever) must become an error within a
    few seconds instead of holding every request: the driver bounds connecting and each read or
    write on the socket, the server bounds each statement (below the read bound, so that it
    answers with a clear error and the connection stays usable) and each wait on a row lock.
    """

    connect_timeout: float = 3.0
    read_timeout: float = 4.0
    write_timeout: float = 4.0
    lock_wait_timeout: int = 2        # InnoDB row locks (innodb_lock_wait_timeout, whole seconds)
    statement_timeout: float = 3.0    # MariaDB max_statement_time / MySQL max_execution_time
    sqlite_busy_timeout: float = 10.0  # SQLite: the wait for the write lock (one writer at a time)


# Without limits (command line, scheduler): the previous patient behaviour, but never for ever.
PATIENT = DbLimits(connect_timeout=10, read_timeout=0, write_timeout=0, lock_wait_timeout=0,
                   statement_timeout=0, sqlite_busy_timeout=30)


def make_engine(url: str, autocommit: bool = False, limits: DbLimits | None = None,
                flavour: str | None = None) -> Engine:
    """An engine for ``url``. ``autocommit`` engines serve single-statement writes, which
    then cost one round trip instead of a statement plus a COMMIT (MySQL only). ``flavour``:
    the tables' layout, ``fusioninventory`` or ``glpiinventory``; ``auto`` or None finds it at
    the first connection (``adapters.db_layout``, docs/schema-layouts.md §1).

    Statement parameters never appear in SQLAlchemy's errors (they may be SNMP communities,
    passphrases or tokens, and errors get logged).
    """
    return apply_flavour(_engine(url, autocommit, limits or PATIENT), flavour)


def _engine(url: str, autocommit: bool, limits: DbLimits) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, limits)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        if "charset" not in parsed.query:
            # Send any text; values are fitted to GLPI's 3-byte utf8 columns before writing.
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        connect_args = {name: value for name, value in (
            ("connect_timeout", limits.connect_timeout), ("read_timeout", limits.read_timeout),
            ("write_timeout", limits.write_timeout)) if value}
        engine = create_engine(
            parsed,
            isolation_level="AUTOCOMMIT" if autocommit else None,
            connect_args=connect_args,
            hide_parameters=True,
            pool_size=4,
            max_overflow=8,
            pool_recycle=3600,
            # No pre-ping: it costs a round trip per request; stale connections are
            # recycled hourly and invalidated by SQLAlchemy on a disconnect error (the whole
            # pool at once), and the request is retried (adapters.db_retry).
            # Every unit of work ends in COMMIT or ROLLBACK, so the pool's own
            # reset-on-return ROLLBACK would be one more round trip for nothing.
            pool_reset_on_return=None,
        )
        _bound_sessions(engine, limits, read_committed=autocommit)
        if autocommit:
            # The server has nothing to roll back in autocommit mode, yet SQLAlchemy calls the
            # DBAPI rollback when a connection closes, and pymysql sends it: a wasted round trip.
            engine.dialect.do_rollback = lambda dbapi_connection: None
        return engine
    return create_engine(parsed, hide_parameters=True)


def _bound_sessions(engine: Engine, limits: DbLimits, read_committed: bool) -> None:
    """Session settings made once per connection (no cost per request)."""
    settings = []
    if limits.lock_wait_timeout:
        settings.append(f"innodb_lock_wait_timeout = {max(1, int(limits.lock_wait_timeout))}")

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        statements = []
        session = list(settings)
        if limits.statement_timeout:
            if "mariadb" in (dbapi_connection.get_server_info() or "").lower():
                session.append(f"max_statement_time = {float(limits.statement_timeout):.3f}")
            else:  # MySQL bounds SELECTs only
                session.append(f"max_execution_time = {int(limits.statement_timeout * 1000)}")
        if session:
            statements.append("SET SESSION " + ", SESSION ".join(session))
        if read_committed:
            # Single autocommit statements see the same data at either level; at READ COMMITTED
            # an UPDATE or INSERT ... SELECT locks only the rows it changes, not the gaps around
            # them (next-key locks), which made concurrent first contacts deadlock.
            statements.append("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        if statements:
            cursor = dbapi_connection.cursor()
            try:
                for statement in statements:
                    cursor.execute(statement)
            finally:
                cursor.close()


def _sqlite_engine(url, limits: DbLimits) -> Engine:
    busy = limits.sqlite_busy_timeout or PATIENT.sqlite_busy_timeout
    engine = create_engine(url, connect_args={"timeout": busy, "check_same_thread": False}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE can be used.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # Take the write lock at once: a deferred transaction that later upgrades to a
        # writer fails with "database is locked" despite the busy timeout.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_mysql(bind: Connection | Engine) -> bool:
    return bind.dialect.name in ("mysql", "mariadb")


def read_committed(conn: Connection) -> None:
    """Run the transaction just begun at READ COMMITTED: the first statement of the transaction.

    InnoDB then locks the rows a statement reads for update or changes, not the gaps between
    index records; at REPEATABLE READ, a SELECT ... FOR UPDATE or an UPDATE of a key that is
    absent locks its gap, and two transactions inserting into the same gap deadlock. Each
    statement sees what is committed when it starts, so what a named lock serialises (match,
    then create) sees the previous holder's rows. A no-op on SQLite (one writer at a time).
    """
    if is_mysql(conn):
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")


class NamedLockTimeout(TimeoutError):
    """A named lock stayed taken by another session for the whole wait."""


# Each GET_LOCK waits at most this long, so that no statement outlasts the read or statement
# timeouts; a longer wait is several of them.
LOCK_POLL_SECONDS = 1


@contextlib.contextmanager
def named_lock(conn: Connection, name: str, timeout: float = 10) -> Iterator[None]:
    """A cross-process, cross-instance lock (MySQL GET_LOCK); a no-op on SQLite.

    SQLite needs none: every transaction starts with BEGIN IMMEDIATE and is serialised.
    The caller must not be inside a transaction: the lock is released only after the
    work done under it is committed, so no other instance can read around it.
    """
    with named_locks(conn, (name,), timeout):
        yield


@contextlib.contextmanager
def named_locks(conn: Connection, names: Iterable[str], timeout: float = 10) -> Iterator[None]:
    """``named_lock`` for several names, taken in one order (so that two sessions wanting some
    of the same names cannot wait for each other) and released together."""
    keys = sorted({lock_key(name): name for name in names}.items())
    if not is_mysql(conn) or not keys:
        yield
        return
    taken: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        for key, name in keys:
            _get_lock(conn, key, name, deadline, timeout)
            taken.append(key)
        conn.commit()
    except BaseException:
        if conn.in_transaction() and not conn.invalidated:
            conn.rollback()
        _release(conn, taken, failing=True)
        raise
    try:
        yield
    except BaseException:
        _release(conn, taken, failing=True)
        raise
    _release(conn, taken, failing=False)


def lock_key(name: str) -> str:
    """The GET_LOCK key of a lock name (short and ASCII whatever the name)."""
    return "fb:" + hashlib.sha1(name.encode("utf-8")).hexdigest()


def _get_lock(conn: Connection, key: str, name: str, deadline: float, timeout: float) -> None:
    while True:
        # MariaDB and MySQL take fractional seconds.
        wait = round(min(LOCK_POLL_SECONDS, max(0.0, deadline - time.monotonic())), 3)
        got = conn.execute(text("SELECT GET_LOCK(:key, :wait)"), {"key": key, "wait": wait}).scalar()
        if got == 1:
            return
        if time.monotonic() >= deadline:
            raise NamedLockTimeout(f"could not take database lock {name!r} within {timeout:g} s")


def _release(conn: Connection, keys: list[str], failing: bool) -> None:
    if not keys:
        return
    if conn.invalidated or conn.closed:
        return  # the server released the locks of the lost session
    try:
        if failing and conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT " + ", ".join(f"RELEASE_LOCK(:k{i})" for i in range(len(keys)))),
                     {f"k{i}": key for i, key in enumerate(keys)})
        conn.commit()
    except DBAPIError:
        if not failing:
            raise  # else the error being raised says more; the session's end frees the locks


@contextlib.contextmanager
def try_lock(conn: Connection, name: str, timeout: int) -> Iterator[bool]:
    """``named_lock`` that yields False instead of raising when the lock stays taken."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(named_lock(conn, name, timeout=timeout))
        except NamedLockTimeout:
            yield False
            return
        yield True
