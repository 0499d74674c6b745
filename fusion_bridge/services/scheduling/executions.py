"""Executions of a task (2.3.0's periodicity) and retries of failed runs, for the preparation pass.

A task is *managed* by the bridge when it has a ``glpi_plugin_fusionbridge_tasks`` row or one of
its actions has a ``glpi_plugin_fusionbridge_taskjobs`` row. Anything else is prepared exactly
as the 9.5 plugin does (no execution, no ``glpi_plugin_fusionbridge_runs`` row).

A managed task works in numbered executions (``execution_id``, 1 = the first, started at
``execution_start``); every run prepared for it carries its execution in the bridge's run row.
Within one execution each (action, target, agent) runs once, as in 2.3.0: a run of the current
execution that finished or failed blocks a new one (a failure is prepared again only by the
retry step below). With the 9.5 rule — a successful run is prepared again at the next pass —
an execution would never end. ``reprepare_if_successful = 0`` keeps its 9.5 meaning across
executions: a target that succeeded once is not run again. Live runs (0, 1, 2 and postponed 6,
which returns to 0) block whatever their execution, so a pair never has two live runs. A
cancelled run does not block, as in 9.5 (a task disabled and enabled again runs its pairs).
Ordering between the actions of a task is in ``execution_order``.

An execution is *over* when none of its runs is live and the pass left nothing waiting in it
(an action held back by ordering, a failed run waiting for its retry delay). Then a periodic
task starts the next execution once ``execution_start + period`` has passed (months are
calendar months); a non-periodic task stays in execution 1, where later passes only prepare
pairs that have no run in it yet (a computer that joined the group, an agent added to the
actors). The end of an execution is the date of its last run's last log line
(``execution_end``); ``execution_start`` is kept.

Retries (``retry_count``/``retry_delay`` of the action, 2.3.0's retry_nb/retry_time): a run of
the current execution in Error is prepared again on the same agent and target once
``retry_delay`` minutes have passed since its last log line, at most ``retry_count`` times
along its chain (``attempt`` 1, 2, …; ``previous_run`` = the failed run). Balanced actions are
left to the balancing code, which moves a failed slice to another agent.

Everything here runs inside the task's preparation transaction: a failure rolls the whole
pass of the task back, the execution counter included. Starting an execution is a conditional
UPDATE on the number read under a row lock, so two preparers can never start the same one.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

import schema
from fusion_bridge.services.runs import ACTIVE_OR_POSTPONED, FINISHED_OR_FAILED, log_row
from fusion_bridge.services.admin.task_settings import JobSettings, TaskSettings
from schema.constants import TaskjobLogState as Log, TaskjobState as State

log = logging.getLogger(__name__)

runs = schema.taskjobstates
logs = schema.taskjoblogs
jobs = schema.taskjobs
bridge_tasks = schema.bridge_tasks
bridge_jobs = schema.bridge_taskjobs
bridge_runs = schema.bridge_runs
BRIDGE_RUN = bridge_runs.c.plugin_fusioninventory_taskjobstates_id  # the run a bridge row is about
RUN_AGENT = runs.c.plugin_fusioninventory_agents_id


class ExecutionConflict(RuntimeError):
    """Another preparer changed the task's execution meanwhile; this task's pass is rolled back."""


@dataclass
class Execution:
    """The current execution of a managed task during one preparation pass."""

    task_id: int
    execution_id: int
    start: datetime | None
    settings: TaskSettings
    started_now: bool = False
    # Work of this execution the pass left for later: pairs held by ordering, retries waiting
    # for their delay. While non-zero the execution is not over.
    waiting: int = 0
    # Items each action was held on in this pass (job id -> items), so that the next action
    # waits for them too (ordering is transitive along the task's actions).
    held_items: dict[int, set] = field(default_factory=dict)


def add_period(start: datetime, count: int, unit: str) -> datetime:
    """``start`` + ``count`` minutes/hours/days, or calendar months (Jan 31 + 1 month = Feb 28/29);
    ``datetime.max`` past the calendar's end (a period written by hand in the table)."""
    try:
        if unit == "months":
            months = start.month - 1 + count
            year, month = start.year + months // 12, months % 12 + 1
            return start.replace(year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1]))
        return start + timedelta(**{unit: count})
    except (OverflowError, ValueError, TypeError):  # TypeError: an unknown unit
        return datetime.max


def next_start(execution: Execution) -> datetime | None:
    """When a periodic task may start its next execution; None when it is not periodic."""
    settings = execution.settings
    if not settings.periodic:
        return None
    if execution.start is None:  # counter set without a date (edited by hand): due now
        return datetime.min
    return add_period(execution.start, settings.periodicity_count, settings.periodicity_type)


