"""Tasks, jobs, runs and their logs, IP ranges, credentials, deploy packages and agent modules, as
GLPI's UI with the plugin stores them; a run's state and log read back.

Every builder takes an engine (its own transaction) or an open connection, and returns the new
row's id; explicit ids are optional (the dispatch tests use them, the preparation tests let the
database choose).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable

from sqlalchemy import select, update

import schema
from fusion_bridge.adapters.secret_codec import codec_of
from fusion_bridge.domain.text import php_json
from schema.constants import ItemType, Method
from tests.helpers.db import insert_row, reading, writing

# The date of the log lines ``add_run`` writes (minute n for the n-th).
LOG_DATE = datetime(2024, 3, 5, 10, 0, 0)


def items_json(items: str | Iterable[tuple[str, int]] | None) -> str | None:
    """A job's targets or actors as the plugin stores them: a list of one-key objects with string
    ids, written like PHP's json_encode. A string is taken as already stored JSON."""
    if items is None or isinstance(items, str):
        return items
    return json.dumps([{itemtype: str(item_id)} for itemtype, item_id in items], separators=(",", ":"))


def add_task(bind, task_id: int | None = None, *, start: datetime | None = None, end: datetime | None = None,
             **values) -> int:
    """An active task of the root entity (``task <id>``, or ``task``), re-prepared after a success
    (9.5's default), running between ``start`` and ``end``; ``values`` override any column."""
    row = {"name": "task" if task_id is None else f"task {task_id}", "entities_id": 0, "is_active": 1,
           "datetime_start": start, "datetime_end": end, "plugin_fusioninventory_timeslots_exec_id": 0,
           "reprepare_if_successful": 1, **values}
    if task_id is not None:
        row["id"] = task_id
    return insert_row(bind, schema.tasks, **row)


def add_job(bind, task_id: int, targets, actors, method: str = Method.NETWORK_DISCOVERY, *,
            job_id: int | None = None, **values) -> int:
    """A job (an action) of a task; ``targets`` and ``actors`` as ``items_json`` takes them."""
    row = {"plugin_fusioninventory_tasks_id": task_id, "entities_id": 0,
           "name": "job" if job_id is None else f"job {job_id}", "method": method,
           "targets": items_json(targets), "actors": items_json(actors), **values}
    if job_id is not None:
        row["id"] = job_id
    return insert_row(bind, schema.taskjobs, **row)


def add_run(bind, run_id: int | None = None, job_id: int | None = None, agent_id: int | None = None,
            itemtype: str = ItemType.IP_RANGE, items_id: int = 1, state: int = 0, *,
            uniqid: str | None = None, logs: Iterable[tuple[int, str]] = (), **values) -> int:
    """A run (taskjobstate) as the preparation and the dispatch leave it, with its log lines
    ``logs`` (state, comment) at LOG_DATE + n minutes. Its uniqid is ``uniq<id on 9 digits>``
    unless given."""
    row = {"plugin_fusioninventory_taskjobs_id": job_id, "plugin_fusioninventory_agents_id": agent_id,
           "itemtype": itemtype, "items_id": items_id, "state": int(state),
           "uniqid": uniqid or ("" if run_id is None else f"uniq{run_id:09d}"), **values}
    if run_id is not None:
        row["id"] = run_id
    with writing(bind) as conn:
        run_id = insert_row(conn, schema.taskjobstates, **row)
        if not row["uniqid"]:
            conn.execute(update(schema.taskjobstates).where(schema.taskjobstates.c.id == run_id)
                         .values(uniqid=f"uniq{run_id:09d}"))
        for n, (log_state, comment) in enumerate(logs):
            add_log(conn, run_id, log_state, LOG_DATE.replace(minute=n), comment)
    return run_id


def add_log(bind, run_id: int, state: int, date: datetime, comment: str = "", *,
            itemtype: str | None = ItemType.AGENT, items_id: int = 0) -> int:
    """A line of a run's history (taskjoblog)."""
    return insert_row(bind, schema.taskjoblogs, plugin_fusioninventory_taskjobstates_id=run_id,
                      state=int(state), date=date, comment=comment, itemtype=itemtype, items_id=items_id)


def add_iprange(bind, start: str = "10.0.0.1", end: str = "10.0.0.254", *, range_id: int | None = None,
                entities_id: int = 0, credentials: Iterable[tuple[int, int]] = ()) -> int:
    """An IP range (``range <id>``, or ``<start>-<end>``) with its SNMP credentials, given as
    (configsecurity id, rank)."""
    row = {"name": f"{start}-{end}" if range_id is None else f"range {range_id}", "entities_id": entities_id,
           "ip_start": start, "ip_end": end}
    if range_id is not None:
        row["id"] = range_id
    with writing(bind) as conn:
        range_id = insert_row(conn, schema.ipranges, **row)
        for credential_id, rank in credentials:
            insert_row(conn, schema.ipranges_configsecurities, plugin_fusioninventory_ipranges_id=range_id,
                       plugin_fusioninventory_configsecurities_id=credential_id, rank=rank)
    return range_id


