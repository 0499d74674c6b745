"""Database errors described by kind and code, never by their text (issue 10, items 4 and 7)."""

from __future__ import annotations

import sqlite3

import pymysql
import pytest
from sqlalchemy.exc import OperationalError

from fusion_bridge.adapters.db import NamedLockTimeout
from fusion_bridge.adapters.db_errors import classify, describe, reason


def wrapped(orig: Exception) -> OperationalError:
    return OperationalError("INSERT INTO t VALUES (%s)", ("s3cret",), orig)


@pytest.mark.parametrize("orig, kind, retryable", [
    (pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"), "deadlock", True),
    (pymysql.err.OperationalError(1213, "WSREP detected deadlock/conflict and aborted the transaction. "
                                        "Try restarting the transaction"), "deadlock", True),
    (pymysql.err.OperationalError(1047, "WSREP has not yet prepared node for application use"),
     "database node not ready", True),
    (pymysql.err.OperationalError(1180, "Got error 6 during COMMIT"), "commit failed", True),
    (pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"), "lock wait timeout", True),
    (pymysql.err.OperationalError(1969, "Query execution was interrupted (max_statement_time exceeded)"),
     "statement timeout", False),
    (pymysql.err.OperationalError(2003, "Can't connect to MySQL server"), "database unreachable", False),
    (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query (timed out)"),
     "database not responding", False),
    (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"),
     "database connection lost", True),
    (pymysql.err.OperationalError(2006, "MySQL server has gone away"), "database connection lost", True),
    (pymysql.err.IntegrityError(1062, "Duplicate entry 's3cret' for key 'name'"), "database error", False),
    (sqlite3.OperationalError("database is locked"), "lock wait timeout", True),
    (sqlite3.IntegrityError("UNIQUE constraint failed: t.name"), "database error", False),
])
def test_kinds(orig, kind, retryable):
    failure = classify(wrapped(orig))
    assert (failure.kind, failure.retryable) == (kind, retryable)
    assert "s3cret" not in describe(wrapped(orig)) and "s3cret" not in reason(wrapped(orig))
    assert kind in reason(wrapped(orig))


def test_a_connection_pymysql_closed_is_a_lost_connection():
    error = OperationalError("SELECT 1", None, pymysql.err.InterfaceError(0, ""), connection_invalidated=True)
    assert (classify(error).kind, classify(error).retryable) == ("database connection lost", True)


def test_a_full_pool_is_no_free_connection():
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    assert classify(PoolTimeout("QueuePool limit of size 4 overflow 8 reached")).kind == "no free database connection"


def test_a_named_lock_timeout_is_a_lock_wait():
    assert classify(NamedLockTimeout("lock 'agent:x' not taken")).kind == "lock wait timeout"


def test_description_has_the_code_not_the_text():
    assert describe(wrapped(pymysql.err.IntegrityError(1062, "Duplicate entry 's3cret'"))) == \
        "database error (1062) [IntegrityError]"