def _jobs_have_settings(conn: Connection, task_id: int) -> bool:
    statement = select(bridge_jobs.c.plugin_fusioninventory_taskjobs_id).select_from(
        bridge_jobs.join(jobs, jobs.c.id == bridge_jobs.c.plugin_fusioninventory_taskjobs_id)
    ).where(jobs.c.plugin_fusioninventory_tasks_id == task_id).limit(1)
    return conn.execute(statement).first() is not None


def _start_execution(conn: Connection, task_id: int, current: int, now: datetime) -> None:
    changed = conn.execute(
        update(bridge_tasks)
        .where(bridge_tasks.c.plugin_fusioninventory_tasks_id == task_id,
               bridge_tasks.c.execution_id == current)
        .values(execution_id=current + 1, execution_start=now.replace(microsecond=0))
    ).rowcount
    if changed != 1:
        raise ExecutionConflict(f"task {task_id}: execution {current} was changed by another preparer")
    log.info("task %s: execution %s started", task_id, current + 1)


def open_execution(conn: Connection, task_id: int, now: datetime) -> Execution | None:
    """The task's current execution (started now when it never ran), None for a 9.5 task.

    Locks the task's bridge row until the end of the transaction; writes a default row (pull,
    not periodic) for a task managed only through its actions' settings.
    """
    key = bridge_tasks.c.plugin_fusioninventory_tasks_id
    # Looked up without a lock first: a 9.5 task must not take InnoDB gap locks on the table.
    if conn.execute(select(key).where(key == task_id)).first() is None:
        if not _jobs_have_settings(conn, task_id):
            return None
        conn.execute(insert(bridge_tasks).values(plugin_fusioninventory_tasks_id=task_id))
    # Settings from the locked row itself: on InnoDB a plain SELECT could still return the
    # transaction's older snapshot, taken before another preparer's commit.
    row = conn.execute(select(bridge_tasks).where(key == task_id).with_for_update()).first()
    settings = TaskSettings(**{f.name: row._mapping[f.name] for f in fields(TaskSettings)})
    if settings.execution_id > 0:
        return Execution(task_id, settings.execution_id, settings.execution_start, settings)
    return _started(conn, task_id, settings, now)


def _started(conn: Connection, task_id: int, settings: TaskSettings, now: datetime) -> Execution:
    """The next execution after ``settings.execution_id``, started now."""
    _start_execution(conn, task_id, settings.execution_id, now)
    start = now.replace(microsecond=0)
    settings = replace(settings, execution_id=settings.execution_id + 1, execution_start=start)
    return Execution(task_id, settings.execution_id, start, settings, started_now=True)


def _execution_runs(execution: Execution):
    return and_(bridge_runs.c.plugin_fusioninventory_tasks_id == execution.task_id,
                bridge_runs.c.execution_id == execution.execution_id)


def execution_live(conn: Connection, execution: Execution) -> bool:
    """Whether a run of the execution is still live (or postponed)."""
    statement = (
        select(runs.c.id)
        .select_from(bridge_runs.join(runs, runs.c.id == BRIDGE_RUN))
        .where(_execution_runs(execution), runs.c.state.in_(ACTIVE_OR_POSTPONED))
        .limit(1)
    )
    return conn.execute(statement).first() is not None


def execution_end(conn: Connection, task_id: int, execution_id: int) -> datetime | None:
    """Date of the last log line of the execution's runs (None when it has no run)."""
    statement = (
        select(func.max(logs.c.date))
        .select_from(bridge_runs.join(logs, logs.c.plugin_fusioninventory_taskjobstates_id == BRIDGE_RUN))
        .where(bridge_runs.c.plugin_fusioninventory_tasks_id == task_id,
               bridge_runs.c.execution_id == execution_id)
    )
    return conn.execute(statement).scalar()


def close_pass(conn: Connection, execution: Execution,
               now: datetime) -> tuple[datetime | None, Execution | None]:
    """After the task's actions were prepared: (end of the execution if it is over, the next
    execution when one starts now — to be prepared in the same transaction)."""
    if execution.waiting or execution_live(conn, execution):
        return None, None
    ended = execution_end(conn, execution.task_id, execution.execution_id) or execution.start
    due = next_start(execution)
    if due is None or now < due:
        return ended, None
    log.info("task %s: execution %s ended at %s", execution.task_id, execution.execution_id, ended)
    return ended, _started(conn, execution.task_id, execution.settings, now)


# ---------------------------------------------------------------------------------------------
# What blocks a new run of a managed task's action


def existing_runs_statement(job, execution: Execution):
    """Runs of the job that block a new run of their (target, agent) in ``execution``, with the
    live ones among them (cancelled by the caller when their agent or target left)."""
    blocking = [runs.c.state.in_(ACTIVE_OR_POSTPONED),
                and_(runs.c.state.in_(FINISHED_OR_FAILED), _execution_runs(execution))]
    if not job.reprepare_if_successful:
        blocking.append(runs.c.state == int(State.FINISHED))
    return (
        select(runs.c.id, runs.c.itemtype, runs.c.items_id, RUN_AGENT.label("agent"), runs.c.state)
        .select_from(runs.outerjoin(bridge_runs, BRIDGE_RUN == runs.c.id))
        .where(runs.c.plugin_fusioninventory_taskjobs_id == job.id, or_(*blocking))
    )


