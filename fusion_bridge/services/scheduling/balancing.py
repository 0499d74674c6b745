"""Dynamic agent pools and load balancing of a job (issue 4; the 2.3.0 design on today's schema).

Pools (job setting ``pool``): the job's agents are its listed actors plus every agent allowed to
run its module (``module``) or every agent with an address in its targets' subnets
(``subnet``), evaluated at each preparation pass. Agents already holding a live run of the job
come first (a pool does not drop an agent in the middle of its work just because others called
in since), then the listed actors, then the others most recently seen first; the list is capped
at ``pool_max_agents``. In push mode only agents whose ``/status`` answers are kept: they are
probed by ``probe_pools`` *before* the task's transaction, never inside it.

Balancing (job setting ``balance``): instead of every agent doing every target, the N agents
share the work. An IP range of a discovery is cut into min(N, size) contiguous slices of nearly
equal address counts, one run per slice (``specificity`` "<first offset>-<count>", with the
slice in the run's ``glpi_plugin_fusionbridge_runs`` row); the other targets (computers of a
Wake-on-LAN, devices of an SNMP inventory) are dealt in N chunks of ceil(#/N), one run per item.
Within a task execution a target is split once: later passes leave live and finished units
alone. A unit whose newest run failed, or was cancelled by a time-out or because its agent left
the pool, is prepared again on another agent of the pool (``attempt`` + 1, ``previous_run`` =
the failed run), at most ``slice_retries`` times (it waits while the pool has no other agent);
then the failed run gets one Error line saying the unit could not be covered. So the target
ends covered exactly once by successful units.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.domain import slices
from fusion_bridge.services.push import wakeup
from fusion_bridge.services.scheduling.order import OrderingHold, Places, ordering_hold
from fusion_bridge.services.scheduling.executions import Execution, add_period
from fusion_bridge.services.scheduling.actors import agents_for_actors, module_pool, select_in, subnet_pool
from fusion_bridge.services.runs import ACTIVE, ACTIVE_OR_POSTPONED, FAILED_OR_CANCELLED, log_row, parse_item_list
from fusion_bridge.services.scheduling.targets import TargetResolver, range_bounds, target_networks
from fusion_bridge.services.admin.task_settings import JobSettings, job_settings, task_settings
from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State

log = logging.getLogger(__name__)

runs = schema.taskjobstates
logs = schema.taskjoblogs
bridge_runs = schema.bridge_runs

NOT_COVERED = "could not be covered"
# Comments of cancellations that mean "the work was not done, do it elsewhere" (a user's
# cancellation, e.g. "Task has been disabled", is respected).
_RETRYABLE_CANCEL = ("timeout", "timed out", "no message from the agent", "did not call",
                     "no longer defined in definition of job")
# Cancelled at hand-out because the agent called outside the task's execution timeslot or
# schedule (preparation follows the preparation timeslot): nothing went wrong with the slice or
# its agent, so it is offered again to the same agent without counting as a retry, as 9.5
# prepares a cancelled run again.
_REOFFERED_CANCEL = ("due to the task's timeslot", "due to the task's schedule")


# ---------------------------------------------------------------------------------------------
# Pools


def _busy_agents(conn: Connection, job_id: int) -> set[int]:
    """Agents holding a live (or postponed) run of the job."""
    return set(conn.execute(
        select(runs.c.plugin_fusioninventory_agents_id)
        .where(runs.c.plugin_fusioninventory_taskjobs_id == job_id, runs.c.state.in_(ACTIVE_OR_POSTPONED)).distinct()
    ).scalars())


def pool_candidates(conn: Connection, job, settings: JobSettings,
                    targets: list[tuple[str, int]]) -> tuple[list[int], set[int]]:
    """(the job's agents before the push filter and the cap, in preference order; those of them
    at work on the job)."""
    listed = sorted(agents_for_actors(conn, parse_item_list(job.actors)))
    if settings.pool == "module":
        dynamic = module_pool(conn, job.method)
    elif settings.pool == "subnet":
        dynamic = subnet_pool(conn, target_networks(conn, targets))
    else:
        return listed, set()
    busy = _busy_agents(conn, job.id)
    ordered = list(dict.fromkeys(listed + dynamic))
    return [a for a in ordered if a in busy] + [a for a in ordered if a not in busy], busy & set(ordered)


def job_agents(conn: Connection, job, settings: JobSettings, targets: list[tuple[str, int]],
               answering: set[int] | None = None) -> list[int]:
    """The agents of the job: 9.5's listed actors (sorted) without a pool; with one, the pool
    in preference order, kept (push mode) to agents at work on the job (the push time-out
    deals with those that stopped) and agents whose /status answered, and capped."""
    agents, busy = pool_candidates(conn, job, settings, targets)
    if not settings.pool:
        return agents
    if answering is not None:
        agents = [a for a in agents if a in busy or a in answering]
    if settings.pool_max_agents > 0:
        agents = agents[:settings.pool_max_agents]
    return agents


def probe_pools(engine: Engine, conn: Connection, task_id: int, methods: Iterable[str], *,
                now: datetime | None = None, concurrency: int = wakeup.DEFAULT_CONCURRENCY,
                timeout: float = wakeup.STATUS_TIMEOUT) -> dict[int, set[int]] | None:
    """For a push task: job id -> the pool agents whose ``/status`` answers, probed in
    preference order until the cap is reached. None for a pull task.

    A balanced job whose current execution has every target covered and nothing to move
    (``_settled``) is not probed: its agents at work are all it needs (an empty answer keeps
    just them), so a pool of unreachable agents does not cost every pass its time-outs.
    Reads in its own short transaction and probes outside any transaction: the caller then
    opens the task's transaction and passes the answer to ``prepare_job``."""
    with conn.begin():
        task = task_settings(conn, task_id)
        if not task.push:
            return None
        rows = conn.execute(
            select(schema.taskjobs.c.id, schema.taskjobs.c.method, schema.taskjobs.c.targets,
                   schema.taskjobs.c.actors)
            .where(schema.taskjobs.c.plugin_fusioninventory_tasks_id == task_id,
                   schema.taskjobs.c.method.in_(list(methods)))
            .order_by(schema.taskjobs.c.id)
        ).all()
        resolver = TargetResolver(conn)
        candidates: dict[int, tuple[list[int], int]] = {}
        for job in rows:
            settings = job_settings(conn, job.id)
            if settings.pool:
                targets = resolver.resolve(job.method, parse_item_list(job.targets), job.id)
                if _settled(conn, job.id, settings, targets, task, now):
                    candidates[job.id] = ([], 0)
                    continue
                ordered, busy = pool_candidates(conn, job, settings, targets)
                cap = settings.pool_max_agents
                # Agents at work stay without a probe; the others are probed to fill the cap.
                candidates[job.id] = ([a for a in ordered if a not in busy],
                                      max(cap - len(busy), 1) if cap else 0)
    answering: dict[int, set[int]] = {}
    for job_id, (ordered, cap) in candidates.items():
        found: set[int] = set()
        batch = max(cap, concurrency) if cap else len(ordered)
        for start in range(0, len(ordered), max(batch, 1)):
            found |= wakeup.answering_agents(engine, ordered[start:start + batch], concurrency, timeout)
            if cap and len(found) >= cap:
                break
        answering[job_id] = found
        log.info("task %s job %s: %d of %d pool agent(s) answer /status", task_id, job_id, len(found), len(ordered))
    return answering


