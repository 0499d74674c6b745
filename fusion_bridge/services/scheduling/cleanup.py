"""Run clean-up done by the scheduler besides preparation.

``time_out_silent_runs`` fails runs an agent stopped reporting on (the plugin has no such
sweep); ``apply_retention`` keeps the last runs of every (job, target, agent) instead of the
plugin's age-based ``cleantaskjob`` that also erases the evidence of success;
``forget_orphans`` deletes the bridge's own rows of tasks, actions and runs that are gone from
the plugin's tables (purged in GLPI's UI or by GLPI's cron).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db import try_lock
from fusion_bridge.services import runs as run_service
from fusion_bridge.services.scheduling.actors import chunks
from fusion_bridge.domain.text import plural, to_second
from schema.constants import TaskjobLogState as Log, TaskjobState as State
from schema.plugin_network import statediscoveries

log = logging.getLogger(__name__)

runs = schema.taskjobstates
logs = schema.taskjoblogs

TIMEOUT_LOCK = "fusion-bridge:timeouts"
RETENTION_LOCK = "fusion-bridge:retention"

# Never deleted by retention: runs still to do or postponed.
KEPT_BY_RETENTION = run_service.ACTIVE_OR_POSTPONED



def timeout_comment(timeout: timedelta) -> str:
    minutes = int(timeout.total_seconds() // 60)
    return (f"No message from the agent for {plural(minutes, 'minute')}: the run is considered failed "
            "(server-side timeout)")


def time_out_silent_runs(engine: Engine, now: datetime | None = None,
                         timeout: timedelta = timedelta(hours=4)) -> list[int]:
    """Runs in state 1/2 whose newest log is older than ``timeout`` go to Error (``runs.fail``).

    A run whose only log is its ``Prepared`` line was handed out without a log (by GLPI's own
    server for Deploy and ESX, which log nothing then): its hand-out time is unknown, so it is
    left alone. Returns the failed ids.
    """
    now = now or datetime.now()
    cutoff = now - timeout
    comment = timeout_comment(timeout)
    newest = func.max(logs.c.date)
    statement = (
        select(runs.c.id, runs.c.plugin_fusioninventory_agents_id.label("agent"))
        .select_from(runs.join(logs, logs.c.plugin_fusioninventory_taskjobstates_id == runs.c.id))
        .where(runs.c.state.in_(run_service.HANDED_OUT),
               logs.c.state != int(Log.PREPARED))
        .group_by(runs.c.id, runs.c.plugin_fusioninventory_agents_id)
        .having(newest < cutoff)
        .order_by(runs.c.id)
    )
    failed = []
    with engine.connect() as conn, try_lock(conn, TIMEOUT_LOCK, 0) as locked:
        if not locked:
            return failed
        with conn.begin():
            for row in conn.execute(statement).all():
                if run_service.fail(conn, row.id, comment, to_second(now), items_id=row.agent):
                    failed.append(row.id)
    if failed:
        log.warning("%d silent run(s) timed out: %s", len(failed), ", ".join(map(str, failed[:20])))
    return failed


# ---------------------------------------------------------------------------------------------
# Retention


@dataclass
class RetentionReport:
    runs: int = 0
    logs: int = 0
    statediscoveries: int = 0
    busy: bool = False

    def lines(self) -> list[str]:
        if self.busy:
            return ["retention: another instance is cleaning up; nothing done"]
        return [f"retention: {self.runs} old run(s) deleted with {self.logs} log line(s) and "
                f"{self.statediscoveries} discovery counter(s)"]


def runs_to_forget(conn: Connection, keep: int) -> list[int]:
    """Ids of runs beyond the newest ``keep`` of their (job, target, agent), except live runs
    and the newest finished one."""
    statement = (
        select(runs.c.plugin_fusioninventory_agents_id, runs.c.plugin_fusioninventory_taskjobs_id,
               runs.c.items_id, runs.c.itemtype, runs.c.id, runs.c.state)
        .order_by(runs.c.plugin_fusioninventory_agents_id, runs.c.plugin_fusioninventory_taskjobs_id,
                  runs.c.items_id, runs.c.itemtype, runs.c.id)
    )
    doomed: list[int] = []
    group_key = None
    group: list[tuple[int, int]] = []

    def settle() -> None:
        if len(group) <= keep:
            return
        newest_first = sorted(group, reverse=True)
        newest_finished = next((rid for rid, state in newest_first if state == State.FINISHED), None)
        for rid, state in newest_first[keep:]:
            if rid != newest_finished and state not in KEPT_BY_RETENTION:
                doomed.append(rid)

    for agent, job, items_id, itemtype, run_id, state in conn.execute(statement):
        key = (agent, job, items_id, itemtype)
        if key != group_key:
            settle()
            group_key, group = key, []
        group.append((run_id, state))
    settle()
    return doomed


def apply_retention(engine: Engine, keep: int = 10) -> RetentionReport:
    """Delete all but the newest ``keep`` runs of every (job, target, agent) with their logs
    and discovery counters; never a live run nor the newest finished one.

    Runs go in chunks, each chunk (runs, logs, counters) in one transaction.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    report = RetentionReport()
    with engine.connect() as conn, try_lock(conn, RETENTION_LOCK, 0) as locked:
        if not locked:
            report.busy = True
            return report
        with conn.begin():
            doomed = runs_to_forget(conn, keep)
        for part in chunks(doomed):
            with conn.begin():
                ids = list(conn.execute(
                    select(runs.c.id).where(runs.c.id.in_(part), runs.c.state.not_in(KEPT_BY_RETENTION))
                    .with_for_update()
                ).scalars())
                if not ids:
                    continue
                report.logs += conn.execute(
                    delete(logs).where(logs.c.plugin_fusioninventory_taskjobstates_id.in_(ids))).rowcount
                report.statediscoveries += conn.execute(
                    delete(statediscoveries)
                    .where(statediscoveries.c.plugin_fusioninventory_taskjob_id.in_(ids))
                ).rowcount
                # The bridge's row of a run (execution, attempt, slice) goes with the run.
                conn.execute(delete(schema.bridge_runs)
                             .where(schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id.in_(ids)))
                report.runs += conn.execute(delete(runs).where(runs.c.id.in_(ids))).rowcount
    if report.runs:
        log.info("retention: %s", report.lines()[0])
    return report


