"""What is running now, and the history of a task, an agent or a run, in words.

Runs (``taskjobstates``) with their task, action, target and agent names, and their log lines
(``taskjoblogs``), whose comments are shown as GLPI's UI shows them (``log_text``). Every query is bounded by a limit and goes through an index: runs by
(taskjobs_id, state), (agents_id, state) or the primary key; logs by taskjobstates_id.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.services.admin.base import (
    CHUNK,
    NotFound,
    date_text,
    item_names,
    log_word,
    positive_id,
    state_word,
    ui_text,
)
from fusion_bridge.services.runs import ACTIVE
from fusion_bridge.services.views import log_text
from schema.constants import ItemType

tasks = schema.tasks
jobs = schema.taskjobs
runs = schema.taskjobstates
logs = schema.taskjoblogs
agents = schema.agents

MAX_RUNS = 10_000
MAX_LOGS = 100_000


def _limit(value: Any, default: int, maximum: int, what: str = "limit") -> int:
    if value is None:
        return default
    return min(positive_id(value, what), maximum)


def _details(conn: Connection, run_ids: list[int]) -> list:
    """The runs with their action and task, in the order of ``run_ids`` (one page, by primary key)."""
    found = {}
    for start in range(0, len(run_ids), CHUNK):
        found.update((row.id, row) for row in conn.execute(
            select(runs.c.id, runs.c.uniqid, runs.c.state, runs.c.itemtype, runs.c.items_id,
                   runs.c.plugin_fusioninventory_agents_id.label("agent_id"),
                   runs.c.plugin_fusioninventory_taskjobs_id.label("action_id"),
                   jobs.c.name.label("action_name"), jobs.c.method,
                   jobs.c.plugin_fusioninventory_tasks_id.label("task_id"), tasks.c.name.label("task_name"))
            .select_from(runs.outerjoin(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id)
                         .outerjoin(tasks, tasks.c.id == jobs.c.plugin_fusioninventory_tasks_id))
            .where(runs.c.id.in_(run_ids[start:start + CHUNK]))))
    return [found[run_id] for run_id in run_ids if run_id in found]


def _describe(conn: Connection, rows) -> list[dict]:
    items = [(row.itemtype, row.items_id) for row in rows] + [(ItemType.AGENT, row.agent_id) for row in rows]
    names = item_names(conn, items)
    return [{
        "id": row.id,
        "uniqid": row.uniqid,
        "state": row.state,
        "state_word": state_word(row.state),
        "task": {"id": row.task_id, "name": ui_text(row.task_name)},
        "action": {"id": row.action_id, "name": ui_text(row.action_name), "method": row.method},
        "target": {"itemtype": row.itemtype, "id": row.items_id,
                   "name": names.get((row.itemtype, row.items_id))},
        "agent": {"id": row.agent_id, "name": names.get((ItemType.AGENT, row.agent_id))},
    } for row in rows]


def _log_dict(row) -> dict:
    return {"id": row.id, "date": date_text(row.date), "state": row.state, "word": log_word(row.state),
            "comment": row.comment, "itemtype": row.itemtype, "items_id": row.items_id}


def _check_exists(conn: Connection, table, item_id: Any, what: str) -> int:
    item_id = positive_id(item_id, f"{what} id")
    if conn.execute(select(table.c.id).where(table.c.id == item_id)).first() is None:
        raise NotFound(f"{what} {item_id} does not exist")
    return item_id


def _conditions(conn: Connection, task_id: Any = None, agent_id: Any = None, run_id: Any = None,
                action_id: Any = None) -> list:
    """Conditions on runs alone for existing ids (NotFound otherwise); a task's runs are found
    through its actions' ids, by the (taskjobs_id, state) index."""
    conditions = []
    if run_id is not None:
        conditions.append(runs.c.id == _check_exists(conn, runs, run_id, "run"))
    if action_id is not None:
        action_id = _check_exists(conn, jobs, action_id, "action")
        conditions.append(runs.c.plugin_fusioninventory_taskjobs_id == action_id)
    if task_id is not None:
        task_id = _check_exists(conn, tasks, task_id, "task")
        conditions.append(runs.c.plugin_fusioninventory_taskjobs_id.in_(
            select(jobs.c.id).where(jobs.c.plugin_fusioninventory_tasks_id == task_id)))
    if agent_id is not None:
        agent_id = _check_exists(conn, agents, agent_id, "agent")
        conditions.append(runs.c.plugin_fusioninventory_agents_id == agent_id)
    return conditions


