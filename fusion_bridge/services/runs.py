"""Runs (taskjobstates) and their history (taskjoblogs): the one owner of a run's state.

Every write of ``taskjobstates.state`` is here — new Prepared runs, single moves, the bulk
moves of preparation, push and dispatch — each called inside the caller's transaction, and each
move writes the log line that goes with it, as the plugin does. Which moves are legal is the
pure table of ``fusion_bridge.domain.run_states``: an UPDATE only leaves from the states the
table allows (``WHERE state IN ...``), which also makes concurrent changes safe — of two
workers moving one run, one wins. A move the table forbids raises ``IllegalTransition``.
``tests/unit/test_run_state_owner.py`` fails when another module writes the column.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from datetime import datetime
from functools import lru_cache
from typing import Callable, Iterable, Sequence

from sqlalchemy import bindparam, func, insert, literal, literal_column, null, select, update
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.domain.run_states import (  # noqa: F401 - the groups, re-exported for callers
    ACTIVE, ACTIVE_OR_POSTPONED, ENDED, FAILED_OR_CANCELLED, FINISHED_OR_FAILED, HANDED_OUT, MOVE_LOG, NEW,
    IllegalTransition, Move, guard, next_state, target)
from schema.constants import ItemType, TaskjobLogState as Log

runs = schema.taskjobstates
logs = schema.taskjoblogs

CHUNK = 900  # ids per IN list of the bulk moves
INSERT_BATCH = 10_000  # rows per multi-row INSERT of new runs and their logs


_UNIQID_SPACE = 1 << 20  # what 5 hex digits hold
_uniqid_lock = threading.Lock()
_uniqid_counter: dict[str, int] = {"pid": -1, "next": 0}


def new_uniqid() -> str:
    """13 hex digits, the length of the plugin's PHP ``uniqid()``: 8 for the time in seconds,
    then 5 more.

    PHP's last 5 are the microseconds, so two processes preparing in the same microsecond get
    the same value (and one process preparing 40,000 runs a second would too). Here they come
    from a counter that each process starts at a random point — chosen again after a fork, by
    pid, since gunicorn workers and the scheduler are forks of one parent: one process never
    repeats a value within a second unless it hands out 2^20 in that second, and two processes
    collide only when their stretches of the counter overlap in the same second (a chance of
    about (a + b) / 2^20 for a and b ids handed out by each in that second). A run is read back
    by its uniqid only within its job and among ids just inserted (``insert_prepared``), and
    the plugin's own values can only meet ours in the same second.
    """
    with _uniqid_lock:
        state = _uniqid_counter
        if state["pid"] != os.getpid():
            state["pid"], state["next"] = os.getpid(), secrets.randbelow(_UNIQID_SPACE)
        suffix = state["next"]
        state["next"] = (suffix + 1) % _UNIQID_SPACE
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{suffix:05x}"


def log_row(run_id: int, state: int, comment: str, when: datetime, itemtype: str | None = ItemType.AGENT,
            items_id: int = 0) -> dict:
    return {
        "plugin_fusioninventory_taskjobstates_id": run_id,
        "date": when,
        "state": int(state),
        "comment": comment,
        "itemtype": itemtype,
        "items_id": items_id,
    }


def add_log(conn: Connection, run_id: int, state: int, comment: str, when: datetime,
            itemtype: str | None = ItemType.AGENT, items_id: int = 0) -> None:
    conn.execute(insert(logs).values(log_row(run_id, state, comment, when, itemtype, items_id)))


def _states(states: Iterable[int]):
    # Literal states: an expanding IN parameter would be re-rendered on every execution.
    return [literal_column(str(int(state))) for state in states]


@lru_cache(maxsize=None)
def _move_one(what: Move, from_states: tuple[int, ...]):
    return (update(runs)
            .where(runs.c.id == bindparam("run_id"), runs.c.state.in_(_states(from_states)))
            .values(state=literal_column(str(target(what)))))


@lru_cache(maxsize=None)
def _move_ids(what: Move, from_states: tuple[int, ...]):
    return (update(runs)
            .where(runs.c.id.in_(bindparam("ids", expanding=True)), runs.c.state.in_(_states(from_states)))
            .values(state=literal_column(str(target(what)))))


@lru_cache(maxsize=None)
def _lock_ids(from_states: tuple[int, ...]):
    return (select(runs.c.id)
            .where(runs.c.id.in_(bindparam("ids", expanding=True)), runs.c.state.in_(_states(from_states)))
            .order_by(runs.c.id)
            .with_for_update())


def move(conn: Connection, run_id: int, what: Move, only_from: Sequence[int] | None = None) -> bool:
    """``what`` for the run if it is still in one of the states the table allows (or in
    ``only_from``, a narrower choice of them); False if it was not. No log line: see the
    named moves below for those that write one."""
    from_states = guard(what, tuple(only_from) if only_from is not None else None, run_id)
    return conn.execute(_move_one(what, from_states), {"run_id": run_id}).rowcount == 1


def _move_and_log(conn: Connection, run_id: int, what: Move, comment: str, when: datetime,
                  itemtype: str | None, items_id: int, only_from: Sequence[int] | None) -> bool:
    if not move(conn, run_id, what, only_from):
        return False
    add_log(conn, run_id, MOVE_LOG[what], comment, when, itemtype, items_id)
    return True


def hand_out(conn: Connection, run_id: int, when: datetime, agent_id: int) -> bool:
    """A REST job given to its agent (getJobs): Prepared → Server has sent data, log Started."""
    return _move_and_log(conn, run_id, Move.HAND_OUT, "", when, ItemType.AGENT, agent_id, None)


def agent_reports(conn: Connection, run_id: int, only_from: Sequence[int] | None = None) -> bool:
    """The agent sent data about the run: Agent has sent data (no log line of its own)."""
    return move(conn, run_id, Move.AGENT_REPORTS, only_from)


def cancel(conn: Connection, run_id: int, comment: str, when: datetime,
           only_from: Sequence[int] | None = None) -> bool:
    """The plugin's ``cancel()``: log Info, state Cancelled."""
    return _move_and_log(conn, run_id, Move.CANCEL, comment, when, ItemType.AGENT, 0, only_from)


