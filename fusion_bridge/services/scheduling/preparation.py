"""Task preparation (the plugin's ``taskscheduler`` cron).

``prepare_runs`` follows the plugin's ``prepareTaskjobs``: for every active task inside its
schedule window and preparation timeslot, every job (in id order) gets one run per (target,
agent) unless that agent already has a live run of that target (or, when the task must not
re-prepare successful runs, a finished one). Live runs whose agent left the actors, or whose
target left the job, are cancelled. Unlike the plugin it is

* serialised: one preparer at a time across workers and instances (``GET_LOCK``; SQLite
  serialises every write transaction), so two preparers never create the same run twice;
* transactional per task: a task's runs, logs and cancellations are committed together, and a
  task that fails is rolled back without stopping the others (the caller may back off);
* bulk: no cap of 500 runs per pass; rows go in with ``executemany``.

Differences from the plugin, on purpose: targets whose item no longer exists (or is in GLPI's
trash) are skipped and their live runs cancelled; a POSTPONED (6) run blocks a new run of the
same (job, target, agent), so a postponed deploy is never doubled; live runs are also cancelled
when the actors resolve to no agent at all (the plugin skips such jobs and leaves the
cancellation to dispatch).

A task with bridge settings (``services/executions.py``) works in executions: periodicity,
retries of failed runs and ordered actions; one without keeps exactly the rules above. Runs of
such a task that another preparer made (GLPI's own cron) are adopted into the current execution
or cancelled first (``foreign_runs``).
Actions with a pool or load balancing get their agents and slices from ``balancing``. Run
time-outs and retention are in ``run_cleanup``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import datetime
from typing import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db import try_lock
from fusion_bridge.services import runs as run_service
from fusion_bridge.services.scheduling import balancing
from fusion_bridge.services.scheduling import executions
from fusion_bridge.services.scheduling.foreign_runs import settle_foreign_runs
from fusion_bridge.services.scheduling.order import Places, ordering_hold
from fusion_bridge.services.scheduling.report import PreparationReport, TaskBackoff, TaskPreparation
from fusion_bridge.services.scheduling.run_writes import cancel_runs, insert_runs
from fusion_bridge.services.runs import parse_item_list
from fusion_bridge.services.admin.task_settings import JobSettings, job_settings
from fusion_bridge.services.scheduling.targets import TargetResolver
from fusion_bridge.services.scheduling.timeslots import active_timeslots
from fusion_bridge.domain.text import to_second
from schema.constants import Method, TaskjobState as State

log = logging.getLogger(__name__)

tasks = schema.tasks
jobs = schema.taskjobs
runs = schema.taskjobstates
logs = schema.taskjoblogs

PREPARE_LOCK = "fusion-bridge:prepare"

AGENT_LEFT = "Device no longer defined in definition of job"
TARGET_LEFT = "Target no longer defined in definition of job"

ALL_METHODS = (Method.WAKEONLAN, Method.INVENTORY, Method.ESX, Method.NETWORK_DISCOVERY,
               Method.NETWORK_INVENTORY, Method.DEPLOY, Method.COLLECT)



# ---------------------------------------------------------------------------------------------
# Preparation


def _schedule_ok(now: datetime):
    """The plugin's window: start only → from start; start and end → between; neither →
    always; end only → never."""
    start, end = tasks.c.datetime_start, tasks.c.datetime_end
    return or_(
        and_(start.isnot(None), end.is_(None), start <= now),
        and_(start.isnot(None), end.isnot(None), start <= now, end >= now),
        and_(start.is_(None), end.is_(None)),
    )


def _task_filter(now: datetime, slots: set[int], task_id: int | None, methods: Iterable[str]):
    prep = tasks.c.plugin_fusioninventory_timeslots_prep_id
    conditions = [
        tasks.c.is_active == 1,
        _schedule_ok(now),
        or_(prep == 0, prep.in_(sorted(slots))) if slots else prep == 0,
        jobs.c.method.in_(list(methods)),
    ]
    if task_id is not None:
        conditions.append(tasks.c.id == task_id)
    return and_(*conditions)


def eligible_tasks(conn: Connection, now: datetime, task_id: int | None = None,
                   methods: Iterable[str] = ALL_METHODS) -> list:
    """Tasks (id, name) having at least one job to prepare now, by id."""
    slots = active_timeslots(conn, now)
    statement = (
        select(tasks.c.id, tasks.c.name)
        .select_from(tasks.join(jobs, jobs.c.plugin_fusioninventory_tasks_id == tasks.c.id))
        .where(_task_filter(now, slots, task_id, methods))
        .group_by(tasks.c.id, tasks.c.name)
        .order_by(tasks.c.id)
    )
    return conn.execute(statement).all()


def _task_jobs(conn: Connection, now: datetime, task_id: int, methods: Iterable[str]) -> list:
    """The task's jobs to prepare, read again inside the task's transaction."""
    slots = active_timeslots(conn, now)
    statement = (
        select(jobs.c.id, jobs.c.plugin_fusioninventory_tasks_id, jobs.c.method, jobs.c.targets,
               jobs.c.actors, tasks.c.reprepare_if_successful)
        .select_from(tasks.join(jobs, jobs.c.plugin_fusioninventory_tasks_id == tasks.c.id))
        .where(_task_filter(now, slots, task_id, methods))
        .order_by(jobs.c.id)
    )
    return conn.execute(statement).all()


def _existing_runs(job, execution: executions.Execution | None):
    """Runs of the job that block a new run of their (target, agent): for a 9.5 task the
    plugin's rule; for a managed task scoped to its current execution."""
    if execution is not None:
        return executions.existing_runs_statement(job, execution)
    # A new run is not prepared next to one not over yet (nor next to a finished one, unless
    # the job asks to run again after a success).
    blocking = run_service.ACTIVE_OR_POSTPONED
    states = blocking if job.reprepare_if_successful else blocking + (int(State.FINISHED),)
    return (select(runs.c.id, runs.c.itemtype, runs.c.items_id,
                   runs.c.plugin_fusioninventory_agents_id.label("agent"), runs.c.state)
            .where(runs.c.plugin_fusioninventory_taskjobs_id == job.id, runs.c.state.in_(states)))


