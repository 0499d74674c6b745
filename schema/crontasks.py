"""The plugin's cron tasks that do what the bridge's scheduler does, and handing them over.

On a database both serve, GLPI's cron would run the plugin's preparation, wake-up and clean-up
next to the bridge's scheduler (docs/plugin-semantics.md §5, §9, §11; docs/schema.md §8): two
preparers that do not know of each other prepare a target twice, two wakers wake agents twice,
and the plugin's age-based clean-ups delete the runs an execution of the bridge relies on.

``take_over`` disables exactly the competing cron tasks that are enabled (``state`` 0 in
``glpi_crontasks``) and remembers their previous state in the bridge's meta table;
``hand_back`` puts those states back. Both are one transaction holding the cron rows locked,
and are idempotent: a second take-over keeps the first one's record.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import inspect, insert, select, update
from sqlalchemy.engine import Connection, Engine

from schema.bridge import bridge_meta
from schema.glpi_core_base import glpi_crontasks

log = logging.getLogger(__name__)

# (itemtype, name, what it does that the bridge's scheduler also does). The plugin's other
# cron tasks (cleannetworkportlogs, cleanoldagents) touch nothing the bridge manages.
COMPETING = (
    ("PluginFusioninventoryTask", "taskscheduler", "prepares task runs"),
    ("PluginFusioninventoryAgentWakeup", "wakeupAgents", "wakes the agents of prepared runs"),
    ("PluginFusioninventoryTaskjobstate", "cleantaskjob", "deletes runs by age, finished or not"),
    ("PluginFusioninventoryTask", "cleanondemand", "deletes the runs (and tasks) of on-demand deploys"),
    # The same four under glpiinventory's names on GLPI 10/11 (docs/glpi10-schema.md §4.1).
    ("PluginGlpiinventoryTask", "taskscheduler", "prepares task runs"),
    ("PluginGlpiinventoryAgentWakeup", "wakeupAgents", "wakes the agents of prepared runs"),
    ("PluginGlpiinventoryTaskjobstate", "cleantaskjob", "deletes runs by age, finished or not"),
    ("PluginGlpiinventoryTask", "cleanondemand", "deletes the runs (and tasks) of on-demand deploys"),
)
DISABLED = 0  # glpi_crontasks.state: 0 disabled, 1 waiting, 2 running
META_NAME = "crontasks_taken_over"


class TakeoverError(RuntimeError):
    """The database cannot be taken over or handed back as it is."""


@dataclass(frozen=True)
class CronTask:
    id: int
    itemtype: str
    name: str
    state: int
    purpose: str

    @property
    def enabled(self) -> bool:
        return self.state != DISABLED

    @property
    def label(self) -> str:
        return f"{self.itemtype}/{self.name}"


def competing_cron_tasks(conn: Connection, lock: bool = False) -> list[CronTask]:
    """The competing cron tasks registered in ``glpi_crontasks`` (none when the table is
    absent), in the order of ``COMPETING``."""
    if not inspect(conn).has_table(glpi_crontasks.name):
        return []
    wanted = {(itemtype, name): purpose for itemtype, name, purpose in COMPETING}
    query = (select(glpi_crontasks.c.id, glpi_crontasks.c.itemtype, glpi_crontasks.c.name, glpi_crontasks.c.state)
             .where(glpi_crontasks.c.itemtype.in_(sorted({i for i, _n, _p in COMPETING})),
                    glpi_crontasks.c.name.in_(sorted({n for _i, n, _p in COMPETING})))
             .order_by(glpi_crontasks.c.id))
    found = {}
    for row in conn.execute(query.with_for_update() if lock else query):
        # GLPI's collation compares case-insensitively; the record keeps GLPI's spelling.
        key = next((k for k in wanted if (k[0].lower(), k[1].lower()) == (row.itemtype.lower(), row.name.lower())),
                   None)
        if key is not None and key not in found:
            found[key] = CronTask(row.id, row.itemtype, row.name, row.state, wanted[key])
    return [found[(itemtype, name)] for itemtype, name, _p in COMPETING if (itemtype, name) in found]


def enabled_competing(conn: Connection) -> list[CronTask]:
    return [task for task in competing_cron_tasks(conn) if task.enabled]


@dataclass
class Change:
    id: int
    itemtype: str
    name: str
    before: int
    after: int


@dataclass
class TakeoverReport:
    action: str  # "takeover" or "handback"
    changed: list[Change] = field(default_factory=list)
    # Competing tasks left as they were, with why ("already disabled", "re-enabled since the
    # take-over: left as it is", "not registered in glpi_crontasks").
    unchanged: list[dict] = field(default_factory=list)
    taken_at: str | None = None

    def lines(self) -> list[str]:
        verb = "disabled" if self.action == "takeover" else "restored"
        out = [f"{verb} {c.itemtype}/{c.name} (id {c.id}): state {c.before} -> {c.after}" for c in self.changed]
        out += [f"left {u['itemtype']}/{u['name']}: {u['reason']}" for u in self.unchanged]
        if not self.changed:
            out.append("nothing changed")
        return out

    def to_dict(self) -> dict:
        return {"action": self.action, "changed": [asdict(c) for c in self.changed],
                "unchanged": self.unchanged, "taken_at": self.taken_at}


def _meta_ready(conn: Connection) -> None:
    if not inspect(conn).has_table(bridge_meta.name):
        raise TakeoverError(f"{bridge_meta.name} does not exist: run `fusion-bridge db init` first")
    if not inspect(conn).has_table(glpi_crontasks.name):
        raise TakeoverError(f"{glpi_crontasks.name} does not exist: this is not a GLPI database")


def _record(conn: Connection) -> dict | None:
    value = conn.execute(select(bridge_meta.c.value).where(bridge_meta.c.name == META_NAME)
                         .with_for_update()).scalar()
    if value is None:
        return None
    try:
        record = json.loads(value)
    except ValueError:
        raise TakeoverError(f"{bridge_meta.name} row {META_NAME!r} is not readable JSON: {value[:80]!r}") from None
    if not isinstance(record, dict) or not isinstance(record.get("tasks"), dict):
        raise TakeoverError(f"{bridge_meta.name} row {META_NAME!r} is not a take-over record")
    return record


def _plugin_family(conn: Connection) -> str:
    """The itemtype prefix of the plugin the database has: only its tasks can be missing."""
    glpiinventory = inspect(conn).has_table("glpi_plugin_glpiinventory_taskjobstates")
    return "PluginGlpiinventory" if glpiinventory else "PluginFusioninventory"


def _set_state(conn: Connection, task: CronTask, state: int) -> None:
    conn.execute(update(glpi_crontasks).where(glpi_crontasks.c.id == task.id).values(state=state))


def take_over(engine: Engine, now: datetime | None = None) -> TakeoverReport:
    """Disable the enabled competing cron tasks; remember each one's previous state."""
    with engine.begin() as conn:
        _meta_ready(conn)
        record = _record(conn)
        fresh = record is None
        record = record or {"taken_at": (now or datetime.now()).replace(microsecond=0).isoformat(sep=" "),
                            "tasks": {}}
        report = TakeoverReport("takeover", taken_at=record["taken_at"])
        tasks = competing_cron_tasks(conn, lock=True)
        for task in tasks:
            if not task.enabled:
                report.unchanged.append({"itemtype": task.itemtype, "name": task.name, "reason": "already disabled"})
                continue
            _set_state(conn, task, DISABLED)
            record["tasks"].setdefault(task.label, task.state)
            report.changed.append(Change(task.id, task.itemtype, task.name, task.state, DISABLED))
        registered = {(task.itemtype.lower(), task.name.lower()) for task in tasks}
        family = _plugin_family(conn)
        report.unchanged += [{"itemtype": i, "name": n, "reason": "not registered in glpi_crontasks"}
                             for i, n, _p in COMPETING
                             if i.startswith(family) and (i.lower(), n.lower()) not in registered]
        value = json.dumps(record, sort_keys=True)
        if fresh:
            conn.execute(insert(bridge_meta).values(name=META_NAME, value=value))
        else:
            conn.execute(update(bridge_meta).where(bridge_meta.c.name == META_NAME).values(value=value))
    for change in report.changed:
        log.warning("take-over: GLPI cron task %s/%s disabled (state %s -> 0); `fusion-bridge db handback` "
                    "restores it", change.itemtype, change.name, change.before)
    return report