def _page(conn: Connection, conditions: list, newest_first: bool, limit: int) -> list[int]:
    order = runs.c.id.desc() if newest_first else runs.c.id
    return conn.execute(select(runs.c.id).where(*conditions).order_by(order).limit(limit)).scalars().all()


def running_now(engine: Engine, *, task_id: Any = None, agent_id: Any = None,
                limit: Any = None) -> list[dict]:
    """Runs still to be done or under way (``runs.ACTIVE``) by id, each with its last log line."""
    limit = _limit(limit, 1000, MAX_RUNS)
    with engine.connect() as conn:
        conditions = _conditions(conn, task_id=task_id, agent_id=agent_id)
        conditions.append(runs.c.state.in_(ACTIVE))
        if task_id is None and agent_id is None:
            # Through the actions, so that the (taskjobs_id, state) index finds the few active
            # runs among all the finished ones (state alone has no index).
            conditions.append(runs.c.plugin_fusioninventory_taskjobs_id.in_(select(jobs.c.id)))
        rows = _details(conn, _page(conn, conditions, False, limit))
        found = _describe(conn, rows)
        last = _last_logs(conn, [row.id for row in rows])
        log_text.render(conn, last.values())
    for run in found:
        run["last_log"] = last.get(run["id"])
    return found


def _last_logs(conn: Connection, run_ids: list[int]) -> dict[int, dict]:
    last: dict[int, dict] = {}
    for start in range(0, len(run_ids), CHUNK):
        chunk = run_ids[start:start + CHUNK]
        log_ids = conn.execute(
            select(func.max(logs.c.id)).where(logs.c.plugin_fusioninventory_taskjobstates_id.in_(chunk))
            .group_by(logs.c.plugin_fusioninventory_taskjobstates_id)
        ).scalars().all()
        if log_ids:
            for row in conn.execute(select(logs).where(logs.c.id.in_(log_ids))):
                last[row.plugin_fusioninventory_taskjobstates_id] = _log_dict(row)
    return last


def history(engine: Engine, task_id: Any = None, agent_id: Any = None, run_id: Any = None, *,
            action_id: Any = None, limit: Any = None, log_limit: Any = None) -> list[dict]:
    """The latest ``limit`` runs (newest first) of a task, an action, an agent, or one run, each
    with its log lines in order. At most ``log_limit`` lines in all: the runs whose lines were
    cut say so with ``logs_truncated``."""
    limit = _limit(limit, 20, MAX_RUNS)
    log_limit = _limit(log_limit, 10_000, MAX_LOGS, "log_limit")
    with engine.connect() as conn:
        conditions = _conditions(conn, task_id, agent_id, run_id, action_id)
        found = _describe(conn, _details(conn, _page(conn, conditions, True, limit)))
        by_run = {run["id"]: run for run in found}
        for run in found:
            run["logs"], run["logs_truncated"] = [], False
        remaining, cut_at = log_limit, None
        ids = list(by_run)  # newest first
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            lines = conn.execute(
                select(logs).where(logs.c.plugin_fusioninventory_taskjobstates_id.in_(chunk))
                .order_by(logs.c.plugin_fusioninventory_taskjobstates_id.desc(), logs.c.id)
                .limit(remaining + 1)
            ).all()
            for row in lines[:remaining]:
                by_run[row.plugin_fusioninventory_taskjobstates_id]["logs"].append(_log_dict(row))
            if len(lines) > remaining:
                cut_at = lines[remaining].plugin_fusioninventory_taskjobstates_id
                break
            remaining -= len(lines)
        if cut_at is not None:
            # This run and the older ones did not get all their lines.
            for run in found:
                run["logs_truncated"] = run["id"] <= cut_at
        log_text.render(conn, (line for run in found for line in run["logs"]))
    return found