def _settled(conn: Connection, job_id: int, settings: JobSettings, targets: list[tuple[str, int]],
             task, now: datetime | None) -> bool:
    """Whether a balanced job needs no new agent at this pass: its task's current execution
    goes on (no next one due), every target has its units, and no unit waits to be moved."""
    if not settings.balance or task.execution_id <= 0 or now is None:
        return False
    if task.periodic and (task.execution_start is None or
                          now >= add_period(task.execution_start, task.periodicity_count, task.periodicity_type)):
        return False
    newest, _tried, succeeded = _unit_history(conn, job_id, task.execution_id)
    if set(targets) - {unit.target for unit in newest.values()}:
        return False
    ended = [u for u in newest.values() if u.state in FAILED_OR_CANCELLED and u.run_id not in succeeded]
    comments = _last_comments(conn, [u.run_id for u in ended if u.state == State.CANCELLED])
    return not any(_reoffered(u, comments) or (u.attempt < settings.slice_retries and _needs_rerun(u, comments))
                   for u in ended)


# ---------------------------------------------------------------------------------------------
# Balancing


@dataclass
class Unit:
    """The newest run of one unit of work: a slice of an IP range, or one item."""

    run_id: int
    target: tuple[str, int]
    agent: int
    state: int
    attempt: int
    part: tuple[int, int] | None  # (first, count) of a slice


@dataclass
class Assignment:
    target: tuple[str, int]
    agent: int
    part: tuple[int, int] | None
    attempt: int = 0
    previous_run: int = 0

    def details(self) -> dict:
        extra = {"attempt": self.attempt, "previous_run": self.previous_run}
        if self.part is not None:
            first, count = self.part
            extra.update(specificity=slices.specificity(first, count), slice_first=first, slice_count=count)
        return extra


