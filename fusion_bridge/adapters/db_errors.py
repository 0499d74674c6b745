"""What a database error was, in words that are safe to log and to answer.

A driver's message may quote the values of the failed statement (``Duplicate entry 'x'``,
``Incorrect string value: '\\xF0…'``), and SQLAlchemy's text of an error carries the statement
and, unless the engine hides them, its parameters: SNMP communities, passphrases, tokens. So
nothing here ever uses ``str(error)``: a failure is described by its kind and the server's error
code only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout

from fusion_bridge.adapters.db import NamedLockTimeout
from fusion_bridge.throttled_log import ThrottledLog

# Kinds, as they appear in log lines and in the reason of a 503.
DEADLOCK = "deadlock"
LOCK_WAIT = "lock wait timeout"
STATEMENT_TIMEOUT = "statement timeout"
NOT_RESPONDING = "database not responding"
UNREACHABLE = "database unreachable"
CONNECTION_LOST = "database connection lost"
NOT_READY = "database node not ready"
COMMIT_FAILED = "commit failed"
POOL_EXHAUSTED = "no free database connection"
OTHER = "database error"

# MySQL/MariaDB server error codes (and pymysql's client codes, 2xxx).
_KINDS = {
    1213: DEADLOCK,           # ER_LOCK_DEADLOCK; also Galera's certification failure ("WSREP detected deadlock")
    1614: DEADLOCK,           # ER_XA_RBDEADLOCK
    1180: COMMIT_FAILED,      # ER_ERROR_DURING_COMMIT: how Galera may report a certification failure
    1205: LOCK_WAIT,          # ER_LOCK_WAIT_TIMEOUT (innodb_lock_wait_timeout)
    1969: STATEMENT_TIMEOUT,  # ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
    3024: STATEMENT_TIMEOUT,  # ER_QUERY_TIMEOUT (MySQL max_execution_time)
    1047: NOT_READY,          # ER_UNKNOWN_COM_ERROR: "WSREP has not yet prepared node for application use"
    2002: UNREACHABLE,        # CR_CONNECTION_ERROR
    2003: UNREACHABLE,        # CR_CONN_HOST_ERROR
    2005: UNREACHABLE,        # CR_UNKNOWN_HOST
    1040: UNREACHABLE,        # ER_CON_COUNT_ERROR: too many connections
    1045: UNREACHABLE,        # ER_ACCESS_DENIED_ERROR
    1049: UNREACHABLE,        # ER_BAD_DB_ERROR
    2006: CONNECTION_LOST,    # CR_SERVER_GONE_ERROR
    2013: CONNECTION_LOST,    # CR_SERVER_LOST (a read timeout too: see below)
    2055: CONNECTION_LOST,    # CR_SERVER_LOST_EXTENDED
    1053: CONNECTION_LOST,    # ER_SERVER_SHUTDOWN
    1927: CONNECTION_LOST,    # ER_CONNECTION_KILLED
    4031: CONNECTION_LOST,    # ER_CLIENT_INTERACTION_TIMEOUT
}

# Kinds worth running the unit of work again for: the database rolled it back and a second
# attempt usually passes (a stale pooled connection is replaced by a fresh one).
RETRYABLE = frozenset({DEADLOCK, LOCK_WAIT, CONNECTION_LOST, NOT_READY, COMMIT_FAILED})


@dataclass(frozen=True)
class Failure:
    kind: str
    code: int | None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    def __str__(self) -> str:
        return self.kind if self.code is None else f"{self.kind} ({self.code})"


def classify(error: BaseException) -> Failure:
    """The kind of a database error (a SQLAlchemy ``DBAPIError`` or a driver exception)."""
    if isinstance(error, NamedLockTimeout):
        return Failure(LOCK_WAIT, None)
    if isinstance(error, PoolTimeout):  # every pooled connection busy for pool_timeout
        return Failure(POOL_EXHAUSTED, None)
    orig = error.orig if isinstance(error, DBAPIError) else error
    args = getattr(orig, "args", ()) or ()
    # pymysql says (0, '') for a connection it already closed: no server code.
    code = args[0] if args and isinstance(args[0], int) and args[0] else None
    if code is not None:
        kind = _KINDS.get(code, OTHER)
        if code == 2013 and _says(args, "timed out"):
            # pymysql's read_timeout (or connect_timeout at the greeting): the server is there
            # but does not answer; another attempt would only wait as long again.
            kind = NOT_RESPONDING
        return Failure(kind, code)
    # SQLite (sqlite3 errors carry no code in args): the busy timeout ran out.
    if _says(args, "database is locked") or _says(args, "database table is locked"):
        return Failure(LOCK_WAIT, None)
    if _says(args, "unable to open database"):
        return Failure(UNREACHABLE, None)
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return Failure(CONNECTION_LOST, None)
    return Failure(OTHER, None)


def describe(error: BaseException) -> str:
    """A one-line description without the statement, its values or the driver's message."""
    failure = classify(error)
    name = type(error.orig if isinstance(error, DBAPIError) else error).__name__
    return f"{failure} [{name}]" if failure.kind == OTHER else str(failure)


def reason(error: BaseException) -> str:
    """What a client is told (HTTP 503): the kind, then to come back."""
    return f"database unavailable ({classify(error).kind}), try again later"


def _says(args: tuple, words: str) -> bool:
    return any(isinstance(arg, str) and words in arg.lower() for arg in args)


_failures = ThrottledLog()


def log_failure(logger: logging.Logger, where: str, error: BaseException, level: int = logging.ERROR) -> None:
    """A line for work the database failed: at most one per logger, kind of failure and
    interval, the next one with the count of those left out (``throttled_log``)."""
    _failures.log(logger, level, (logger.name, classify(error).kind), "database error on %s: %s", where,
                  describe(error))
