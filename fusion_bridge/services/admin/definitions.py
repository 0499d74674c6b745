"""Task definitions: tasks and their actions (taskjobs), as GLPI's UI with the plugin stores them.

Every public function takes an Engine and does its work in one transaction of its own: a call
writes everything or nothing. Bad input raises ``DefinitionError`` with a message meant for
the administrator; an unknown id raises ``NotFound`` (both from ``fusion_bridge.errors``).

The shared ground (errors, stored value formats, items of targets/actors) is in
``definitions_base``; IP ranges and SNMP credentials in ``definitions_network``, timeslots in
``definitions_timeslots``, the views of runs in ``history``.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.domain.text import local_now
from fusion_bridge.services import runs as runs_service
from fusion_bridge.services.admin.base import (  # noqa: F401 - re-exported for callers
    CHUNK,
    ITEM_ALIASES,
    METHODS,
    DefinitionError,
    NotFound,
    check_items,
    date_text,
    describe_items,
    encode_items,
    entity_exists,
    flag,
    glpi_text,
    log_word,
    method_name,
    parse_datetime,
    parse_item,
    positive_id,
    reject_unknown,
    row_by_id,
    state_word,
    ui_text,
    user_fields,
)
from fusion_bridge.services.admin import task_settings as settings
from schema.constants import TaskjobState as State

log = logging.getLogger("fusion_bridge.definitions")

tasks = schema.tasks
jobs = schema.taskjobs
runs = schema.taskjobstates
logs = schema.taskjoblogs

DISABLED_COMMENT = "Task has been disabled"


# --- tasks -----------------------------------------------------------------------------------

# User-facing names (the CLI's options, ``-`` as ``_``) → the names the code uses; the latter
# (``entities_id``, ``datetime_start``, ...) are still accepted by the API.
TASK_NAMES = {"name": "name", "entity": "entities_id", "comment": "comment", "active": "is_active",
              "start": "datetime_start", "end": "datetime_end", "prep_timeslot": "timeslot_prep_id",
              "exec_timeslot": "timeslot_exec_id", "reprepare_if_successful": "reprepare_if_successful"}
TASK_FIELDS = tuple(TASK_NAMES)
_TASK_COLUMNS = {"timeslot_prep_id": "plugin_fusioninventory_timeslots_prep_id",
                 "timeslot_exec_id": "plugin_fusioninventory_timeslots_exec_id"}
_TASK_LABELS = {internal: user for user, internal in TASK_NAMES.items()}


def split_task_fields(given: Mapping[str, Any]) -> tuple[dict, dict]:
    """(task fields keyed by the code's names, bridge settings) of ``given``, a task's fields
    and settings by user-facing names; unknown names are refused."""
    values = user_fields(given, {**TASK_NAMES, **{name: name for name in settings.TASK_NAMES}}, "task")
    setting_part = {name: values.pop(name) for name in list(values) if name in settings.TASK_NAMES}
    return values, setting_part


def _task_values(conn: Connection, given: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict:
    """Validated column values for the fields in ``given`` (code's names; merged with ``current``
    for checks). Messages name the fields as the administrator writes them."""
    reject_unknown(given, _TASK_LABELS, "task")
    values: dict[str, Any] = {}
    if "name" in given or current is None:
        values["name"] = glpi_text(given.get("name"), "task name", required=True)
    if "comment" in given:
        values["comment"] = glpi_text(given["comment"], "comment", max_chars=65535)
    if "entities_id" in given or current is None:
        values["entities_id"] = positive_id(given.get("entities_id", 0), "entity", allow_zero=True)
        entity_exists(conn, values["entities_id"])
    for field in ("is_active", "reprepare_if_successful"):
        if field in given:
            values[field] = flag(given[field], _TASK_LABELS[field])
    for field in ("timeslot_prep_id", "timeslot_exec_id"):
        if field in given:
            slot = 0 if given[field] is None else positive_id(given[field], _TASK_LABELS[field], allow_zero=True)
            slots = schema.timeslots
            if slot and conn.execute(select(slots.c.id).where(slots.c.id == slot)).first() is None:
                raise DefinitionError(f"timeslot {slot} does not exist")
            values[_TASK_COLUMNS[field]] = slot
    for field in ("datetime_start", "datetime_end"):
        if field in given:
            values[field] = parse_datetime(given[field], _TASK_LABELS[field])
    start = values.get("datetime_start", current["datetime_start"] if current else None)
    end = values.get("datetime_end", current["datetime_end"] if current else None)
    if end is not None and start is None:
        raise DefinitionError("end needs a start (the plugin never prepares a task that has only an end)")
    if start is not None and end is not None and end < start:
        raise DefinitionError("end is before start")
    return values


def _task_dict(row) -> dict:
    return {
        "id": row.id,
        "name": ui_text(row.name),
        "entities_id": row.entities_id,
        "comment": ui_text(row.comment),
        "is_active": bool(row.is_active),
        "date_creation": date_text(row.date_creation),
        "datetime_start": date_text(row.datetime_start),
        "datetime_end": date_text(row.datetime_end),
        "timeslot_prep_id": row.plugin_fusioninventory_timeslots_prep_id,
        "timeslot_exec_id": row.plugin_fusioninventory_timeslots_exec_id,
        "reprepare_if_successful": bool(row.reprepare_if_successful),
        "is_deploy_on_demand": bool(row.is_deploy_on_demand),
    }


def _task_row(conn: Connection, task_id: Any, lock: bool = False):
    return row_by_id(conn, tasks, task_id, "task", lock=lock)


def create_task(engine: Engine, name: str, *, entities_id: int = 0, comment: str | None = None,
                is_active: bool = False, datetime_start: Any = None, datetime_end: Any = None,
                timeslot_prep_id: int = 0, timeslot_exec_id: int = 0,
                reprepare_if_successful: bool = True, settings_given: Mapping[str, Any] | None = None) -> dict:
    """A new task (inactive unless ``is_active``); wake-up settings are left at 0 (none).

    ``settings_given``: the bridge's task settings (``communication``, ``period``, ...), stored
    in the same transaction, so a task created active is never prepared without them.
    """
    given = {"name": name, "entities_id": entities_id, "comment": comment, "is_active": is_active,
             "datetime_start": datetime_start, "datetime_end": datetime_end,
             "timeslot_prep_id": timeslot_prep_id, "timeslot_exec_id": timeslot_exec_id,
             "reprepare_if_successful": reprepare_if_successful}
    setting_values = settings.task_setting_values(settings_given or {})
    with engine.begin() as conn:
        values = _task_values(conn, given, None)
        values.update(date_creation=local_now(), wakeup_agent_counter=0, wakeup_agent_time=0,
                      is_deploy_on_demand=0)
        task_id = conn.execute(insert(tasks).values(values)).inserted_primary_key[0]
        _forget_bridge_rows(conn, task_id)  # left by a purged task that had this id
        if setting_values:
            settings.store_task_settings(conn, task_id, setting_values)
        task = _task_dict(_task_row(conn, task_id))
        if setting_values:
            task["settings"] = settings.describe_task_settings(settings.task_settings(conn, task_id))
    log.info("task %d %r created", task_id, values["name"])
    return task


def create_task_from(engine: Engine, given: Mapping[str, Any]) -> dict:
    """``create_task`` from fields and settings by user-facing names (the API's body)."""
    fields, setting_part = split_task_fields(given)
    if "name" not in fields:
        raise DefinitionError("task name is required")
    return create_task(engine, fields.pop("name"), **fields, settings_given=setting_part)


def list_tasks(engine: Engine, *, limit: int = 1000) -> list[dict]:
    """Tasks by id, each with its number of actions."""
    counts = (select(jobs.c.plugin_fusioninventory_tasks_id.label("task_id"), func.count().label("n"))
              .group_by(jobs.c.plugin_fusioninventory_tasks_id).subquery())
    with engine.connect() as conn:
        rows = conn.execute(
            select(tasks, func.coalesce(counts.c.n, 0).label("actions"))
            .outerjoin(counts, counts.c.task_id == tasks.c.id)
            .order_by(tasks.c.id).limit(limit)
        ).all()
    return [{**_task_dict(row), "actions": row.actions} for row in rows]


def get_task(engine: Engine, task_id: Any) -> dict:
    """The task with its actions and the number of its runs in each state."""
    with engine.connect() as conn:
        task = _task_dict(_task_row(conn, task_id))
        task["actions"] = _actions(conn, task["id"])
        counts = conn.execute(
            select(runs.c.state, func.count())
            .select_from(runs.join(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id))
            .where(jobs.c.plugin_fusioninventory_tasks_id == task["id"]).group_by(runs.c.state)
        ).all()
        task["settings"] = settings.describe_task_settings(settings.task_settings(conn, task["id"]))
    task["runs"] = {state_word(state): n for state, n in sorted(counts)}
    return task


def update_task(engine: Engine, task_id: Any, changes: Mapping[str, Any]) -> dict:
    """Change some fields and bridge settings (by user-facing names, ``active``, ``start``,
    ``period``, ...) in one transaction; deactivating cancels the task's prepared runs."""
    fields, setting_part = split_task_fields(changes)
    setting_values = settings.task_setting_values(setting_part)
    with engine.begin() as conn:
        current = _task_row(conn, task_id, lock=True)
        values = _task_values(conn, fields, current._mapping)
        if values:
            conn.execute(update(tasks).where(tasks.c.id == current.id).values(values))
        if "entities_id" in values:
            conn.execute(update(jobs).where(jobs.c.plugin_fusioninventory_tasks_id == current.id)
                         .values(entities_id=values["entities_id"]))
        if setting_values:
            settings.store_task_settings(conn, current.id, setting_values)
        cancelled = _cancel_prepared(conn, current.id) if values.get("is_active") == 0 else 0
        task = _task_dict(_task_row(conn, current.id))
        if setting_values:
            task["settings"] = settings.describe_task_settings(settings.task_settings(conn, current.id))
    log.info("task %d updated: %s", current.id, ", ".join(sorted(changes)) or "nothing")
    if values.get("is_active") == 0:
        task["cancelled_runs"] = cancelled
    return task


def enable_task(engine: Engine, task_id: Any) -> dict:
    return update_task(engine, task_id, {"is_active": True})


def disable_task(engine: Engine, task_id: Any) -> dict:
    """Deactivate; its prepared runs are cancelled "Task has been disabled" (the plugin's
    ``post_updateItem``). Runs already handed to agents go on."""
    return update_task(engine, task_id, {"is_active": False})


def _cancel_prepared(conn: Connection, task_id: int) -> int:
    """Cancel the task's runs still in state Prepared, with their log line.

    ``runs.cancel`` would also cancel runs a concurrent PROLOG has just started; here only
    Prepared runs move (locked rows, state re-checked in the UPDATE).
    """
    job_ids = select(jobs.c.id).where(jobs.c.plugin_fusioninventory_tasks_id == task_id)
    run_ids = conn.execute(
        select(runs.c.id).where(and_(runs.c.plugin_fusioninventory_taskjobs_id.in_(job_ids),
                                     runs.c.state == State.PREPARED)).with_for_update()
    ).scalars().all()
    return len(runs_service.move_many(conn, run_ids, runs_service.Move.CANCEL, local_now(), DISABLED_COMMENT,
                                      only_from=(State.PREPARED,)))


def _forget_bridge_rows(conn: Connection, task_id: int | None = None, job_ids=()) -> None:
    """The bridge's own rows of a task and of actions (settings, execution), which must not
    outlive them nor be inherited by a new task or action that gets the same id."""
    if task_id is not None:
        bridge_tasks = schema.bridge_tasks
        conn.execute(delete(bridge_tasks).where(bridge_tasks.c.plugin_fusioninventory_tasks_id == task_id))
    if job_ids:
        conn.execute(delete(schema.bridge_taskjobs)
                     .where(schema.bridge_taskjobs.c.plugin_fusioninventory_taskjobs_id.in_(list(job_ids))))


def _delete_runs_of_jobs(conn: Connection, job_ids) -> tuple[int, int]:
    """Delete the runs of these actions and their logs (and the bridge's rows of them);
    (runs, logs) deleted."""
    run_ids = select(runs.c.id).where(runs.c.plugin_fusioninventory_taskjobs_id.in_(job_ids))
    deleted_logs = conn.execute(
        delete(logs).where(logs.c.plugin_fusioninventory_taskjobstates_id.in_(run_ids))).rowcount
    conn.execute(delete(schema.bridge_runs).where(
        schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id.in_(run_ids)))
    deleted_runs = conn.execute(
        delete(runs).where(runs.c.plugin_fusioninventory_taskjobs_id.in_(job_ids))).rowcount
    return deleted_runs, deleted_logs


def delete_task(engine: Engine, task_id: Any) -> dict:
    """Delete the task, its actions, their runs and run logs (the plugin's purge)."""
    with engine.begin() as conn:
        task = _task_row(conn, task_id, lock=True)
        job_ids = conn.execute(
            select(jobs.c.id).where(jobs.c.plugin_fusioninventory_tasks_id == task.id)).scalars().all()
        deleted_runs = deleted_logs = 0
        for start in range(0, len(job_ids), CHUNK):
            r, n = _delete_runs_of_jobs(conn, job_ids[start:start + CHUNK])
            deleted_runs, deleted_logs = deleted_runs + r, deleted_logs + n
        conn.execute(delete(jobs).where(jobs.c.plugin_fusioninventory_tasks_id == task.id))
        conn.execute(delete(tasks).where(tasks.c.id == task.id))
        _forget_bridge_rows(conn, task.id, job_ids)
    log.info("task %d deleted with %d action(s), %d run(s)", task.id, len(job_ids), deleted_runs)
    return {"id": task.id, "deleted": True, "actions": len(job_ids), "runs": deleted_runs,
            "logs": deleted_logs}


# --- actions (taskjobs) ----------------------------------------------------------------------

ACTION_NAMES = {"name": "name", "method": "method", "targets": "targets", "actors": "actors", "comment": "comment"}
# The CLI repeats --target and --actor: the singular names are accepted too.
ACTION_ALIASES = {"target": "targets", "actor": "actors"}
ACTION_FIELDS = tuple(ACTION_NAMES)


def split_action_fields(given: Mapping[str, Any]) -> tuple[dict, dict]:
    """(action fields, bridge settings) of ``given`` by user-facing names (``max_agents``,
    ``retries``, ...; the settings' column names too); unknown names are refused."""
    values = user_fields(given, {**ACTION_NAMES, **settings.JOB_NAMES}, "action", ACTION_ALIASES)
    setting_columns = set(settings.JOB_NAMES.values())
    setting_part = {name: values.pop(name) for name in list(values) if name in setting_columns}
    return values, setting_part


def _action_dict(conn: Connection, row) -> dict:
    return {
        "id": row.id,
        "task_id": row.plugin_fusioninventory_tasks_id,
        "entities_id": row.entities_id,
        "name": ui_text(row.name),
        "method": row.method,
        "date_creation": date_text(row.date_creation),
        "comment": ui_text(row.comment),
        "targets": describe_items(conn, row.targets),
        "actors": describe_items(conn, row.actors),
    }


def _actions(conn: Connection, task_id: int) -> list[dict]:
    rows = conn.execute(
        select(jobs).where(jobs.c.plugin_fusioninventory_tasks_id == task_id).order_by(jobs.c.id)).all()
    return [_action_dict(conn, row) for row in rows]


def _action_row(conn: Connection, action_id: Any, lock: bool = False):
    return row_by_id(conn, jobs, action_id, "action", lock=lock)


def _item_list(values: Any, what: str) -> list[tuple[str, int]]:
    if values is None:
        return []
    if isinstance(values, (str, Mapping)):
        values = [values]
    items: list[tuple[str, int]] = []
    for value in values:
        item = parse_item(value)
        if item not in items:
            items.append(item)
    return items


def _action_values(conn: Connection, given: Mapping[str, Any], current) -> dict:
    reject_unknown(given, ACTION_FIELDS, "action")
    values: dict[str, Any] = {}
    if "name" in given or current is None:
        values["name"] = glpi_text(given.get("name"), "action name", required=True)
    if "comment" in given:
        values["comment"] = glpi_text(given["comment"], "comment", max_chars=65535)
    method = method_name(given["method"]) if "method" in given or current is None else current.method
    if method not in METHODS:
        raise DefinitionError(f"action {current.id} has method {method!r}, which cannot be edited here")
    values["method"] = method
    allowed_targets, allowed_actors = METHODS[method]
    for field, allowed in (("targets", allowed_targets), ("actors", allowed_actors)):
        if field in given or current is None or "method" in given:
            items = (_item_list(given.get(field), field) if field in given or current is None
                     else runs_service.parse_item_list(getattr(current, field)))
            check_items(conn, items, allowed, field, method)
            values[field] = encode_items(items)
    return values


def add_action(engine: Engine, task_id: Any, name: str, method: str, targets: Iterable,
               actors: Iterable, *, comment: str | None = None,
               settings_given: Mapping[str, Any] | None = None) -> dict:
    """A new action of the task. ``targets``/``actors``: (itemtype, id) pairs, ``"iprange:1"``
    strings or ``{"itemtype": ..., "id": ...}``; stored in the plugin's JSON form.

    ``settings_given``: the bridge's action settings (``pool``, ``max_agents``, ``balance``,
    ...), stored in the same transaction: the task's row is locked while the action is added,
    and a preparation pass reads the action with its settings or not at all.
    """
    setting_values = settings.job_setting_values(settings_given or {})
    with engine.begin() as conn:
        task = _task_row(conn, task_id, lock=True)
        given = {"name": name, "method": method, "targets": targets, "actors": actors, "comment": comment}
        values = _action_values(conn, given, None)
        values.update(plugin_fusioninventory_tasks_id=task.id, entities_id=task.entities_id,
                      date_creation=local_now(), rescheduled_taskjob_id=0)
        action_id = conn.execute(insert(jobs).values(values)).inserted_primary_key[0]
        _forget_bridge_rows(conn, job_ids=[action_id])  # left by a purged action that had this id
        if setting_values:
            settings.store_job_settings(conn, action_id, setting_values)
        action = _action_dict(conn, _action_row(conn, action_id))
        action["settings"] = settings.describe_job_settings(settings.job_settings(conn, action_id))
    log.info("action %d (%s) added to task %d", action_id, values["method"], task.id)
    return action


def add_action_from(engine: Engine, task_id: Any, given: Mapping[str, Any]) -> dict:
    """``add_action`` from fields and settings by user-facing names (the API's body)."""
    fields, setting_part = split_action_fields(given)
    return add_action(engine, task_id, fields.pop("name", None), fields.pop("method", None),
                      fields.pop("targets", None), fields.pop("actors", None), **fields,
                      settings_given=setting_part)


def list_actions(engine: Engine, task_id: Any = None, *, limit: int = 1000) -> list[dict]:
    with engine.connect() as conn:
        query = select(jobs).order_by(jobs.c.id).limit(limit)
        if task_id is not None:
            query = query.where(jobs.c.plugin_fusioninventory_tasks_id == _task_row(conn, task_id).id)
        return [_action_dict(conn, row) for row in conn.execute(query).all()]


def get_action(engine: Engine, action_id: Any) -> dict:
    with engine.connect() as conn:
        action = _action_dict(conn, _action_row(conn, action_id))
        action["settings"] = settings.describe_job_settings(settings.job_settings(conn, action["id"]))
        return action


def update_action(engine: Engine, action_id: Any, changes: Mapping[str, Any]) -> dict:
    """Change name, comment, method, targets or actors (all checked again as on creation) and
    the bridge settings (``max_agents``, ``balance``, ...), in one transaction."""
    fields, setting_part = split_action_fields(changes)
    setting_values = settings.job_setting_values(setting_part)
    with engine.begin() as conn:
        current = _action_row(conn, action_id, lock=True)
        values = _action_values(conn, fields, current)
        conn.execute(update(jobs).where(jobs.c.id == current.id).values(values))
        if setting_values:
            settings.store_job_settings(conn, current.id, setting_values)
        action = _action_dict(conn, _action_row(conn, current.id))
        action["settings"] = settings.describe_job_settings(settings.job_settings(conn, current.id))
    log.info("action %d updated: %s", current.id, ", ".join(sorted(changes)) or "nothing")
    return action


def remove_action(engine: Engine, action_id: Any) -> dict:
    """Delete the action with its runs and their logs (the plugin's ``purgeTaskjob``)."""
    with engine.begin() as conn:
        row = _action_row(conn, action_id, lock=True)
        deleted_runs, deleted_logs = _delete_runs_of_jobs(conn, [row.id])
        conn.execute(delete(jobs).where(jobs.c.id == row.id))
        _forget_bridge_rows(conn, job_ids=[row.id])
    log.info("action %d removed with %d run(s)", row.id, deleted_runs)
    return {"id": row.id, "deleted": True, "runs": deleted_runs, "logs": deleted_logs}