def _unit_history(conn: Connection, job_id: int, execution_id: int):
    """(newest run per unit, agents that ran each unit, ids of runs that already have a successor)
    for the job's bridge runs of this execution."""
    rows = conn.execute(
        select(runs.c.id, runs.c.itemtype, runs.c.items_id, runs.c.plugin_fusioninventory_agents_id.label("agent"),
               runs.c.state, bridge_runs.c.attempt, bridge_runs.c.previous_run, bridge_runs.c.slice_first,
               bridge_runs.c.slice_count)
        .select_from(runs.join(bridge_runs, bridge_runs.c.plugin_fusioninventory_taskjobstates_id == runs.c.id))
        .where(runs.c.plugin_fusioninventory_taskjobs_id == job_id, bridge_runs.c.execution_id == execution_id)
        .order_by(runs.c.id)
    ).all()
    newest: dict[tuple, Unit] = {}
    tried: dict[tuple, set[int]] = defaultdict(set)
    succeeded = {row.previous_run for row in rows if row.previous_run}
    for row in rows:
        part = (row.slice_first, row.slice_count) if row.slice_count is not None else None
        key = ((row.itemtype, row.items_id), part)
        newest[key] = Unit(row.id, key[0], row.agent, row.state, row.attempt, part)
        tried[key].add(row.agent)
    return newest, tried, succeeded


def _last_comments(conn: Connection, run_ids: Iterable[int]) -> dict[int, str]:
    comments: dict[int, str] = {}
    for row in sorted(select_in(conn, [logs.c.id, logs.c.plugin_fusioninventory_taskjobstates_id, logs.c.comment],
                                logs.c.plugin_fusioninventory_taskjobstates_id, run_ids), key=lambda r: r.id):
        comments[row.plugin_fusioninventory_taskjobstates_id] = row.comment or ""
    return comments


def _needs_rerun(unit: Unit, comments: dict[int, str]) -> bool:
    if unit.state == State.IN_ERROR:
        return True
    comment = comments.get(unit.run_id, "").lower()
    return unit.state == State.CANCELLED and any(mark in comment for mark in _RETRYABLE_CANCEL + _REOFFERED_CANCEL)


def _reoffered(unit: Unit, comments: dict[int, str]) -> bool:
    comment = comments.get(unit.run_id, "").lower()
    return unit.state == State.CANCELLED and any(mark in comment for mark in _REOFFERED_CANCEL)


def _fresh_assignments(conn: Connection, method: str | None, targets: list[tuple[str, int]],
                       agents: list[int]) -> list[Assignment]:
    """First split of targets that have no unit yet in this execution."""
    assignments: list[Assignment] = []
    items = []
    split_ranges = method == Method.NETWORK_DISCOVERY
    bounds = range_bounds(conn, [i for t, i in targets if t == ItemType.IP_RANGE]) if split_ranges else {}
    rotation = 0
    for target in targets:
        if split_ranges and target[0] == ItemType.IP_RANGE:
            if target[1] not in bounds:
                continue  # not a valid IPv4 range (logged by range_bounds)
            low, high = bounds[target[1]]
            parts = slices.split_range(high - low + 1, len(agents))
            for index, part in enumerate(parts):
                # Rotate across ranges so that a small range does not always land on the first agents.
                assignments.append(Assignment(target, agents[(rotation + index) % len(agents)], part))
            rotation += len(parts)
        else:
            items.append(target)
    for index, part in enumerate(slices.chunk(items, len(agents))):
        assignments.extend(Assignment(item, agents[index], None) for item in part)
    return assignments


def _other_agent(agents: list[int], load: Counter, tried: set[int], failed_agent: int) -> int | None:
    """The least loaded pool agent that has not run the unit yet, else any other than the one
    that just failed (ties go to the pool's order); None when the pool has no other agent."""
    for allowed in (lambda a: a not in tried, lambda a: a != failed_agent):
        best = min((i for i, a in enumerate(agents) if allowed(a)), key=lambda i: (load[agents[i]], i), default=None)
        if best is not None:
            return agents[best]
    return None


