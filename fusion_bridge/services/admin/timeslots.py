"""Timeslots and their entries (``_timeslots``, ``_timeslotentries``; docs/schema.md §3.5).

An entry is an ISO weekday (1 = Monday ... 7 = Sunday) and a span in seconds since midnight
(0 ... 86400); a slot is open when an entry of today covers the current second.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Iterable

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.admin.base import (
    DefinitionError,
    date_text,
    entity_exists,
    flag,
    glpi_text,
    positive_id,
    row_by_id,
    ui_text,
)

log = logging.getLogger("fusion_bridge.definitions")

timeslots = schema.timeslots
entries = schema.timeslotentries
tasks = schema.tasks

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAY_NUMBERS = {**{name.lower(): n for n, name in enumerate(DAYS, 1)},
               **{name.lower(): n for n, name in enumerate(
                   ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), 1)}}
_ENTRY = re.compile(r"^\s*(\w+)\s+(\d{1,2}:\d{2}(?::\d{2})?)\s*-\s*(\d{1,2}:\d{2}(?::\d{2})?)\s*$")
DAY_SECONDS = 86400
# User-facing names (the CLI's options) → ``create_timeslot``'s parameters.
TIMESLOT_NAMES = {"name": "name", "entries": "entries_given", "entity": "entities_id", "recursive": "is_recursive",
                  "comment": "comment"}
TIMESLOT_ALIASES = {"entry": "entries"}


def parse_time(value: Any, what: str) -> int:
    """Seconds since midnight from ``HH:MM[:SS]`` (``24:00`` is the end of the day) or a number."""
    if isinstance(value, bool):
        raise DefinitionError(f"{what} must be a time like 08:00")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value.strip()):
        parts = [int(p) for p in value.strip().split(":")] + [0]
        if parts[1] > 59 or parts[2] > 59:
            raise DefinitionError(f"{what} {value!r} is not a time of day")
        seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value.strip())
    else:
        raise DefinitionError(f"{what} must be a time like 08:00, got {value!r}")
    if not 0 <= seconds <= DAY_SECONDS:
        raise DefinitionError(f"{what} must be between 00:00 and 24:00")
    return seconds


def parse_day(value: Any) -> int:
    if isinstance(value, str) and value.strip().lower() in DAY_NUMBERS:
        return DAY_NUMBERS[value.strip().lower()]
    try:
        day = int(str(value).strip()) if not isinstance(value, bool) else 0
    except ValueError:
        day = 0
    if not 1 <= day <= 7:
        raise DefinitionError(f"day must be 1 (Monday) to 7 (Sunday), got {value!r}")
    return day


def parse_entry(value: Any) -> tuple[int, int, int]:
    """``"1 08:00-18:00"`` (or ``"mon 08:00-18:00"``), ``(day, begin, end)`` or
    ``{"day": 1, "begin": "08:00", "end": "18:00"}`` → (day, begin seconds, end seconds)."""
    if isinstance(value, str):
        match = _ENTRY.match(value)
        if match is None:
            raise DefinitionError(f"a timeslot entry is written like \"1 08:00-18:00\" (ISO weekday, "
                                  f"1 = Monday), got {value!r}")
        day, begin, end = match.groups()
    elif isinstance(value, dict) and set(value) == {"day", "begin", "end"}:
        day, begin, end = value["day"], value["begin"], value["end"]
    elif isinstance(value, (tuple, list)) and len(value) == 3:
        day, begin, end = value
    else:
        raise DefinitionError(f"a timeslot entry is written like \"1 08:00-18:00\", got {value!r}")
    day, begin, end = parse_day(day), parse_time(begin, "begin"), parse_time(end, "end")
    if end <= begin:
        raise DefinitionError(f"timeslot entry {entry_text(day, begin, end)}: "
                              "the end must be after the begin")
    return day, begin, end


def time_text(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    text = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
    return text + (f":{seconds % 60:02d}" if seconds % 60 else "")


def entry_text(day: int, begin: int | None, end: int | None) -> str:
    name = DAYS[day - 1] if 1 <= (day or 0) <= 7 else f"day {day}"
    return f"{name} {time_text(begin)}-{time_text(end)}"


def _entries(values: Iterable[Any] | None) -> list[tuple[int, int, int]]:
    if values is None:
        values = []
    if isinstance(values, (str, dict)):
        values = [values]
    parsed = sorted(parse_entry(value) for value in values)
    if not parsed:
        raise DefinitionError("a timeslot needs at least one entry, e.g. \"1 08:00-18:00\"")
    for previous, entry in zip(parsed, parsed[1:]):
        if previous[0] == entry[0] and entry[1] < previous[2]:
            raise DefinitionError(f"timeslot entries {entry_text(*previous)} and {entry_text(*entry)} "
                                  "overlap")
    return parsed


def _timeslots(conn: Connection, slot_ids: list[int] | None, limit: int = 1000) -> list[dict]:
    query = select(timeslots).order_by(timeslots.c.id).limit(limit)
    if slot_ids is not None:
        query = query.where(timeslots.c.id.in_(slot_ids))
    rows = conn.execute(query).all()
    by_slot: dict[int, list[dict]] = {row.id: [] for row in rows}
    if rows:
        for entry in conn.execute(
            select(entries).where(entries.c.plugin_fusioninventory_timeslots_id.in_(list(by_slot)))
            .order_by(entries.c.plugin_fusioninventory_timeslots_id, entries.c.day, entries.c.begin,
                      entries.c.id)
        ):
            by_slot[entry.plugin_fusioninventory_timeslots_id].append({
                "id": entry.id, "day": entry.day, "begin": entry.begin, "end": entry.end,
                "text": entry_text(entry.day, entry.begin, entry.end)})
    return [{"id": row.id, "name": ui_text(row.name), "entities_id": row.entities_id,
             "is_recursive": bool(row.is_recursive), "comment": ui_text(row.comment),
             "date_mod": date_text(row.date_mod), "entries": by_slot[row.id]} for row in rows]


def _timeslot_row(conn: Connection, slot_id: Any, lock: bool = False):
    return row_by_id(conn, timeslots, slot_id, "timeslot", lock=lock)


def create_timeslot(engine: Engine, name: str, entries_given: Iterable[Any], *, entities_id: int = 0,
                    is_recursive: bool = False, comment: str | None = None) -> dict:
    """A timeslot with its entries (``"1 08:00-18:00"``, ``(day, begin, end)`` or dicts)."""
    values = {"name": glpi_text(name, "timeslot name", required=True),
              "entities_id": positive_id(entities_id, "entity", allow_zero=True),
              "is_recursive": flag(is_recursive, "recursive"),
              "comment": glpi_text(comment, "comment", max_chars=65535)}
    parsed = _entries(entries_given)
    with engine.begin() as conn:
        entity_exists(conn, values["entities_id"])
        slot_id = conn.execute(
            insert(timeslots).values({**values, "date_mod": local_now()})).inserted_primary_key[0]
        conn.execute(insert(entries), [
            {"plugin_fusioninventory_timeslots_id": slot_id, "entities_id": values["entities_id"],
             "is_recursive": values["is_recursive"], "day": day, "begin": begin, "end": end}
            for day, begin, end in parsed])
        [created] = _timeslots(conn, [slot_id])
    log.info("timeslot %d %r created with %d entries", slot_id, values["name"], len(parsed))
    return created


def list_timeslots(engine: Engine, *, limit: int = 1000) -> list[dict]:
    with engine.connect() as conn:
        return _timeslots(conn, None, limit)


def get_timeslot(engine: Engine, slot_id: Any) -> dict:
    with engine.connect() as conn:
        return _timeslots(conn, [_timeslot_row(conn, slot_id).id])[0]


def delete_timeslot(engine: Engine, slot_id: Any) -> dict:
    """Delete the timeslot and its entries; refused while a task uses it."""
    with engine.begin() as conn:
        row = _timeslot_row(conn, slot_id, lock=True)
        used_by = conn.execute(select(tasks.c.id).where(or_(
            tasks.c.plugin_fusioninventory_timeslots_prep_id == row.id,
            tasks.c.plugin_fusioninventory_timeslots_exec_id == row.id)).order_by(tasks.c.id)).scalars().all()
        if used_by:
            raise DefinitionError(f"timeslot {row.id} is used by task(s) {', '.join(map(str, used_by))}")
        conn.execute(delete(entries).where(entries.c.plugin_fusioninventory_timeslots_id == row.id))
        conn.execute(delete(timeslots).where(timeslots.c.id == row.id))
    log.info("timeslot %d deleted", row.id)
    return {"id": row.id, "deleted": True}