def hand_back(engine: Engine) -> TakeoverReport:
    """Put back the states the take-over changed, for the tasks still disabled; forget the
    record. A task enabled again meanwhile (in GLPI's UI) is left as it is."""
    with engine.begin() as conn:
        _meta_ready(conn)
        record = _record(conn)
        if record is None:
            raise TakeoverError("nothing to hand back: the bridge has not taken the plugin's cron tasks over "
                                "(no `fusion-bridge db takeover` recorded)")
        report = TakeoverReport("handback", taken_at=record.get("taken_at"))
        current = {task.label: task for task in competing_cron_tasks(conn, lock=True)}
        order = {f"{itemtype}/{name}".lower(): rank for rank, (itemtype, name, _p) in enumerate(COMPETING)}
        for label, before in sorted(record["tasks"].items(), key=lambda item: order.get(item[0].lower(), 99)):
            itemtype, _, name = label.partition("/")
            task = current.get(label)
            if task is None:
                report.unchanged.append({"itemtype": itemtype, "name": name,
                                         "reason": "not registered in glpi_crontasks any more"})
            elif task.enabled:
                report.unchanged.append({"itemtype": itemtype, "name": name,
                                         "reason": f"enabled again since the take-over (state {task.state}): "
                                                   "left as it is"})
            else:
                _set_state(conn, task, int(before))
                report.changed.append(Change(task.id, task.itemtype, task.name, task.state, int(before)))
        conn.execute(bridge_meta.delete().where(bridge_meta.c.name == META_NAME))
    for change in report.changed:
        log.warning("hand-back: GLPI cron task %s/%s restored (state 0 -> %s)", change.itemtype, change.name,
                    change.after)
    return report