# ---------------------------------------------------------------------------------------------
# Retries of failed runs


@dataclass(frozen=True)
class FailedRun:
    run_id: int
    target: tuple[str, int]
    agent_id: int
    attempt: int
    failed_at: datetime | None
    specificity: str | None
    slice_first: int | None
    slice_count: int | None


def retryable_failures(conn: Connection, job_id: int, execution: Execution,
                       settings: JobSettings) -> list[FailedRun]:
    """Runs of the job in Error in ``execution`` that the retry step may prepare again.
    Empty for balanced actions: their failed slices move to another agent (balancing code)."""
    if settings.balance or settings.retry_count <= 0:
        return []
    return failed_chain_ends(conn, job_id, execution, settings.retry_count)


def failed_chain_ends(conn: Connection, job_id: int, execution: Execution,
                      max_attempts: int) -> list[FailedRun]:
    """Runs of the job in Error in ``execution`` that nothing has replaced yet (no run names
    them as ``previous_run``) and whose ``attempt`` is below ``max_attempts``, by id.

    The seam for re-running failures elsewhere too: the balancing code may call it with
    ``slice_retries`` and prepare each slice on another agent through ``insert_runs`` with
    ``attempt + 1`` and ``previous_run``; what it leaves for a later pass should be added to
    ``execution.waiting`` so the execution is not taken as over."""
    successor = aliased(bridge_runs)
    columns = (runs.c.id, runs.c.itemtype, runs.c.items_id, RUN_AGENT, runs.c.specificity,
               bridge_runs.c.attempt, bridge_runs.c.slice_first, bridge_runs.c.slice_count)
    statement = (
        select(*columns, func.max(logs.c.date).label("failed_at"))
        .select_from(runs.join(bridge_runs, BRIDGE_RUN == runs.c.id)
                     .outerjoin(logs, logs.c.plugin_fusioninventory_taskjobstates_id == runs.c.id))
        .where(runs.c.plugin_fusioninventory_taskjobs_id == job_id, runs.c.state == int(State.IN_ERROR),
               _execution_runs(execution), bridge_runs.c.attempt < max_attempts,
               ~exists().where(successor.c.previous_run == runs.c.id))
        .group_by(*columns)
        .order_by(runs.c.id)
    )
    return [FailedRun(row.id, (row.itemtype, row.items_id), row.plugin_fusioninventory_agents_id,
                      row.attempt, row.failed_at, row.specificity, row.slice_first, row.slice_count)
            for row in conn.execute(statement)]


def retry_comment(attempt: int, retry_count: int, failed: FailedRun) -> str:
    comment = f"Retry #{attempt} of {retry_count} of run {failed.run_id}"
    return f"{comment} (failed at {failed.failed_at:%Y-%m-%d %H:%M:%S})" if failed.failed_at else comment


def retry_failed_runs(conn: Connection, job, execution: Execution, settings: JobSettings,
                      targets: set, agent_ids: set, now: datetime, insert_runs) -> int:
    """Prepare the due retries of the job's failed runs; count the ones still waiting on the
    execution. A failure whose target or agent left the action, or whose pair has a live run
    again (restarted from GLPI's UI), is not retried. ``insert_runs`` is preparation's."""
    failures = retryable_failures(conn, job.id, execution, settings)
    if not failures:
        return 0
    live = select(runs.c.itemtype, runs.c.items_id, RUN_AGENT.label("agent")).where(
        runs.c.plugin_fusioninventory_taskjobs_id == job.id, runs.c.state.in_(ACTIVE_OR_POSTPONED))
    live_pairs = {((row.itemtype, row.items_id), row.agent) for row in conn.execute(live)}
    delay = timedelta(minutes=settings.retry_delay)
    due: list[FailedRun] = []
    for failed in failures:
        if failed.target not in targets or failed.agent_id not in agent_ids or \
                (failed.target, failed.agent_id) in live_pairs:
            continue
        if failed.failed_at is not None and failed.failed_at + delay > now:
            execution.waiting += 1
            continue
        due.append(failed)
    if not due:
        return 0
    when = now.replace(microsecond=0)
    details = [{"attempt": failed.attempt + 1, "previous_run": failed.run_id,
                "specificity": failed.specificity, "slice_first": failed.slice_first,
                "slice_count": failed.slice_count} for failed in due]
    new_ids = insert_runs(conn, job.id, [(failed.target, failed.agent_id) for failed in due], when, details,
                          task_id=execution.task_id, execution_id=execution.execution_id)
    conn.execute(insert(logs), [
        log_row(run_id, Log.INFO, retry_comment(failed.attempt + 1, settings.retry_count, failed), when)
        for run_id, failed in zip(new_ids, due)
    ])
    return len(new_ids)
