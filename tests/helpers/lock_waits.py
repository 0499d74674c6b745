"""Proof that a transaction waits for a lock another one holds, instead of a sleep hoping so.

``WaitingTransaction(engine, work)`` runs ``work(conn)`` in its own transaction on another
thread. The caller starts it while holding a lock and calls ``wait_until_blocked()``, which
returns only once that transaction is seen waiting:

* MariaDB: ``information_schema.INNODB_TRX`` shows its connection in ``LOCK WAIT``; the
  statement it waits in is returned.
* SQLite (every transaction begins with ``BEGIN IMMEDIATE``, serialised by the database file's
  lock): its BEGIN was sent and has not returned a while later (a thread descheduled that long
  between the two would let the check pass without a wait: unlikely, never a false failure).

If the transaction finishes instead, or is never seen waiting, the test fails. ``result()``
then joins the thread and gives what ``work`` returned (or raises what it raised).
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, text

from fusion_bridge.adapters.db import is_mysql

SEEN_WITHIN = 10.0  # seconds for the other transaction to reach the lock
SQLITE_STILL_WAITING = 0.5  # seconds its BEGIN IMMEDIATE must stay unanswered


class WaitingTransaction:
    def __init__(self, engine, work):
        self.engine = engine
        self.work = work
        self.mysql = is_mysql(engine)
        self._connection_id: int | None = None
        self._ready = threading.Event()  # MariaDB: connection id known; SQLite: BEGIN sent
        self._begun = threading.Event()  # the transaction got its lock (SQLite)
        self._begin_statement = ""
        self._done = threading.Event()
        self._result = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="waiting-transaction", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self.engine.connect() as conn:
                if self.mysql:
                    self._connection_id = conn.execute(text("SELECT CONNECTION_ID()")).scalar()
                    conn.commit()
                    self._ready.set()
                else:
                    self._watch_begin(conn)
                with conn.begin():
                    self._result = self.work(conn)
        except BaseException as error:  # noqa: BLE001 - given back by result()
            self._error = error
        finally:
            self._done.set()

    def _watch_begin(self, conn) -> None:
        def before(connection, cursor, statement, *args):
            if statement.upper().startswith("BEGIN"):
                self._begin_statement = statement
                self._ready.set()

        def after(connection, cursor, statement, *args):
            if statement.upper().startswith("BEGIN"):
                self._begun.set()

        event.listen(conn, "before_cursor_execute", before)
        event.listen(conn, "after_cursor_execute", after)

    def wait_until_blocked(self) -> str:
        """Returns once the transaction waits for a lock: the statement it waits in."""
        deadline = time.monotonic() + SEEN_WITHIN
        if not self._ready.wait(SEEN_WITHIN):
            pytest.fail(f"the other transaction did not start within {SEEN_WITHIN} s")
        if not self.mysql:
            if self._begun.wait(SQLITE_STILL_WAITING) or self._done.is_set():
                pytest.fail(f"the other transaction's {self._begin_statement} returned while this one "
                            "held the database's write lock")
            return self._begin_statement
        with self.engine.connect() as observer:
            while time.monotonic() < deadline:
                if self._done.is_set():
                    pytest.fail(f"the other transaction ended without waiting for a lock "
                                f"(error: {self._error!r})")
                row = observer.execute(text(
                    "SELECT trx_state, trx_query FROM information_schema.INNODB_TRX "
                    "WHERE trx_mysql_thread_id = :id"), {"id": self._connection_id}).first()
                observer.rollback()  # a fresh snapshot of the transaction list each time
                if row is not None and row.trx_state == "LOCK WAIT":
                    return row.trx_query or ""
                time.sleep(0.01)
        pytest.fail(f"the other transaction was not seen waiting for a lock within {SEEN_WITHIN} s")

    def result(self, timeout: float = 30):
        """What ``work`` returned, once its transaction committed."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the other transaction still runs after {timeout} s"
        if self._error is not None:
            raise self._error
        return self._result
