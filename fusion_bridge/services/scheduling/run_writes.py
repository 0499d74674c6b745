"""The rows a preparation pass writes: new Prepared runs with their log lines (and the bridge's
run rows when asked), and cancellations, all in bulk."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import func, insert, literal, null, select, update
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.services import runs as run_service
from fusion_bridge.services.scheduling.actors import chunks
from fusion_bridge.services.runs import log_row, new_uniqid
from schema.constants import TaskjobLogState as Log, TaskjobState as State

runs = schema.taskjobstates
logs = schema.taskjoblogs

LIVE = tuple(int(s) for s in run_service.ACTIVE)  # 0, 1, 2
INSERT_BATCH = 10_000


def cancel_runs(conn: Connection, run_ids: Iterable[int], comment: str, when: datetime) -> int:
    """``runs.cancel`` for many runs at once: the same state move and log line, in bulk.

    Only runs still live when locked are cancelled (a run that finished meanwhile is left).
    """
    cancelled = 0
    for part in chunks(sorted(set(run_ids))):
        live = list(conn.execute(
            select(runs.c.id).where(runs.c.id.in_(part), runs.c.state.in_(LIVE)).with_for_update()
        ).scalars())
        if not live:
            continue
        conn.execute(update(runs).where(runs.c.id.in_(live), runs.c.state.in_(LIVE))
                     .values(state=int(State.CANCELLED)))
        conn.execute(insert(logs), [log_row(run_id, Log.INFO, comment, when) for run_id in live])
        cancelled += len(live)
    return cancelled


def _unique_uniqids(count: int) -> list[str]:
    seen: set[str] = set()
    result = []
    while len(result) < count:
        uniqid = new_uniqid()
        if uniqid not in seen:
            seen.add(uniqid)
            result.append(uniqid)
    return result


def insert_runs(conn: Connection, job_id: int, pairs: list[tuple[tuple[str, int], int]],
                when: datetime, details: list[dict] | None = None, *, task_id: int = 0,
                execution_id: int = 0) -> list[int]:
    """New PREPARED runs for (target, agent) pairs with their ``Prepared`` log, in bulk.

    Like the plugin, a run row gets its job, target, agent, state 0 and uniqid, the other
    columns their defaults (``specificity``/``date_start`` NULL, ``nb_retry`` 0, ``max_retry``
    1); its log line carries the run, the date, state 7 and an empty comment (``items_id`` 0,
    ``itemtype`` NULL). The new ids are read back by uniqid.

    ``details`` (one dict per pair, or None) carries what the bridge adds: the run's
    ``specificity`` (a slice, "<first offset>-<count>"), and for its own
    ``glpi_plugin_fusionbridge_runs`` row ``attempt``, ``previous_run``, ``slice_first``,
    ``slice_count``. That row is written when ``details`` or an ``execution_id`` is given, so
    runs of plain 9.5 tasks cost nothing more.
    """
    if not pairs:
        return []
    before = conn.execute(select(func.max(runs.c.id))).scalar() or 0
    uniqids = _unique_uniqids(len(pairs))
    rows = [
        {
            "plugin_fusioninventory_taskjobs_id": job_id,
            "items_id": items_id,
            "itemtype": itemtype,
            "state": int(State.PREPARED),
            "plugin_fusioninventory_agents_id": agent_id,
            "uniqid": uniqid,
        }
        for ((itemtype, items_id), agent_id), uniqid in zip(pairs, uniqids)
    ]
    if details is not None:
        if len(details) != len(pairs):
            raise ValueError("insert_runs: one details dict per pair")
        for row, extra in zip(rows, details):
            if extra.get("specificity") is not None:
                row["specificity"] = extra["specificity"]
    for part in chunks(rows, INSERT_BATCH):
        conn.execute(insert(runs), list(part))
    ids_by_uniqid = dict(conn.execute(
        select(runs.c.uniqid, runs.c.id).where(runs.c.plugin_fusioninventory_taskjobs_id == job_id,
                                               runs.c.id > before)
    ).all())
    try:
        run_ids = [ids_by_uniqid[uniqid] for uniqid in uniqids]
    except KeyError:
        raise RuntimeError(f"job {job_id}: inserted runs could not be read back by uniqid") from None
    _insert_prepared_logs(conn, run_ids, when)
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
        for part in chunks(bridge_rows, INSERT_BATCH):
            conn.execute(insert(schema.bridge_runs), list(part))
    return run_ids


def _insert_prepared_logs(conn: Connection, run_ids: list[int], when: datetime) -> None:
    low, high = min(run_ids), max(run_ids)
    if high - low + 1 == len(run_ids) == len(set(run_ids)):
        # Every id from low to high is one of ours: one INSERT ... SELECT writes all the logs
        # without sending a row per run.
        template = log_row(0, Log.PREPARED, "", when, itemtype=None, items_id=0)
        columns = [c for c in template if c != "plugin_fusioninventory_taskjobstates_id"]
        source = select(
            runs.c.id,
            *[null() if template[c] is None else literal(template[c], logs.c[c].type) for c in columns],
        ).where(runs.c.id.between(low, high)).order_by(runs.c.id)  # ordered: safe for statement binlogs
        conn.execute(insert(logs).from_select(["plugin_fusioninventory_taskjobstates_id", *columns], source))
        return
    log_rows = [log_row(run_id, Log.PREPARED, "", when, itemtype=None, items_id=0) for run_id in run_ids]
    for part in chunks(log_rows, INSERT_BATCH):
        conn.execute(insert(logs), list(part))
