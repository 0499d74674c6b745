"""Push mode: wake the agents of a task's runs at the task's start, again when they stay silent,
then give up with a reason; and GLPI's wake-up counter of pull tasks.

``push_pass`` is run by the scheduler right after preparation (and by ``fusion-bridge wakeup
--task``). One pass:

1. **Claim** (one transaction, under the database lock ``PUSH_LOCK``): for every task with
   ``communication = push`` (``glpi_plugin_fusionbridge_tasks``), active, inside its schedule
   window (the plugin's: start only → from the start; start and end → between; neither →
   always; end only → never) and its execution timeslot, read its runs in state Prepared with
   their ``glpi_plugin_fusionbridge_runs`` row:

   * never pushed (no row, or ``pushes`` = 0): woken now;
   * pushed, still Prepared ``push_timeout`` seconds after ``pushed_at``: woken again while
     ``pushes <= push_retries`` (so ``1 + push_retries`` wake-ups in all), else set to Error
     with the reason and the last attempt's outcome.

   A woken run gets ``pushes + 1`` and ``pushed_at``; the update is conditional on the
   ``pushes`` value read, so a run is never claimed by two passes (on MariaDB the lock already
   serialises passes of several instances; on SQLite every write transaction is serialised).
2. **Wake** (no transaction open, lock released): ``wakeup.wake_agents`` with each agent's
   claimed runs, ``wakeup_concurrency`` connections in flight at most. Every attempt lands in
   ``glpi_plugin_fusionbridge_wakeups`` and as an Info line in the runs' history (woken,
   unreachable, busy, refused), which GLPI's UI shows.
3. ``pushed_at`` is moved to the attempt's own time, so a long wave does not eat into the
   agents' ``push_timeout``.

GLPI's ``wakeup_agent_counter`` / ``wakeup_agent_time`` (minutes) of the task keep their
meaning (docs/plugin-semantics.md §11):

* **pull tasks** with both > 0: every ``wakeup_agent_time`` minutes (``last_agent_wakeup``,
  claimed conditionally before waking), at most ``min(counter, wakeup_agent_max)`` agents
  having Prepared runs of the task are woken — like the plugin's ``wakeupAgents`` cron, agents
  that do not wait (busy, unreachable) do not count, and the next ones are tried, up to
  ``PULL_PROBE_FACTOR`` × that number of probes; but probes run concurrently and outside any
  transaction, and never in a request worker.
* **push tasks** with both > 0: the counter caps the agents of each *wave*: every
  ``wakeup_agent_time`` minutes at most ``min(counter, wakeup_agent_max)`` agents not yet
  pushed are woken (first come first served, by run id). Re-wakes of pushed runs are not
  capped (they belong to an earlier wave). With either value 0 the whole task is pushed at
  once, bounded only by the wake-up concurrency.

``wakeup_agent_max`` is the plugin's configuration value (10 at install).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db import try_lock
from fusion_bridge.services.push import wakeup
from fusion_bridge.services.scheduling.actors import chunks
from fusion_bridge.services.scheduling.executions import add_period
from fusion_bridge.services.scheduling.foreign_runs import settle_foreign_runs
from fusion_bridge.services import runs as run_service
from fusion_bridge.services.admin.task_settings import TaskSettings
from fusion_bridge.domain.text import to_second
from fusion_bridge.services.push.wakeup_counter import (
    Contended,
    claim_wave,
    exec_slot_open,
    in_window,
    pull_waves,
    run_wave,
    wakeup_agent_max,
    wave_size,
)
from schema.constants import TaskjobState as State

log = logging.getLogger(__name__)

tasks, jobs, runs = schema.tasks, schema.taskjobs, schema.taskjobstates
bridge_tasks, bridge_runs = schema.bridge_tasks, schema.bridge_runs
bridge_key = bridge_runs.c.plugin_fusioninventory_taskjobstates_id

PUSH_LOCK = "fusion-bridge:push"


@dataclass
class PushReport:
    now: datetime
    busy: bool = False  # another pass held the lock, or claimed the same runs: nothing done
    first: int = 0  # runs whose agent was woken for the first time
    again: int = 0  # runs whose agent was woken again after its push_timeout
    failed: list[int] = field(default_factory=list)  # runs set to Error after the last wake-up
    waves: dict[int, int] = field(default_factory=dict)  # pull task -> agents woken by its counter
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(wakeup.OUTCOMES, 0))
    max_in_flight: int = 0
    next_due: datetime | None = None  # when a pushed run's time-out or the next wave falls due
    seconds: float = 0.0

    @property
    def agents(self) -> int:
        return sum(self.outcomes.values())

    def add(self, wake: wakeup.WakeReport) -> None:
        for outcome, count in wake.counts().items():
            self.outcomes[outcome] += count
        self.max_in_flight = max(self.max_in_flight, wake.max_in_flight)

    def due(self, when: datetime | None) -> None:
        if when is not None and (self.next_due is None or when < self.next_due):
            self.next_due = when

    def lines(self) -> list[str]:
        if self.busy:
            return ["push: another pass is pushing; nothing done"]
        counts = ", ".join(f"{self.outcomes[o]} {o}" for o in wakeup.OUTCOMES)
        out = [f"push: {self.first} run(s) pushed, {self.again} pushed again, {len(self.failed)} failed "
               f"after their last wake-up; {self.agents} agent(s) probed ({counts}), "
               f"{self.seconds:.2f} s"]
        out.extend(f"  pull task {task}: {woken} agent(s) woken (wakeup_agent_counter)"
                   for task, woken in self.waves.items())
        if self.next_due is not None:
            out.append(f"  next push time-out or wave due at {self.next_due:%Y-%m-%d %H:%M:%S}")
        return out


@dataclass
class _Task:
    id: int
    timeout: timedelta
    retries: int
    execution_id: int
    cap: int  # agents per wave, 0 = no cap
    every: timedelta | None  # between waves (None = no waves)
    last_wave: datetime | None


def _push_tasks(conn: Connection, now: datetime, task_id: int | None, force: bool,
                agent_max: int) -> list[_Task]:
    defaults = TaskSettings()
    statement = (
        select(tasks.c.id, tasks.c.wakeup_agent_counter, tasks.c.wakeup_agent_time, tasks.c.last_agent_wakeup,
               bridge_tasks.c.push_timeout, bridge_tasks.c.push_retries, bridge_tasks.c.execution_id)
        .select_from(tasks.outerjoin(bridge_tasks,
                                     bridge_tasks.c.plugin_fusioninventory_tasks_id == tasks.c.id))
        .order_by(tasks.c.id)
    )
    if force:
        statement = statement.where(tasks.c.id == task_id)
    else:
        statement = statement.where(bridge_tasks.c.communication == "push", tasks.c.is_active == 1,
                                    in_window(now), exec_slot_open(conn, now))
        if task_id is not None:
            statement = statement.where(tasks.c.id == task_id)
    found = []
    for row in conn.execute(statement):
        cap, every = (0, None) if force else wave_size(row.wakeup_agent_counter, row.wakeup_agent_time,
                                                       agent_max)
        timeout = row.push_timeout if row.push_timeout is not None else defaults.push_timeout
        retries = row.push_retries if row.push_retries is not None else defaults.push_retries
        found.append(_Task(row.id, timedelta(seconds=max(1, timeout)), retries, row.execution_id or 0,
                           cap, every, row.last_agent_wakeup))
    return found


def _prepared_runs(conn: Connection, task_ids: list[int], now: datetime) -> dict[int, list]:
    """Task id -> its Prepared runs (id, agent, known, pushes, pushed_at), by run id; not those
    postponed to a later ``date_start`` (a deploy the user put off): the agent would not get
    them before then, and waking it meanwhile would only wear its push retries out."""
    found: dict[int, list] = defaultdict(list)
    for part in chunks(task_ids):
        rows = conn.execute(
            select(runs.c.id, runs.c.plugin_fusioninventory_agents_id.label("agent"),
                   jobs.c.plugin_fusioninventory_tasks_id.label("task"),
                   bridge_runs.c.plugin_fusioninventory_taskjobstates_id.label("known"),
                   bridge_runs.c.pushes, bridge_runs.c.pushed_at)
            .select_from(runs.join(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id)
                         .outerjoin(bridge_runs, bridge_key == runs.c.id))
            .where(jobs.c.plugin_fusioninventory_tasks_id.in_(list(part)),
                   runs.c.state == int(State.PREPARED), runs.c.plugin_fusioninventory_agents_id > 0,
                   or_(runs.c.date_start.is_(None), runs.c.date_start <= now))
            .order_by(runs.c.id)
        )
        for row in rows:
            found[row.task].append(row)
    return found


def _first_agents(rows: list, cap: int) -> list:
    """The runs of the first ``cap`` distinct agents, in run order."""
    chosen: set[int] = set()
    kept = []
    for row in rows:
        if row.agent not in chosen:
            if len(chosen) >= cap:
                continue
            chosen.add(row.agent)
        kept.append(row)
    return kept


def _bump(conn: Connection, task: _Task, rows: list, now: datetime) -> None:
    """pushes + 1 and pushed_at for ``rows``, conditional on the pushes value read."""
    new = [{"plugin_fusioninventory_taskjobstates_id": row.id, "plugin_fusioninventory_tasks_id": task.id,
            "execution_id": task.execution_id, "pushes": 1, "pushed_at": now}
           for row in rows if row.known is None]
    for part in chunks(new):
        conn.execute(insert(bridge_runs), list(part))
    by_pushes: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        if row.known is not None:
            by_pushes[row.pushes or 0].append(row.id)
    for pushes, ids in by_pushes.items():
        for part in chunks(ids):
            result = conn.execute(update(bridge_runs)
                                  .where(bridge_key.in_(list(part)), bridge_runs.c.pushes == pushes)
                                  .values(pushes=pushes + 1, pushed_at=now))
            if result.rowcount != len(part):
                raise Contended("runs claimed by another pass")


def _last_attempts(conn: Connection, agent_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """Agent id -> (outcome, detail) of its last wake-up attempt."""
    table = schema.bridge_wakeups
    found = {}
    for part in chunks(sorted(set(agent_ids))):
        agent = table.c.plugin_fusioninventory_agents_id
        newest = (select(func.max(table.c.id).label("id")).where(agent.in_(list(part)))
                  .group_by(agent).subquery())
        for row in conn.execute(select(agent, table.c.outcome, table.c.detail)
                                .join(newest, newest.c.id == table.c.id)):
            found[row.plugin_fusioninventory_agents_id] = (row.outcome, row.detail or "")
    return found


def give_up_reason(wakes: int, timeout: timedelta, last: tuple[str, str] | None) -> str:
    seconds = int(timeout.total_seconds())
    tail = f" (last: {last[0]}: {last[1]})" if last else ""
    return (f"Push failed: the agent did not take the run within {seconds} s of each of its "
            f"{wakes} wake-up(s){tail}")


def _give_up(conn: Connection, rows: list, timeouts: dict[int, timedelta], now: datetime) -> list[int]:
    """Prepared runs → Error with the reason; only runs still Prepared (an agent may have just
    taken one)."""
    last = _last_attempts(conn, [row.agent for row in rows])
    by_id = {row.id: row for row in rows}
    return run_service.move_many(
        conn, by_id, run_service.Move.FAIL, now,
        lambda run_id: give_up_reason(by_id[run_id].pushes, timeouts[run_id], last.get(by_id[run_id].agent)),
        items_id=lambda run_id: by_id[run_id].agent, only_from=(State.PREPARED,))


@dataclass
class _Claim:
    wake: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # agent -> runs
    timeouts: dict[int, timedelta] = field(default_factory=dict)  # run -> its task's push_timeout


def _claim(conn: Connection, now: datetime, task_id: int | None, force: bool, agent_max: int,
           report: PushReport) -> _Claim:
    claim = _Claim()
    found = _push_tasks(conn, now, task_id, force, agent_max)
    for task in found:
        if task.execution_id:  # runs another preparer made since: adopted or cancelled first
            settle_foreign_runs(conn, task.id, task.execution_id, to_second(now))
    prepared = _prepared_runs(conn, [task.id for task in found], now)
    give_up: list = []
    pushed_tasks: list[_Task] = []
    for task in found:
        rows = prepared.get(task.id, [])
        fresh = [row for row in rows if force or not row.pushes]
        due, waiting = [], []
        for row in rows:
            if row.pushes and not force:
                (due if row.pushed_at is None or row.pushed_at + task.timeout <= now else waiting).append(row)
        for row in waiting:
            report.due(row.pushed_at + task.timeout)
        again = [row for row in due if row.pushes <= task.retries]
        give_up.extend(row for row in due if row.pushes > task.retries)
        if fresh and task.every is not None:
            if task.last_wave is not None and now < task.last_wave + task.every:
                report.due(task.last_wave + task.every)
                fresh = []
            else:
                kept = _first_agents(fresh, task.cap)
                if len(kept) < len(fresh):
                    report.due(now + task.every)
                fresh = kept
                claim_wave(conn, task.id, task.last_wave, now)
        _bump(conn, task, fresh + again, now)
        report.first += len(fresh)
        if fresh:
            pushed_tasks.append(task)
        report.again += len(again)
        for row in fresh + again:
            claim.wake[row.agent].append(row.id)
            claim.timeouts[row.id] = task.timeout
        for row in due:
            claim.timeouts[row.id] = task.timeout
    if give_up:
        report.failed = _give_up(conn, give_up, claim.timeouts, now)
    for task in pushed_tasks:
        conn.execute(update(bridge_tasks).where(bridge_tasks.c.plugin_fusioninventory_tasks_id == task.id)
                     .values(last_push=task.execution_id))
    return claim


# ---------------------------------------------------------------------------------------------
# The pass


def _record_attempt_times(engine: Engine, results: list[wakeup.WakeResult], claim: _Claim,
                          report: PushReport) -> None:
    """``pushed_at`` = the time of the agent's own attempt (a long wave must not shorten the
    agents' ``push_timeout``); the earliest time-out then falls due at ``report.next_due``."""
    by_date: dict[datetime, list[int]] = defaultdict(list)
    for result in results:
        when = to_second(result.date)
        for run_id in claim.wake.get(result.agent_id, ()):
            by_date[when].append(run_id)
            report.due(when + claim.timeouts[run_id])
    with engine.begin() as conn:
        for when, run_ids in by_date.items():
            for part in chunks(run_ids):
                conn.execute(update(bridge_runs).where(bridge_key.in_(list(part))).values(pushed_at=when))