def fail(conn: Connection, run_id: int, comment: str, when: datetime, items_id: int = 0,
         itemtype: str | None = ItemType.AGENT) -> bool:
    """The plugin's ``fail()``/``changeStatusFinish(error)``: log Error, state Error."""
    return _move_and_log(conn, run_id, Move.FAIL, comment, when, itemtype, items_id, None)


def finish(conn: Connection, run_id: int, comment: str, when: datetime, items_id: int = 0,
           itemtype: str | None = ItemType.AGENT) -> bool:
    """The plugin's ``changeStatusFinish(ok)``: log Ok, state Finished."""
    return _move_and_log(conn, run_id, Move.FINISH, comment, when, itemtype, items_id, None)


def postpone(conn: Connection, run_id: int, comment: str, when: datetime) -> bool:
    """The plugin's ``postpone()``: its Info line first (written even when the run has moved
    meanwhile, as the plugin does), then state Postponed."""
    add_log(conn, run_id, MOVE_LOG[Move.POSTPONE], comment, when)
    return move(conn, run_id, Move.POSTPONE)


def reoffer(conn: Connection, run_id: int, date_start: datetime, max_retry: int, nb_retry: int) -> bool:
    """A postponed run prepared again, to be handed out from ``date_start`` (the retry's log
    lines are the caller's)."""
    return conn.execute(
        update(runs).where(runs.c.id == run_id, runs.c.state.in_(_states(guard(Move.REOFFER, None, run_id))))
        .values(state=target(Move.REOFFER), date_start=date_start, max_retry=max_retry, nb_retry=nb_retry)
    ).rowcount == 1


def move_many(conn: Connection, run_ids: Iterable[int], what: Move, when: datetime,
              comment: str | Callable[[int], str], *, items_id: Callable[[int], int] | None = None,
              only_from: Sequence[int] | None = None) -> list[int]:
    """``what`` for many runs at once, with the same log line as the single move (``comment``
    and ``items_id`` may depend on the run). Only the runs still in an allowed state when
    locked move; their ids are returned, in order."""
    from_states = guard(what, tuple(only_from) if only_from is not None else None)
    log_state = MOVE_LOG[what]
    moved: list[int] = []
    ids = sorted(set(run_ids))
    for start in range(0, len(ids), CHUNK):
        locked = list(conn.execute(_lock_ids(from_states), {"ids": ids[start:start + CHUNK]}).scalars())
        if not locked:
            continue
        conn.execute(_move_ids(what, from_states), {"ids": locked})
        if log_state is not None:
            conn.execute(insert(logs), [
                log_row(run_id, log_state, comment(run_id) if callable(comment) else comment, when,
                        items_id=items_id(run_id) if items_id is not None else 0)
                for run_id in locked])
        moved.extend(locked)
    return moved


