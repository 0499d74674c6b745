"""The rows a preparation pass writes: new Prepared runs with their log lines (and the bridge's
run rows when asked), and cancellations, all in bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import delete, insert
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.services import runs
from fusion_bridge.services.runs import INSERT_BATCH
from fusion_bridge.services.scheduling.actors import chunks


def cancel_runs(conn: Connection, run_ids: Iterable[int], comment: str, when: datetime) -> int:
    """``runs.cancel`` for many runs at once: the same state move and log line, in bulk.

    Only runs still live when locked are cancelled (a run that finished meanwhile is left).
    """
    return len(runs.move_many(conn, run_ids, runs.Move.CANCEL, when, comment))


def insert_runs(conn: Connection, job_id: int, pairs: list[tuple[tuple[str, int], int]],
                when: datetime, details: list[dict] | None = None, *, task_id: int = 0,
                execution_id: int = 0) -> list[int]:
    """New PREPARED runs for (target, agent) pairs with their ``Prepared`` log, in bulk
    (``runs.insert_prepared``), and the bridge's rows of them when asked.

    ``details`` (one dict per pair, or None) carries what the bridge adds: the run's
    ``specificity`` (a slice, "<first offset>-<count>"), and for its own
    ``glpi_plugin_fusionbridge_runs`` row ``attempt``, ``previous_run``, ``slice_first``,
    ``slice_count``. That row is written when ``details`` or an ``execution_id`` is given, so
    runs of plain 9.5 tasks cost nothing more.
    """
    if not pairs:
        return []
    if details is not None and len(details) != len(pairs):
        raise ValueError("insert_runs: one details dict per pair")
    specificities = None if details is None else [extra.get("specificity") for extra in details]
    run_ids = runs.insert_prepared(conn, job_id, pairs, when, specificities)
    if details is not None or execution_id:
        extras = details if details is not None else [{}] * len(run_ids)
        bridge_rows = [{
            "plugin_fusioninventory_taskjobstates_id": run_id,
            "plugin_fusioninventory_tasks_id": task_id,
            "execution_id": execution_id,
            "attempt": extra.get("attempt", 0),
            "previous_run": extra.get("previous_run", 0),
            "slice_first": extra.get("slice_first"),
            "slice_count": extra.get("slice_count"),
        } for run_id, extra in zip(run_ids, extras)]
        if conn.dialect.name == "sqlite":
            # A row under a brand-new run id can only be left from a deleted run whose id was
            # handed out again (a SQLite file made before its keys had AUTOINCREMENT; InnoDB
            # does not reuse ids): it is not this run's.
            key = schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id
            for part in chunks(run_ids):
                conn.execute(delete(schema.bridge_runs).where(key.in_(list(part))))
        for part in chunks(bridge_rows, INSERT_BATCH):
            conn.execute(insert(schema.bridge_runs), list(part))
    return run_ids

