"""The bridge's own settings of tasks and actions: what the 9.5 schema cannot express.

Push or pull, periodicity (``glpi_plugin_fusionbridge_tasks``); agent pool, load balancing,
retries and ordering of an action (``glpi_plugin_fusionbridge_taskjobs``). A task or action
without a row has the defaults, which are the 9.5 plugin's behaviour. Reading goes through
``task_settings``/``job_settings`` (one row, defaults filled in); writing validates every value
and upserts the row in one transaction. GLPI's own wake-up columns of the task
(``wakeup_agent_counter``/``wakeup_agent_time``) stay where GLPI keeps them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.services.admin.base import DefinitionError, NotFound, user_fields

bridge_tasks, bridge_jobs = schema.bridge_tasks, schema.bridge_taskjobs

COMMUNICATIONS = ("pull", "push")
PERIOD_UNITS = ("minutes", "hours", "days", "months")
POOLS = ("", "module", "subnet")
# A century at most: longer periods are a typing error, and dates past year 9999 do not exist.
MAX_PERIOD = {"minutes": 100 * 525_600, "hours": 100 * 8_760, "days": 36_500, "months": 1_200}
_PERIOD = re.compile(r"^\s*(\d+)\s*(mo|months?|m|min|minutes?|h|hours?|d|days?)\s*$", re.IGNORECASE)
_UNIT_ALIASES = {"m": "minutes", "min": "minutes", "minute": "minutes", "minutes": "minutes",
                 "h": "hours", "hour": "hours", "hours": "hours", "d": "days", "day": "days", "days": "days",
                 "mo": "months", "month": "months", "months": "months"}


@dataclass(frozen=True)
class TaskSettings:
    communication: str = "pull"
    push_timeout: int = 300  # seconds a woken agent has to call in
    push_retries: int = 2  # wake-ups after the first one before the run goes to Error
    periodicity_count: int = 0  # 0: not periodic
    periodicity_type: str = "minutes"
    execution_id: int = 0
    execution_start: Any = None
    last_push: int = 0

    @property
    def push(self) -> bool:
        return self.communication == "push"

    @property
    def periodic(self) -> bool:
        return self.periodicity_count > 0


@dataclass(frozen=True)
class JobSettings:
    pool: str = ""  # '' = the listed actors only
    pool_max_agents: int = 0  # 0 = no cap
    balance: int = 0
    slice_retries: int = 2
    retry_count: int = 0
    retry_delay: int = 0  # minutes
    wait_previous: int = 0  # minutes after the previous action ended; -1 = do not wait for it


# User-facing names (the CLI's options, ``-`` as ``_``) → columns. ``period`` sets both
# ``periodicity_count`` and ``periodicity_type``, which are also accepted one by one.
TASK_NAMES = {"communication": "communication", "push_timeout": "push_timeout", "push_retries": "push_retries",
              "period": "period", "periodicity_count": "periodicity_count",
              "periodicity_type": "periodicity_type"}
JOB_NAMES = {"pool": "pool", "max_agents": "pool_max_agents", "balance": "balance",
             "slice_retries": "slice_retries", "retries": "retry_count", "retry_delay": "retry_delay",
             "wait_previous": "wait_previous"}
TASK_FIELDS = tuple(TASK_NAMES)
JOB_FIELDS = tuple(JOB_NAMES)
_JOB_LABELS = {internal: user for user, internal in JOB_NAMES.items()}


def _row_to(cls, row) -> Any:
    if row is None:
        return cls()
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in row._mapping.items() if k in names})


def task_settings(conn: Connection, task_id: int) -> TaskSettings:
    row = conn.execute(select(bridge_tasks).where(bridge_tasks.c.plugin_fusioninventory_tasks_id == task_id)).first()
    return _row_to(TaskSettings, row)


def job_settings(conn: Connection, job_id: int) -> JobSettings:
    row = conn.execute(select(bridge_jobs).where(bridge_jobs.c.plugin_fusioninventory_taskjobs_id == job_id)).first()
    return _row_to(JobSettings, row)


def parse_period(text: str | None) -> tuple[int, str]:
    """``"30m"``, ``"2h"``, ``"1d"``, ``"3mo"``, ``"90 minutes"`` → (count, unit); ``"0"``/''/``"none"`` → not periodic."""
    if text is None or str(text).strip().lower() in ("", "0", "none", "off"):
        return 0, "minutes"
    match = _PERIOD.match(str(text))
    if not match:
        raise DefinitionError(f"period {text!r}: expected a number and a unit, e.g. 30m, 2h, 1d, 1mo")
    return int(match.group(1)), _UNIT_ALIASES[match.group(2).lower()]


def _integer(name: str, value: Any, minimum: int, maximum: int = 10**9) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DefinitionError(f"{name} must be a whole number, got {value!r}") from None
    if isinstance(value, float) and value != number or not minimum <= number <= maximum:
        raise DefinitionError(f"{name} must be between {minimum} and {maximum}, got {value!r}")
    return number


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    text = "" if value is None else str(value).strip().lower()
    if name == "pool" and text in ("none", "agents", "listed"):
        text = ""
    if text not in choices:
        raise DefinitionError(f"{name} must be one of {', '.join(c or 'none' for c in choices)}, got {value!r}")
    return text


def task_setting_values(changes: Mapping[str, Any]) -> dict:
    """Validated column values of task settings given by their user-facing names."""
    given = user_fields(changes, TASK_NAMES, "task setting")
    values: dict[str, Any] = {}
    for name, value in given.items():
        if name == "communication":
            values[name] = _choice(name, value, COMMUNICATIONS)
        elif name == "push_timeout":
            values[name] = _integer(name, value, 5, 7 * 86400)
        elif name == "push_retries":
            values[name] = _integer(name, value, 0, 100)
        elif name == "periodicity_count":
            values[name] = _integer(name, value, 0, 10**6)
        elif name == "periodicity_type":
            values[name] = _choice(name, value, PERIOD_UNITS)
        elif name == "period":
            values["periodicity_count"], values["periodicity_type"] = parse_period(value)
    return values


def job_setting_values(changes: Mapping[str, Any]) -> dict:
    """Validated column values of action settings given by their user-facing names
    (``max_agents``, ``retries``; the column names ``pool_max_agents``, ``retry_count`` too)."""
    given = user_fields(changes, JOB_NAMES, "action setting")
    values: dict[str, Any] = {}
    for column, value in given.items():
        name = _JOB_LABELS[column]
        if column == "pool":
            values[column] = _choice(name, value, POOLS)
        elif column == "balance":
            if isinstance(value, str):
                value = value.strip().lower() in ("1", "true", "yes", "on")
            values[column] = int(bool(value))
        elif column == "wait_previous":
            values[column] = _integer(name, value, -1, 10**6)
        else:
            values[column] = _integer(name, value, 0, 10**6)
    return values


def _upsert(conn: Connection, table, key: str, key_value: int, values: dict) -> None:
    exists = conn.execute(select(table.c[key]).where(table.c[key] == key_value).with_for_update()).first()
    if exists is None:
        conn.execute(insert(table).values({key: key_value, **values}))
    elif values:
        conn.execute(update(table).where(table.c[key] == key_value).values(values))


def store_task_settings(conn: Connection, task_id: int, values: Mapping[str, Any]) -> None:
    """Store validated ``task_setting_values`` for an existing task, in the caller's transaction."""
    current = task_settings(conn, task_id)
    count = values.get("periodicity_count", current.periodicity_count)
    unit = values.get("periodicity_type", current.periodicity_type)
    if count > MAX_PERIOD[unit]:
        raise DefinitionError(f"period {count} {unit} is longer than a century ({MAX_PERIOD[unit]} {unit})")
    _upsert(conn, bridge_tasks, "plugin_fusioninventory_tasks_id", task_id, dict(values))


