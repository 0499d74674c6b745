"""Database adapter: engines for MariaDB/MySQL (GLPI's database) and the embedded SQLite file."""

from __future__ import annotations

import contextlib
import hashlib
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url


def make_engine(url: str, autocommit: bool = False) -> Engine:
    """An engine for ``url``. ``autocommit`` engines serve single-statement writes, which
    then cost one round trip instead of a statement plus a COMMIT (MySQL only)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        if "charset" not in parsed.query:
            # Send any text; values are fitted to GLPI's 3-byte utf8 columns before writing.
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        engine = create_engine(
            parsed,
            isolation_level="AUTOCOMMIT" if autocommit else None,
            pool_size=4,
            max_overflow=8,
            pool_recycle=3600,
            # No pre-ping: it costs a round trip per request; stale connections are
            # recycled hourly and invalidated by SQLAlchemy on a disconnect error.
            # Every unit of work ends in COMMIT or ROLLBACK, so the pool's own
            # reset-on-return ROLLBACK would be one more round trip for nothing.
            pool_reset_on_return=None,
        )
        if autocommit:
            # The server has nothing to roll back in autocommit mode, yet SQLAlchemy calls the
            # DBAPI rollback when a connection closes, and pymysql sends it: a wasted round trip.
            engine.dialect.do_rollback = lambda dbapi_connection: None
        return engine
    return create_engine(parsed)


def _sqlite_engine(url) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE can be used.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
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


@contextlib.contextmanager
def named_lock(conn: Connection, name: str, timeout: int = 10) -> Iterator[None]:
    """A cross-process, cross-instance lock (MySQL GET_LOCK); a no-op on SQLite.

    SQLite needs none: every transaction starts with BEGIN IMMEDIATE and is serialised.
    The caller must not be inside a transaction: the lock is released only after the
    work done under it is committed, so no other instance can read around it.
    """
    if not is_mysql(conn):
        yield
        return
    key = "fb:" + hashlib.sha1(name.encode("utf-8")).hexdigest()
    got = conn.execute(text("SELECT GET_LOCK(:key, :timeout)"), {"key": key, "timeout": timeout}).scalar()
    conn.commit()
    if got != 1:
        raise TimeoutError(f"could not take database lock {name!r} within {timeout} s")
    try:
        yield
    finally:
        conn.execute(text("SELECT RELEASE_LOCK(:key)"), {"key": key})
        conn.commit()


@contextlib.contextmanager
def try_lock(conn: Connection, name: str, timeout: int) -> Iterator[bool]:
    """``named_lock`` that yields False instead of raising when the lock stays taken."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(named_lock(conn, name, timeout=timeout))
        except TimeoutError:
            yield False
            return
        yield True
