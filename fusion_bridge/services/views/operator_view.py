"""What an operator wants to see of a task: per execution, every run (or IP-range slice) with
its agent, state, attempt, progress and wake-ups, and the task's wake-up history.

A run's execution is ``glpi_plugin_fusionbridge_runs.execution_id``; runs without a bridge row
(plain 9.5 tasks, or prepared by GLPI's own cron) are execution 0. The view of one execution
costs a fixed number of queries whatever its size: the runs with everything joined to them
(action, bridge row, agent and its address, IP range), one grouped query for the first and last
log line of each, one for the wake-ups, one per target item type for names, and one grouped
query for the list of executions. The run set is repeated as a subquery instead of long IN
lists.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.services.admin.base import (NotFound, date_text, item_names, log_word, positive_id,
                                                     state_word, ui_text)
from fusion_bridge.services.runs import ACTIVE
from fusion_bridge.services.admin.task_settings import task_settings
from schema.constants import ItemType, Method, TaskjobState as State

tasks, jobs, runs, logs = schema.tasks, schema.taskjobs, schema.taskjobstates, schema.taskjoblogs
bridge, wakeups, addresses = schema.bridge_runs, schema.bridge_wakeups, schema.bridge_agentaddresses
agents, ipranges = schema.agents, schema.ipranges

DEFAULT_RUNS, MAX_RUNS = 10_000, 100_000
DEFAULT_WAKEUPS, MAX_WAKEUPS = 100, 10_000
WAKEUPS_PER_RUN = 20  # the latest ones; the run says how many there were in all

# CAST: MariaDB types COALESCE(int unsigned, 0) (GLPI 10's layout) as DECIMAL, which would reach JSON.
execution_of_run = cast(func.coalesce(bridge.c.execution_id, 0), Integer)
_RUN_FROM = runs.join(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id).outerjoin(
    bridge, bridge.c.plugin_fusioninventory_taskjobstates_id == runs.c.id)


def _limit(value: Any, default: int, maximum: int) -> int:
    return default if value is None else min(positive_id(value, "limit"), maximum)


def _execution(value: Any) -> int | None:
    return None if value is None or value == "" else positive_id(value, "execution", allow_zero=True)


def _task(conn: Connection, task_id: Any) -> dict:
    task_id = positive_id(task_id, "task id")
    row = conn.execute(select(tasks.c.id, tasks.c.name).where(tasks.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    settings = task_settings(conn, task_id)
    return {"id": row.id, "name": ui_text(row.name), "communication": settings.communication,
            "current_execution": settings.execution_id, "execution_start": date_text(settings.execution_start)}


def _in_execution(task_id: int, execution: int) -> list:
    """Conditions on ``_RUN_FROM`` for the runs of one execution of the task."""
    if execution == 0:
        return [jobs.c.plugin_fusioninventory_tasks_id == task_id, execution_of_run == 0]
    # Through the bridge's (tasks_id, execution_id) index rather than every run of the task.
    return [bridge.c.plugin_fusioninventory_tasks_id == task_id, bridge.c.execution_id == execution,
            jobs.c.plugin_fusioninventory_tasks_id == task_id]


def execution_list(conn: Connection, task_id: int) -> list[dict]:
    """Every execution of the task with its runs counted by state, and the addresses of its
    slices done and to do (None without slices). Two grouped queries: a slice tried several
    times (same range and first offset) counts once, with its best attempt."""
    found: dict[int, dict] = {}
    of_task = jobs.c.plugin_fusioninventory_tasks_id == task_id
    rows = conn.execute(
        select(execution_of_run.label("execution"), runs.c.state, func.count().label("runs"))
        .select_from(_RUN_FROM).where(of_task)
        .group_by(execution_of_run, runs.c.state).order_by(execution_of_run, runs.c.state))
    for row in rows:
        entry = found.setdefault(row.execution, {"execution": row.execution, "runs": 0, "states": {},
                                                 "addresses": None})
        entry["runs"] += row.runs
        entry["states"][state_word(row.state)] = row.runs
    done = case((bridge.c.addresses_done < bridge.c.slice_count, bridge.c.addresses_done), else_=bridge.c.slice_count)
    slices = (select(execution_of_run.label("execution"), func.max(done).label("done"),
                     func.max(bridge.c.slice_count).label("count"))
              .select_from(_RUN_FROM).where(of_task, bridge.c.slice_count.is_not(None))
              .group_by(execution_of_run, runs.c.items_id, bridge.c.slice_first).subquery())
    for row in conn.execute(select(slices.c.execution, func.sum(slices.c.done), func.sum(slices.c.count))
                            .group_by(slices.c.execution)):
        if row[0] in found:
            found[row[0]]["addresses"] = {"covered": int(row[1] or 0), "total": int(row[2] or 0)}
    return list(found.values())


def _run_rows(conn: Connection, conditions: list, limit: int) -> list:
    return conn.execute(
        select(runs.c.id, runs.c.state, runs.c.itemtype, runs.c.items_id,
               runs.c.plugin_fusioninventory_agents_id.label("agent_id"),
               runs.c.plugin_fusioninventory_taskjobs_id.label("action_id"),
               jobs.c.name.label("action_name"), jobs.c.method,
               execution_of_run.label("execution"), bridge.c.attempt, bridge.c.previous_run,
               bridge.c.slice_first, bridge.c.slice_count, bridge.c.addresses_done, bridge.c.pushes,
               bridge.c.pushed_at, agents.c.name.label("agent_name"), addresses.c.address, addresses.c.port,
               ipranges.c.name.label("range_name"), ipranges.c.ip_start, ipranges.c.ip_end)
        .select_from(
            _RUN_FROM.outerjoin(agents, agents.c.id == runs.c.plugin_fusioninventory_agents_id)
            .outerjoin(addresses,
                       addresses.c.plugin_fusioninventory_agents_id == runs.c.plugin_fusioninventory_agents_id)
            .outerjoin(ipranges, and_(runs.c.itemtype == ItemType.IP_RANGE, ipranges.c.id == runs.c.items_id)))
        .where(*conditions).order_by(runs.c.id).limit(limit)
    ).all()


def _log_bounds(conn: Connection, run_ids) -> dict[int, tuple]:
    """``{run id: (date of its first log line, its last log line)}`` in one query."""
    bounds = (select(logs.c.plugin_fusioninventory_taskjobstates_id.label("run_id"),
                     func.min(logs.c.date).label("first_date"), func.max(logs.c.id).label("last_id"))
              .where(logs.c.plugin_fusioninventory_taskjobstates_id.in_(run_ids))
              .group_by(logs.c.plugin_fusioninventory_taskjobstates_id).subquery())
    rows = conn.execute(select(bounds.c.run_id, bounds.c.first_date, logs.c.date, logs.c.state, logs.c.comment)
                        .select_from(bounds.join(logs, logs.c.id == bounds.c.last_id)))
    return {row.run_id: (row.first_date, row) for row in rows}


def _wakeup_dict(row, names: dict | None = None) -> dict:
    found = {"id": row.id, "date": date_text(row.date), "outcome": row.outcome, "detail": row.detail,
             "address": row.address, "run": row.plugin_fusioninventory_taskjobstates_id,
             "agent": row.plugin_fusioninventory_agents_id}
    if names is not None:
        found["agent"] = {"id": row.plugin_fusioninventory_agents_id,
                          "name": names.get(row.plugin_fusioninventory_agents_id)}
    return found


def _run_wakeups(conn: Connection, rows: list, run_ids, agent_ids, bounds: dict) -> dict[int, list]:
    """The wake-ups naming each run, and those of its agent while the run was not over."""
    since = min((first for first, _ in bounds.values() if first is not None), default=None)
    # Two queries rather than one with OR, so that each goes through its own index.
    conditions = [wakeups.c.plugin_fusioninventory_taskjobstates_id.in_(run_ids)]
    if since is not None:
        conditions.append(and_(wakeups.c.plugin_fusioninventory_agents_id.in_(agent_ids), wakeups.c.date >= since))
    by_run: dict[int, list] = {}
    by_agent: dict[int, list] = {}
    seen: set[int] = set()
    for condition in conditions:
        for row in conn.execute(select(wakeups).where(condition)):
            if row.id not in seen:
                seen.add(row.id)
                by_run.setdefault(row.plugin_fusioninventory_taskjobstates_id, []).append(row)
                by_agent.setdefault(row.plugin_fusioninventory_agents_id, []).append(row)
    found: dict[int, list] = {}
    for run in rows:
        first, last = bounds.get(run.id, (None, None))
        over = run.state not in ACTIVE
        chosen = {row.id: row for row in by_run.get(run.id, ())}
        if first is not None:
            for row in by_agent.get(run.agent_id, ()):
                if row.date >= first and not (over and last is not None and row.date > last.date):
                    chosen.setdefault(row.id, row)
        if chosen:
            found[run.id] = sorted(chosen.values(), key=lambda row: (row.date, row.id))
    return found


def _ip(text: str | None) -> int | None:
    try:
        return int(ipaddress.IPv4Address(text or ""))
    except ValueError:
        return None


def _slice_and_progress(run) -> tuple[dict | None, dict | None, tuple | None]:
    """The run's slice (offsets and IP bounds), its progress and its covered interval
    ``(range id, first offset, done, total first, total count)`` for the summary."""
    if run.method != Method.NETWORK_DISCOVERY or run.itemtype != ItemType.IP_RANGE:
        return None, None, None
    start, end = _ip(run.ip_start), _ip(run.ip_end)
    size = end - start + 1 if start is not None and end is not None and end >= start else None
    if run.slice_count is not None:
        first, total = run.slice_first or 0, run.slice_count
        done = run.addresses_done or 0
        bounds = ((str(ipaddress.IPv4Address(start + first)), str(ipaddress.IPv4Address(start + first + total - 1)))
                  if start is not None and total > 0 and start + first + total - 1 <= 0xFFFFFFFF else (None, None))
        piece = {"first": first, "count": total, "ip_start": bounds[0], "ip_end": bounds[1]}
    else:
        # The whole range: the agent reports no position, so only a finished run is known done.
        first, total, piece = 0, size, None
        done = total if run.state == State.FINISHED else (run.addresses_done or None)
    progress = {"done": done, "total": total}
    return piece, progress, (run.items_id, first, done or 0, total or 0)


def _covered(intervals: list[tuple]) -> dict:
    """Addresses scanned and to scan, counting once an address two attempts share."""
    def union(pairs) -> int:
        total, reach = 0, None
        for low, high in sorted(pairs):
            if reach is None or low > reach:
                total, reach = total + high - low, high
            elif high > reach:
                total, reach = total + high - reach, high
        return total

    by_range: dict[int, tuple[list, list]] = {}
    for range_id, first, done, count in intervals:
        done_list, all_list = by_range.setdefault(range_id, ([], []))
        done_list.append((first, first + min(done, count)))
        all_list.append((first, first + count))
    return {"covered": sum(union(d) for d, _ in by_range.values()),
            "total": sum(union(a) for _, a in by_range.values())}


def _run_dict(run, names: dict, bounds: dict, run_wakeups: dict) -> tuple[dict, tuple | None]:
    piece, progress, interval = _slice_and_progress(run)
    target_name = ui_text(run.range_name) if run.itemtype == ItemType.IP_RANGE else names.get(
        (run.itemtype, run.items_id))
    last = bounds.get(run.id, (None, None))[1]
    woken = run_wakeups.get(run.id, [])
    return {
        "id": run.id,
        "execution": run.execution,
        "action": {"id": run.action_id, "name": ui_text(run.action_name), "method": run.method},
        "target": {"itemtype": run.itemtype, "id": run.items_id, "name": target_name},
        "slice": piece,
        "agent": {"id": run.agent_id, "name": run.agent_name, "address": run.address, "port": run.port},
        "state": run.state,
        "state_word": state_word(run.state),
        "attempt": run.attempt or 0,
        "previous_run": run.previous_run or None,
        "pushes": run.pushes or 0,
        "pushed_at": date_text(run.pushed_at),
        "progress": progress,
        "last_log": None if last is None else {"date": date_text(last.date), "state": last.state,
                                               "word": log_word(last.state), "comment": last.comment},
        "wakeups": [_wakeup_dict(row) for row in woken[-WAKEUPS_PER_RUN:]],
        "wakeups_total": len(woken),
    }, interval


def task_executions(engine: Engine, task_id: Any, execution: Any = None, limit: Any = None) -> dict:
    """The task, its executions, and one of them (``execution``, default the latest) in detail."""
    limit = _limit(limit, DEFAULT_RUNS, MAX_RUNS)
    wanted = _execution(execution)
    with engine.connect() as conn:
        task = _task(conn, task_id)
        listed = execution_list(conn, task["id"])
        if wanted is None:
            wanted = max((entry["execution"] for entry in listed), default=task["current_execution"])
        conditions = _in_execution(task["id"], wanted)
        rows = _run_rows(conn, conditions, limit + 1)
        truncated = len(rows) > limit
        rows = rows[:limit]
        # The shown page again, as a subquery: id-ordered, so bounded by its last id.
        page = [runs.c.id <= rows[-1].id] if rows else []
        run_ids = select(runs.c.id).select_from(_RUN_FROM).where(*conditions, *page)
        agent_ids = select(runs.c.plugin_fusioninventory_agents_id).select_from(_RUN_FROM).where(*conditions, *page)
        bounds = _log_bounds(conn, run_ids) if rows else {}
        run_wakeups = _run_wakeups(conn, rows, run_ids, agent_ids, bounds) if rows else {}
        names = item_names(conn, {(row.itemtype, row.items_id) for row in rows if row.itemtype != ItemType.IP_RANGE})
    shown, intervals, states = [], [], {}
    for row in rows:
        run, interval = _run_dict(row, names, bounds, run_wakeups)
        shown.append(run)
        if interval is not None:
            intervals.append(interval)
        states[row.state] = states.get(row.state, 0) + 1
    states = {state_word(state): count for state, count in sorted(states.items())}
    return {
        "task": task,
        "executions": listed,
        "execution": wanted,
        "summary": {"runs": len(shown), "states": states, "addresses": _covered(intervals)},
        "runs": shown,
        "truncated": truncated,
    }


def task_wakeups(engine: Engine, task_id: Any, execution: Any = None, limit: Any = None) -> dict:
    """The wake-ups recorded for the task's runs, newest first."""
    limit = _limit(limit, DEFAULT_WAKEUPS, MAX_WAKEUPS)
    wanted = _execution(execution)
    with engine.connect() as conn:
        task = _task(conn, task_id)
        conditions = ([jobs.c.plugin_fusioninventory_tasks_id == task["id"]] if wanted is None
                      else _in_execution(task["id"], wanted))
        rows = conn.execute(
            select(wakeups, execution_of_run.label("execution"), agents.c.name.label("agent_name"))
            .select_from(wakeups.join(_RUN_FROM, runs.c.id == wakeups.c.plugin_fusioninventory_taskjobstates_id)
                         .outerjoin(agents, agents.c.id == wakeups.c.plugin_fusioninventory_agents_id))
            .where(*conditions).order_by(wakeups.c.id.desc()).limit(limit)
        ).all()
    found = []
    for row in rows:
        entry = _wakeup_dict(row, {row.plugin_fusioninventory_agents_id: row.agent_name})
        entry["execution"] = row.execution
        found.append(entry)
    return {"task": task, "execution": wanted, "wakeups": found}