def add_esx_host(bind, ip: str = "127.0.0.1:1", *, password: str = "pw", credential_id: int = 2,
                 host_id: int = 1) -> int:
    """An ESX host to inventory (credential IP) with its root credential."""
    with writing(bind) as conn:
        # Encrypted with the engine's GLPI key on a glpiinventory database (docs/glpi-secrets.md §3).
        password = codec_of(conn).conceal(password, "ESX password")
        insert_row(conn, schema.credentials, id=credential_id, name="esx", username="root", password=password,
                   itemtype="PluginFusioninventoryInventoryComputerESX")
        return insert_row(conn, schema.credentialips, id=host_id, name="esx01",
                          plugin_fusioninventory_credentials_id=credential_id, ip=ip)


def add_package(bind, jobs: dict | None = None, files: dict | list | None = None, *,
                package_id: int | None = None, **values) -> int:
    """A deploy package; with ``jobs``, its ``json`` column as GLPI's UI writes it (``files``: its
    associatedFiles, by sha512)."""
    row = {"name": "package" if package_id is None else f"package {package_id}", "entities_id": 0, **values}
    if jobs is not None:
        row["json"] = php_json({"jobs": jobs, "associatedFiles": files or []})
    if package_id is not None:
        row["id"] = package_id
    return insert_row(bind, schema.deploypackages, **row)


def set_module(bind, module: str, active: bool, exceptions: Iterable[int] = ()) -> None:
    """An agent module (``Module``) on or off for every agent, but the agent ids in ``exceptions``."""
    with writing(bind) as conn:
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == module)
                     .values(is_active=int(active), exceptions=json.dumps([str(e) for e in exceptions])))


def run_state(bind, run_id: int) -> int | None:
    runs = schema.taskjobstates
    with reading(bind) as conn:
        return conn.execute(select(runs.c.state).where(runs.c.id == run_id)).scalar()


def run_of(bind, agent_id: int) -> dict:
    """The one run of agent ``agent_id`` (fails when it has none or several)."""
    runs = schema.taskjobstates
    with reading(bind) as conn:
        [run] = conn.execute(select(runs).where(runs.c.plugin_fusioninventory_agents_id == agent_id)).mappings()
    return dict(run)


def all_runs(bind, job_id: int | None = None) -> list:
    """Every run (of job ``job_id`` when given), by id, as mappings."""
    runs = schema.taskjobstates
    statement = select(runs).order_by(runs.c.id)
    if job_id is not None:
        statement = statement.where(runs.c.plugin_fusioninventory_taskjobs_id == job_id)
    with reading(bind) as conn:
        return conn.execute(statement).mappings().all()


def run_logs(bind, run_id: int, *, with_item: bool = False) -> list[tuple]:
    """A run's history as (state, comment), oldest first; ``with_item`` adds each line's
    (itemtype, items_id)."""
    logs = schema.taskjoblogs
    columns = [logs.c.state, logs.c.comment] + ([logs.c.itemtype, logs.c.items_id] if with_item else [])
    with reading(bind) as conn:
        return [tuple(row) for row in conn.execute(
            select(*columns).where(logs.c.plugin_fusioninventory_taskjobstates_id == run_id)
            .order_by(logs.c.id))]


def wakeup_history(bind) -> list:
    """Every wake-up attempt recorded (the bridge's wakeups table), oldest first, as mappings."""
    wakeups = schema.bridge_wakeups
    with reading(bind) as conn:
        return conn.execute(select(wakeups).order_by(wakeups.c.id)).mappings().all()


def add_push_task(bind, task_id: int, *, start: datetime, end: datetime | None = None, timeout: int = 60,
                  retries: int = 2, counter: int = 0, minutes: int = 0, communication: str | None = "push",
                  active: int = 1) -> None:
    """A task with one Wake-on-LAN job (id = the task's) and, unless ``communication`` is None,
    its bridge row (push time-out and retries); ``counter`` and ``minutes`` are GLPI's wake-up
    settings of pull tasks."""
    with writing(bind) as conn:
        add_task(conn, task_id, start=start, end=end, is_active=active, wakeup_agent_counter=counter,
                 wakeup_agent_time=minutes)
        if communication is not None:
            insert_row(conn, schema.bridge_tasks, plugin_fusioninventory_tasks_id=task_id,
                       communication=communication, push_timeout=timeout, push_retries=retries)
        add_job(conn, task_id, "[]", "[]", Method.WAKEONLAN, job_id=task_id)


def pushes(bind) -> dict[int, tuple[int, datetime | None]]:
    """Run id -> (times pushed, last push) of every run the push has a bridge row for."""
    bridge_runs = schema.bridge_runs
    with reading(bind) as conn:
        return {row.plugin_fusioninventory_taskjobstates_id: (row.pushes, row.pushed_at)
                for row in conn.execute(select(bridge_runs))}


# The ``json`` of a package GLPI's UI has just created (no check, file, action or interaction).
NEW_PACKAGE_JSON = ('{"jobs":{"checks":[],"associatedFiles":[],"actions":[],"userinteractions":[]},'
                    '"associatedFiles":[]}')
