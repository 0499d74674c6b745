"""Counting the statements the app sends, whichever way it sends them."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from sqlalchemy import event

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


class _ProbeLines(logging.Handler):
    def __init__(self, statements: list[str]):
        super().__init__(logging.DEBUG)
        self._statements = statements

    def emit(self, record: logging.LogRecord) -> None:
        self._statements.append(record.getMessage().removeprefix("probe: "))


@contextlib.contextmanager
def recorded_statements(runtime) -> Iterator[list[str]]:
    """The SQL of every statement sent while inside, but BEGIN/COMMIT/ROLLBACK: through
    SQLAlchemy (its events) or as a ``db_probe.ReadProbe`` (its DEBUG lines on ``fusion_bridge.adapters.db``)."""
    statements: list[str] = []

    def on_statement(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            statements.append(statement)

    engines = {id(engine): engine for engine in (runtime.engine, runtime.autocommit_engine)}.values()
    probe_log = logging.getLogger("fusion_bridge.adapters.db")
    handler, level = _ProbeLines(statements), probe_log.level
    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_statement)
    probe_log.addHandler(handler)
    probe_log.setLevel(logging.DEBUG)
    try:
        yield statements
    finally:
        probe_log.setLevel(level)
        probe_log.removeHandler(handler)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", on_statement)