def prepare_job(conn: Connection, job, now: datetime, resolver: TargetResolver,
                report: TaskPreparation, execution: executions.Execution | None = None,
                places: Places | None = None, answering: set[int] | None = None) -> None:
    """Runs of one job. ``execution``: the managed task's current execution (None: 9.5
    rules), which scopes what blocks a pair, adds the retry step and holds back pairs the
    previous action is not done with; ``places``: the task pass's cache for ordering;
    ``answering``: in push mode, the pool agents whose /status answered (``probe_pools``).
    A balanced job's targets are split between its agents by ``balancing``."""
    when = to_second(now)
    settings = job_settings(conn, job.id)
    raw_targets = parse_item_list(job.targets)
    targets = resolver.resolve(job.method, raw_targets, job.id)
    pool = balancing.job_agents(conn, job, settings, targets, answering)
    if settings.balance and execution is not None:  # a balanced job always makes its task managed
        balancing.prepare_balanced(conn, job, settings, targets, pool, when, report, execution,
                                   places or Places(conn, resolver), raw_targets, insert_runs=insert_runs,
                                   cancel_runs=cancel_runs, agent_left=AGENT_LEFT, target_left=TARGET_LEFT)
        return
    agent_ids = set(pool)
    target_set = set(targets)

    blocked: dict[tuple[str, int], set[int]] = defaultdict(set)
    agent_left, target_left = [], []
    existing = conn.execute(_existing_runs(job, execution))
    for row in existing:
        target = (row.itemtype, row.items_id)
        if row.state in run_service.ACTIVE and target not in target_set:
            target_left.append(row.id)
        elif row.state in run_service.ACTIVE and row.agent not in agent_ids:
            agent_left.append(row.id)
        else:
            blocked[target].add(row.agent)
    report.cancelled += cancel_runs(conn, target_left, TARGET_LEFT, when)
    report.cancelled += cancel_runs(conn, agent_left, AGENT_LEFT, when)

    ordered_agents = sorted(agent_ids)
    pairs = []
    for target in targets:
        busy = blocked.get(target, ())
        for agent_id in ordered_agents:
            if agent_id in busy:
                report.skipped += 1
            else:
                pairs.append((target, agent_id))
    if execution is None:
        report.prepared += len(insert_runs(conn, job.id, pairs, when))
        return
    pairs = _execution_steps(conn, job, settings, execution, places or Places(conn, resolver), raw_targets,
                             target_set, agent_ids, pairs, now, report)
    report.prepared += len(insert_runs(conn, job.id, pairs, when, task_id=execution.task_id,
                                       execution_id=execution.execution_id))


def _execution_steps(conn: Connection, job, settings: JobSettings, execution: executions.Execution,
                     places: Places, raw_targets: list, target_set: set, agent_ids: set, pairs: list,
                     now: datetime, report: TaskPreparation) -> list:
    """A managed task's steps around the job's new pairs: the retry step (own runs; balanced
    jobs re-run failed slices through the balancing code instead), then ordering — the pairs
    the previous action is not done with are held back for a later pass. Returns the pairs to
    prepare now."""
    report.retried += executions.retry_failed_runs(conn, job, execution, settings, target_set, agent_ids,
                                                   now, insert_runs)
    hold = ordering_hold(conn, job, execution, settings, places, raw_targets, agent_ids, now)
    if hold is None:
        return pairs
    kept, held_items = [], set()
    for target, agent_id in pairs:
        if hold.holds(target, agent_id):
            held_items |= hold.held_items(target, agent_id)
        else:
            kept.append((target, agent_id))
    if held_items:
        report.held += len(pairs) - len(kept)
        execution.waiting += 1
        execution.held_items[job.id] = held_items
    return kept