def prepare_balanced(conn: Connection, job, settings: JobSettings, targets: list[tuple[str, int]],
                     agents: list[int], when: datetime, report, execution: Execution, places: Places,
                     raw_targets: list[tuple[str, int]], *, insert_runs, cancel_runs,
                     agent_left: str, target_left: str) -> None:
    """Split the job's targets between ``agents`` (see the module's docstring); runs go in
    through the preparation's ``insert_runs``/``cancel_runs`` so they look like every other run.

    ``execution``: the task's current execution (its units are this execution's runs). A
    target the previous action of the task is not done with is held back whole
    (``execution_order``; ``places``: the pass's cache). What this pass leaves for later —
    held targets, units waiting for an agent — counts in ``execution.waiting`` (the execution
    is not over) and ``execution.held_items`` (the next action waits for them too)."""
    hold = ordering_hold(conn, job, execution, settings, places, raw_targets, agents, when)
    newest, tried, succeeded = _unit_history(conn, job.id, execution.execution_id)
    target_set, pool_set = set(targets), set(agents)
    held = {t for t in targets if hold is not None and hold.holds_target(t)}
    waiting: set[tuple[str, int]] = set(held)

    gone = [u.run_id for u in newest.values() if u.state in ACTIVE and u.target not in target_set]
    # An empty pool (e.g. no agent answered at this pass) moves nothing: the units wait.
    left = [u.run_id for u in newest.values()
            if agents and u.state in ACTIVE and u.target in target_set and u.agent not in pool_set]
    report.cancelled += cancel_runs(conn, gone, target_left, when)
    report.cancelled += cancel_runs(conn, left, agent_left, when)
    left_ids = set(left)
    candidates = [u for u in newest.values() if u.state in FAILED_OR_CANCELLED]
    comments = _last_comments(conn, [u.run_id for u in candidates if u.state == State.CANCELLED
                                     and u.run_id not in left_ids])
    comments.update({run_id: agent_left for run_id in left_ids})
    for unit in newest.values():
        if unit.run_id in left_ids:
            unit.state = int(State.CANCELLED)

    load = Counter(u.agent for u in newest.values() if u.state in ACTIVE_OR_POSTPONED)
    covered = {u.target for u in newest.values()}
    reruns: list[Assignment] = []
    lost: list[Unit] = []
    for key, unit in newest.items():
        if unit.target not in target_set:
            continue
        if unit.state in ACTIVE_OR_POSTPONED or unit.state == State.FINISHED:
            report.skipped += 1
        elif unit.run_id not in succeeded and _reoffered(unit, comments):
            agent = unit.agent if unit.agent in pool_set else _other_agent(agents, load, tried[key], unit.agent)
            if unit.target in held or agent is None:
                waiting.add(unit.target)
                continue
            load[agent] += 1
            reruns.append(Assignment(unit.target, agent, unit.part, unit.attempt, unit.run_id))
        elif unit.run_id not in succeeded and _needs_rerun(unit, comments):
            if unit.attempt >= settings.slice_retries:
                lost.append(unit)
                continue
            agent = None if unit.target in held else _other_agent(agents, load, tried[key], unit.agent)
            if agent is None:
                waiting.add(unit.target)  # moved when the pool has another agent
                continue
            load[agent] += 1
            reruns.append(Assignment(unit.target, agent, unit.part, unit.attempt + 1, unit.run_id))
    _report_lost(conn, lost, when)

    fresh = [t for t in targets if t not in covered and t not in held]
    assignments = (_fresh_assignments(conn, job.method, fresh, agents) if agents else []) + reruns
    if fresh and not agents:
        waiting.update(fresh)
        log.info("job %s: no agent in its pool, %d target(s) wait", job.id, len(fresh))
    if held:
        report.held += len(held)
    _leave_waiting(execution, job.id, waiting, hold)
    if assignments:
        report.prepared += len(insert_runs(conn, job.id, [(a.target, a.agent) for a in assignments], when,
                                           [a.details() for a in assignments], task_id=execution.task_id,
                                           execution_id=execution.execution_id))


def _leave_waiting(execution: Execution, job_id: int, waiting: set[tuple[str, int]],
                   hold: OrderingHold | None) -> None:
    """Targets left for a later pass keep the execution open and hold the next action."""
    if not waiting:
        return
    execution.waiting += len(waiting)
    items = execution.held_items.setdefault(job_id, set())
    for target in waiting:
        items |= hold.held_items(target, 0) if hold is not None else {target}


def _report_lost(conn: Connection, lost: list[Unit], when: datetime) -> None:
    """One Error line per unit given up on (not repeated at later passes)."""
    if not lost:
        return
    already = {row.plugin_fusioninventory_taskjobstates_id for row in select_in(
        conn, [logs.c.plugin_fusioninventory_taskjobstates_id], logs.c.plugin_fusioninventory_taskjobstates_id,
        [u.run_id for u in lost], logs.c.comment.like(f"%{NOT_COVERED}%"))}
    lines = []
    for unit in lost:
        if unit.run_id in already:
            continue
        what = (f"The slice {slices.specificity(*unit.part)} of this IP range" if unit.part
                else "This target")
        lines.append(log_row(unit.run_id, Log.ERROR,
                             f"{what} {NOT_COVERED}: {unit.attempt + 1} attempt(s) failed, no retry left", when))
        log.warning("run %s: %s", unit.run_id, lines[-1]["comment"])
    if lines:
        conn.execute(insert(logs), lines)