def push_pass(engine: Engine, now: datetime | None = None, *, task_id: int | None = None, force: bool = False,
              concurrency: int = wakeup.DEFAULT_CONCURRENCY, status_timeout: float = wakeup.STATUS_TIMEOUT,
              now_timeout: float = wakeup.NOW_TIMEOUT, lock_timeout: int = 0,
              agent_max: int | None = None) -> PushReport:
    """One push pass (see the module's docstring); only ``task_id`` when given.

    ``force`` (with a ``task_id``): wake the agents of every Prepared run of that task now,
    whatever its communication, schedule, timeslot or waves (``fusion-bridge wakeup --task``);
    nothing is failed. ``agent_max`` overrides the plugin's ``wakeup_agent_max``. When another
    pass holds the lock longer than ``lock_timeout`` seconds, this one does nothing (``busy``).
    """
    if force and task_id is None:
        raise ValueError("force needs a task_id")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    moment = now or datetime.now()
    now = to_second(moment)
    started = time.monotonic()
    report = PushReport(now=now)
    with engine.connect() as conn, try_lock(conn, PUSH_LOCK, lock_timeout) as locked:
        if not locked:
            report.busy = True
            return report
        try:
            with conn.begin():
                limit = agent_max if agent_max is not None else wakeup_agent_max(conn)
                claim = _claim(conn, now, task_id, force, limit, report)
                waves = [] if force else pull_waves(conn, now, task_id, limit)
        except Contended as contended:
            log.info("push pass skipped: %s", contended)
            return PushReport(now=now, busy=True)
    # Committed and unlocked: the HTTP probes hold neither a transaction nor the lock.
    options = {"concurrency": concurrency, "status_timeout": status_timeout, "now_timeout": now_timeout,
               "clock": lambda: moment + timedelta(seconds=time.monotonic() - started)}
    if claim.wake:
        result = wakeup.wake_agents(engine, list(claim.wake), run_ids=claim.wake, **options)
        report.add(result)
        _record_attempt_times(engine, result.results, claim, report)
    for wave in waves:
        report.waves[wave.task_id] = run_wave(engine, wave, set(claim.wake), report, options)
    report.seconds = time.monotonic() - started
    if report.first or report.again or report.failed or report.waves:
        log.info("%s", "; ".join(report.lines()))
    return report