def _prepare_task(conn: Connection, now: datetime, task_id: int, methods: tuple[str, ...],
                  entry: TaskPreparation, answering: dict[int, set[int]] | None = None) -> None:
    """One task's pass, inside its transaction. A managed task prepares its current execution;
    when that is over and its period has elapsed, the next one starts and is prepared too."""
    resolver = TargetResolver(conn)
    execution = executions.open_execution(conn, task_id, now)
    _prepare_jobs(conn, now, task_id, methods, entry, resolver, execution, answering)
    if execution is None:
        return
    entry.execution_ended, following = executions.close_pass(conn, execution, now)
    if following is not None:
        entry.execution_ended = None
        _prepare_jobs(conn, now, task_id, methods, entry, resolver, following, answering)


def _prepare_jobs(conn: Connection, now: datetime, task_id: int, methods: tuple[str, ...],
                  entry: TaskPreparation, resolver: TargetResolver,
                  execution: executions.Execution | None,
                  answering: dict[int, set[int]] | None = None) -> None:
    places = Places(conn, resolver)
    if execution is not None:
        entry.execution, entry.execution_started = execution.execution_id, execution.started_now
        # Runs another preparer made (GLPI's cron) join the execution or go, before any pair
        # is looked at: a pair the execution covers is never prepared, nor run, twice.
        entry.cancelled += settle_foreign_runs(conn, task_id, execution.execution_id, to_second(now)).cancelled
    entry.jobs = 0  # counted once when a new execution is prepared in the same pass
    for job in _task_jobs(conn, now, task_id, methods):
        entry.jobs += 1
        answered = None if answering is None else answering.get(job.id)
        if execution is None:  # the 9.5 call, unchanged
            prepare_job(conn, job, now, resolver, entry, answering=answered)
        else:
            prepare_job(conn, job, now, resolver, entry, execution, places, answering=answered)


def _probe_pools_first(engine: Engine, now: datetime, task_id: int | None, methods: tuple[str, ...],
                       backoff: TaskBackoff | None) -> dict[int, dict[int, set[int]] | None]:
    """task id -> ``balancing.probe_pools`` of the tasks eligible now, probed outside the
    preparation lock. A task that fails here is probed again under the lock, where its error
    is reported and backed off."""
    probed: dict[int, dict[int, set[int]] | None] = {}
    with engine.connect() as conn:
        with conn.begin():
            candidates = eligible_tasks(conn, now, task_id, methods)
        for task in candidates:
            if backoff is not None and not backoff.ready(task.id, now):
                continue
            try:
                probed[task.id] = balancing.probe_pools(engine, conn, task.id, methods, now=now)
            except Exception:  # noqa: BLE001 - retried (and reported) under the lock
                log.debug("probing the pools of task %s before the lock failed", task.id, exc_info=True)
    return probed


def prepare_runs(engine: Engine, now: datetime | None = None, task_id: int | None = None, *,
                 methods: Iterable[str] = ALL_METHODS, backoff: TaskBackoff | None = None,
                 lock_timeout: int = 30) -> PreparationReport:
    """One preparation pass over the tasks to prepare now (or only ``task_id``).

    Holds the database lock ``PREPARE_LOCK`` for the whole pass; when another preparer holds
    it longer than ``lock_timeout`` seconds the pass does nothing and reports ``busy``.
    Each task is one transaction; a task that raises is rolled back, reported, and — with a
    ``backoff`` — not tried again before its back-off delay. The pools of push tasks are
    probed before the lock is taken (``_probe_pools_first``), so other instances do not wait
    on agents' time-outs.
    """
    now = now or datetime.now()
    methods = tuple(methods)
    report = PreparationReport(now=now)
    started = time.monotonic()
    probed = _probe_pools_first(engine, now, task_id, methods, backoff)
    with engine.connect() as conn, try_lock(conn, PREPARE_LOCK, lock_timeout) as locked:
        if not locked:
            report.busy = True
            log.info("preparation skipped: another preparer holds the lock")
            return report
        with conn.begin():
            candidates = eligible_tasks(conn, now, task_id, methods)
        for task in candidates:
            entry = report.tasks[task.id] = TaskPreparation(task.id, task.name)
            if backoff is not None and not backoff.ready(task.id, now):
                entry.retry_at = backoff.retry_at(task.id)
                continue
            try:
                answering = (probed[task.id] if task.id in probed else
                             balancing.probe_pools(engine, conn, task.id, methods, now=now))  # outside a transaction
                with conn.begin():
                    _prepare_task(conn, now, task.id, methods, entry, answering)
            except Exception as error:  # noqa: BLE001 - one task must not stop the others
                entry.error = f"{type(error).__name__}: {error}"
                entry.prepared = entry.cancelled = entry.skipped = entry.held = entry.retried = 0
                entry.execution, entry.execution_started, entry.execution_ended = 0, False, None
                if backoff is not None:
                    entry.retry_at = backoff.failed(task.id, now)
                log.exception("preparation of task %s failed%s", task.id,
                              f"; next try at {entry.retry_at:%H:%M:%S}" if entry.retry_at else "")
            else:
                if backoff is not None:
                    backoff.succeeded(task.id)
    report.seconds = time.monotonic() - started
    if report.prepared or report.cancelled:
        log.info("prepared %d run(s), cancelled %d in %.2f s",
                 report.prepared, report.cancelled, report.seconds)
    return report