class Batch:
    """The moves of many runs whose rows the caller holds locked (PROLOG's dispatch), decided
    one by one and written in a few statements: one UPDATE per move, then one INSERT of every
    log line in the order they were added."""

    def __init__(self, when: datetime):
        self.when = when
        self.ids: dict[Move, list[int]] = {}
        self.logs: list[dict] = []

    def move(self, run_id: int, from_state: int, what: Move, comment: str,
             itemtype: str | None = ItemType.AGENT, items_id: int = 0) -> None:
        """``what`` for the run now in ``from_state`` (IllegalTransition if the table forbids
        it), with its log line."""
        next_state(from_state, what, run_id)
        self.ids.setdefault(what, []).append(run_id)
        if MOVE_LOG[what] is not None:
            self.logs.append(log_row(run_id, MOVE_LOG[what], comment, self.when, itemtype, items_id))

    def log(self, run_id: int, state: int, comment: str, itemtype: str | None = ItemType.AGENT,
            items_id: int = 0) -> None:
        """A log line without a move, written in its place among the others."""
        self.logs.append(log_row(run_id, state, comment, self.when, itemtype, items_id))

    def apply(self, conn: Connection) -> None:
        for what, ids in self.ids.items():
            conn.execute(_move_ids(what, guard(what)), {"ids": ids})
        if self.logs:
            conn.execute(insert(logs), self.logs)


def _unique_uniqids(count: int) -> list[str]:
    seen: set[str] = set()
    result = []
    while len(result) < count:
        uniqid = new_uniqid()
        if uniqid not in seen:
            seen.add(uniqid)
            result.append(uniqid)
    return result


def insert_prepared(conn: Connection, job_id: int, pairs: Sequence[tuple[tuple[str, int], int]],
                    when: datetime, specificities: Sequence[str | None] | None = None) -> list[int]:
    """New runs (state Prepared) of a job for (target, agent) pairs, with their ``Prepared``
    log line, in bulk; their ids, in the order of ``pairs``.

    Like the plugin, a run row gets its job, target, agent, state 0 and uniqid, the other
    columns their defaults (``specificity``/``date_start`` NULL, ``nb_retry`` 0, ``max_retry``
    1) unless ``specificities`` gives one per pair; its log line carries the run, the date,
    state 7 and an empty comment (``items_id`` 0, ``itemtype`` NULL). The new ids are read
    back by uniqid.
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
            "state": NEW,
            "plugin_fusioninventory_agents_id": agent_id,
            "uniqid": uniqid,
        }
        for ((itemtype, items_id), agent_id), uniqid in zip(pairs, uniqids)
    ]
    if specificities is not None:
        for row, specificity in zip(rows, specificities):
            if specificity is not None:
                row["specificity"] = specificity
    for start in range(0, len(rows), INSERT_BATCH):
        conn.execute(insert(runs), rows[start:start + INSERT_BATCH])
    ids_by_uniqid = dict(conn.execute(
        select(runs.c.uniqid, runs.c.id).where(runs.c.plugin_fusioninventory_taskjobs_id == job_id,
                                               runs.c.id > before)
    ).all())
    try:
        run_ids = [ids_by_uniqid[uniqid] for uniqid in uniqids]
    except KeyError:
        raise RuntimeError(f"job {job_id}: inserted runs could not be read back by uniqid") from None
    _insert_prepared_logs(conn, run_ids, when)
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
    for start in range(0, len(log_rows), INSERT_BATCH):
        conn.execute(insert(logs), log_rows[start:start + INSERT_BATCH])


def agent_runs_method(conn: Connection, agent_id: int, method: str) -> bool:
    """Whether the agent has a run of ``method`` handed out and not over."""
    jobs = schema.taskjobs
    return conn.execute(
        select(runs.c.id).join(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id)
        .where(runs.c.plugin_fusioninventory_agents_id == agent_id, jobs.c.method == method,
               runs.c.state.in_(HANDED_OUT))
        .limit(1)
    ).first() is not None


def parse_item_list(raw: str | None) -> list[tuple[str, int]]:
    """``targets``/``actors`` of a taskjob: ``[{"Itemtype":"id"}, ...]`` or the object form.

    GLPI re-encodes a PHP list with holes as an object (``{"1":{"Computer":"7"}}``); ids may be
    strings, integers, or ``"<id>$#$<name>"``. Unreadable entries are skipped.
    """
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    entries = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    items = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for itemtype, item_id in entry.items():
            text = str(item_id).split("$#$", 1)[0].strip()
            if text.lstrip("-").isdigit():
                items.append((str(itemtype), int(text)))
    return items