# ---------------------------------------------------------------------------------------------
# The bridge's rows of tasks, actions and runs purged elsewhere


@dataclass
class OrphanReport:
    tasks: int = 0
    actions: int = 0
    runs: int = 0

    def lines(self) -> list[str]:
        if not (self.tasks or self.actions or self.runs):
            return []
        return [f"orphans: the bridge's rows of {self.tasks} task(s), {self.actions} action(s) and "
                f"{self.runs} run(s) purged from GLPI deleted"]


# (bridge table, its key, the plugin table that row is about)
_OWNED = (
    ("tasks", schema.bridge_tasks, schema.bridge_tasks.c.plugin_fusioninventory_tasks_id, schema.tasks),
    ("actions", schema.bridge_taskjobs, schema.bridge_taskjobs.c.plugin_fusioninventory_taskjobs_id,
     schema.taskjobs),
    ("runs", schema.bridge_runs, schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id, runs),
)


def forget_orphans(engine: Engine, *, include_runs: bool = True) -> OrphanReport:
    """Delete the bridge's task, action (and, with ``include_runs``, run) rows whose plugin row
    no longer exists, so that nothing of a purged task lives on — least of all in a new task
    that GLPI gives the same id (SQLite without AUTOINCREMENT, or MariaDB before 10.2.4 after a
    restart, hand out the highest id again). The ids are read first, without locks, then
    deleted by key: the large run table is never scanned under locks. The run table is large,
    so the scheduler checks runs only at its retention pass; a run id handed out again gets a
    fresh bridge row anyway (``run_writes.insert_runs``)."""
    report = OrphanReport()
    with engine.connect() as conn:
        for what, table, key, plugin_table in _OWNED:
            if what == "runs" and not include_runs:
                continue
            with conn.begin():
                gone = list(conn.execute(
                    select(key).where(~select(plugin_table.c.id).where(plugin_table.c.id == key).exists())
                ).scalars())
            for part in chunks(gone):
                with conn.begin():
                    # Checked again: a row whose plugin row exists again may have just been
                    # written for the new item by a bridge command; the next pass decides.
                    deleted = conn.execute(delete(table).where(
                        key.in_(part), ~select(plugin_table.c.id).where(plugin_table.c.id == key).exists()
                    )).rowcount
                setattr(report, what, getattr(report, what) + deleted)
    if report.lines():
        log.info("%s", report.lines()[0])
    return report
