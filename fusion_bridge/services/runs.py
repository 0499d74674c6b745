"""Runs (taskjobstates) and their history (taskjoblogs): the primitives every module shares.

A run's state only moves forward through these functions, each called inside the caller's
transaction, and every change writes its log line, as the plugin does.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection

import schema
from schema.constants import ItemType, TaskjobLogState as Log, TaskjobState as State

runs = schema.taskjobstates
logs = schema.taskjoblogs


def new_uniqid() -> str:
    """Like PHP's ``uniqid('', true)``: time in hex, then random digits.

    The plugin's plain 13-hex ``uniqid()`` collides when many runs are prepared in the same
    microsecond by several processes; the random part makes that practically impossible.
    """
    now = time.time()
    return f"{int(now):08x}{int(now * 1_000_000) % 1_000_000:05x}.{secrets.randbelow(10**8):08d}"


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


def move(conn: Connection, run_id: int, to_state: int, from_states: tuple[int, ...]) -> bool:
    """Set the state if the run is still in one of ``from_states``; False if it was not.

    The condition makes concurrent changes safe: of two workers moving one run, one wins.
    """
    result = conn.execute(
        update(runs)
        .where(and_(runs.c.id == run_id, runs.c.state.in_([int(s) for s in from_states])))
        .values(state=int(to_state))
    )
    return result.rowcount == 1


ACTIVE = (State.PREPARED, State.SERVER_HAS_SENT_DATA, State.AGENT_HAS_SENT_DATA)


def cancel(conn: Connection, run_id: int, comment: str, when: datetime) -> bool:
    """The plugin's ``cancel()``: log Info, state Cancelled."""
    if not move(conn, run_id, State.CANCELLED, ACTIVE):
        return False
    add_log(conn, run_id, Log.INFO, comment, when)
    return True


def fail(conn: Connection, run_id: int, comment: str, when: datetime, items_id: int = 0,
         itemtype: str | None = ItemType.AGENT) -> bool:
    """The plugin's ``fail()``/``changeStatusFinish(error)``: log Error, state Error."""
    if not move(conn, run_id, State.IN_ERROR, ACTIVE):
        return False
    add_log(conn, run_id, Log.ERROR, comment, when, itemtype, items_id)
    return True


def finish(conn: Connection, run_id: int, comment: str, when: datetime, items_id: int = 0,
           itemtype: str | None = ItemType.AGENT) -> bool:
    """The plugin's ``changeStatusFinish(ok)``: log Ok, state Finished."""
    if not move(conn, run_id, State.FINISHED, ACTIVE):
        return False
    add_log(conn, run_id, Log.OK, comment, when, itemtype, items_id)
    return True


def agent_runs_method(conn: Connection, agent_id: int, method: str) -> bool:
    """Whether the agent has a run of ``method`` handed out and not over (state 1 or 2)."""
    jobs = schema.taskjobs
    return conn.execute(
        select(runs.c.id).join(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id)
        .where(runs.c.plugin_fusioninventory_agents_id == agent_id, jobs.c.method == method,
               runs.c.state.in_([int(State.SERVER_HAS_SENT_DATA), int(State.AGENT_HAS_SENT_DATA)]))
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
