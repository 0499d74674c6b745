"""A task's schedule window and timeslots, as the plugin reads them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

import schema


def in_schedule(start: datetime | None, end: datetime | None, now: datetime) -> bool:
    """The dispatch-time window check: no start = always; else start <= now <= (end or now)."""
    if start is None:
        return True
    return start <= now <= (end or now)


def seconds_since_midnight(now: datetime) -> int:
    return now.hour * 3600 + now.minute * 60 + now.second


def _open_now(now: datetime):
    """Entries for today (ISO weekday, 1 = Monday) whose [begin, end] holds now."""
    entries = schema.timeslotentries
    seconds = seconds_since_midnight(now)
    return and_(entries.c.day == now.isoweekday(), entries.c.begin <= seconds, entries.c.end >= seconds)


def active_timeslots(conn: Connection, now: datetime) -> set[int]:
    entries = schema.timeslotentries
    return set(conn.execute(select(entries.c.plugin_fusioninventory_timeslots_id).where(_open_now(now))).scalars())


def timeslot_active(conn: Connection, timeslot_id: int, now: datetime) -> bool:
    entries = schema.timeslotentries
    return conn.execute(
        select(entries.c.id).where(entries.c.plugin_fusioninventory_timeslots_id == timeslot_id, _open_now(now))
        .limit(1)
    ).first() is not None