def next_push_start(conn: Connection, after: datetime) -> datetime | None:
    """The earliest start later than ``after`` of an active push task (what the scheduler waits
    for): its ``datetime_start``, or for a periodic task the start its next execution is due at
    (``execution_start`` + the period), so every execution is pushed at its start, not only the
    first. A due start whose execution is not over yet is not waited for again: the execution
    then starts at the first pass after its end."""
    push_task = and_(bridge_tasks.c.communication == "push", tasks.c.is_active == 1)
    with_bridge = tasks.join(bridge_tasks, bridge_tasks.c.plugin_fusioninventory_tasks_id == tasks.c.id)
    starts = [conn.execute(
        select(func.min(tasks.c.datetime_start)).select_from(with_bridge)
        .where(push_task, tasks.c.datetime_start > after)
    ).scalar()]
    periodic = conn.execute(
        select(bridge_tasks.c.execution_start, bridge_tasks.c.periodicity_count, bridge_tasks.c.periodicity_type)
        .select_from(with_bridge)
        .where(push_task, bridge_tasks.c.periodicity_count > 0, bridge_tasks.c.execution_start.is_not(None))
    )
    for row in periodic:
        starts.append(add_period(row.execution_start, row.periodicity_count, row.periodicity_type))
    return min((start for start in starts if start is not None and start > after), default=None)