def store_job_settings(conn: Connection, job_id: int, values: Mapping[str, Any]) -> None:
    """Store validated ``job_setting_values`` for an existing action, in the caller's transaction."""
    _upsert(conn, bridge_jobs, "plugin_fusioninventory_taskjobs_id", job_id, dict(values))


def set_task_settings(engine: Engine, task_id: int, changes: Mapping[str, Any]) -> dict:
    """Validate and store ``changes``; the task's settings after the change."""
    values = task_setting_values(changes)
    with engine.begin() as conn:
        if conn.execute(select(schema.tasks.c.id).where(schema.tasks.c.id == task_id)).first() is None:
            raise NotFound(f"no task {task_id}")
        store_task_settings(conn, task_id, values)
        return describe_task_settings(task_settings(conn, task_id))


def set_job_settings(engine: Engine, job_id: int, changes: Mapping[str, Any]) -> dict:
    """Validate and store ``changes``; the action's settings after the change."""
    values = job_setting_values(changes)
    with engine.begin() as conn:
        if conn.execute(select(schema.taskjobs.c.id).where(schema.taskjobs.c.id == job_id)).first() is None:
            raise NotFound(f"no action {job_id}")
        store_job_settings(conn, job_id, values)
        return describe_job_settings(job_settings(conn, job_id))


def get_task_settings(engine: Engine, task_id: int) -> dict:
    with engine.connect() as conn:
        if conn.execute(select(schema.tasks.c.id).where(schema.tasks.c.id == task_id)).first() is None:
            raise NotFound(f"no task {task_id}")
        return describe_task_settings(task_settings(conn, task_id))


def get_job_settings(engine: Engine, job_id: int) -> dict:
    with engine.connect() as conn:
        if conn.execute(select(schema.taskjobs.c.id).where(schema.taskjobs.c.id == job_id)).first() is None:
            raise NotFound(f"no action {job_id}")
        return describe_job_settings(job_settings(conn, job_id))


def describe_task_settings(settings: TaskSettings) -> dict:
    value = asdict(settings)
    start = value.pop("execution_start")
    value["execution_start"] = start.strftime("%Y-%m-%d %H:%M:%S") if start else None
    value["period"] = (f"{settings.periodicity_count} {settings.periodicity_type}" if settings.periodic else None)
    return value


def describe_job_settings(settings: JobSettings) -> dict:
    value = asdict(settings)
    value["pool"] = settings.pool or "none"
    value["balance"] = bool(settings.balance)
    return value
