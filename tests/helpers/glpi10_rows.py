"""Rows of a GLPI 10 + glpiinventory 1.5.x database written and read with raw SQL on GLPI 10's own
table and column names (docs/glpi10-schema.md), as GLPI's UI and core inventory leave them — never
through the bridge's layout, so the end-to-end tests check what GLPI itself would read.

Task rows follow what the plugin's UI stores (docs/schema-layouts.md §5, §7): targets and actors as
JSON lists of one-key objects with string ids (``[{"PluginGlpiinventoryIPRange":"1"}]``,
``[{"Agent":"3"}]``), ``restrict_to_task_entity`` 1, the plugin's ``plugin_glpiinventory_*``
foreign keys. Every builder takes an engine (its own transaction) or an open connection.
"""

from __future__ import annotations

import json
from typing import Iterable

from sqlalchemy import text

from fusion_bridge.domain.text import php_json
from tests.helpers.db import reading, writing

TASKS = "glpi_plugin_glpiinventory_tasks"
JOBS = "glpi_plugin_glpiinventory_taskjobs"
RUNS = "glpi_plugin_glpiinventory_taskjobstates"
LOGS = "glpi_plugin_glpiinventory_taskjoblogs"
RANGES = "glpi_plugin_glpiinventory_ipranges"
RANGE_CREDENTIALS = "glpi_plugin_glpiinventory_ipranges_snmpcredentials"

PUBLIC_V2C = 2  # glpi_snmpcredentials install row "Public community v2c" (snmpversion '2')


def class_list(items: Iterable[tuple[str, int]]) -> str:
    """Targets or actors as the plugin's UI stores them: PHP json_encode of one-key objects,
    ids as strings."""
    return json.dumps([{itemtype: str(item_id)} for itemtype, item_id in items], separators=(",", ":"))


def _insert(bind, table: str, **values) -> int:
    columns = ", ".join(f"`{name}`" for name in values)
    params = ", ".join(f":{name}" for name in values)
    with writing(bind) as conn:
        return conn.execute(text(f"INSERT INTO `{table}` ({columns}) VALUES ({params})"), values).lastrowid


def core_agent_type(bind) -> int:
    """The id of the agent type GLPI's core creates its agents with ('Core')."""
    with reading(bind) as conn:
        return conn.execute(text("SELECT id FROM glpi_agenttypes WHERE name = 'Core'")).scalar_one()


def add_agent(bind, deviceid: str, *, agent_id: int | None = None, computer_id: int = 0) -> int:
    """An agent as GLPI 10's core leaves it after its first inventory (docs/schema-layouts.md §3
    and the recordings): name = deviceid, type Core, itemtype Computer, items_id the computer (0 before an
    import), the threads/timeout columns written 0, the FusionInventory agent's User-Agent, and the
    ``use_module_*`` flags 0 (only a GLPI Agent's CONTACT sets them)."""
    values = {"deviceid": deviceid, "name": deviceid, "entities_id": 0, "is_recursive": 0,
              "agenttypes_id": core_agent_type(bind), "itemtype": "Computer", "items_id": computer_id,
              "useragent": "FusionInventory-Agent_v2.6", "threads_networkdiscovery": 0,
              "threads_networkinventory": 0, "timeout_networkdiscovery": 0, "timeout_networkinventory": 0}
    if agent_id is not None:
        values["id"] = agent_id
    return _insert(bind, "glpi_agents", **values)


def agents_of(bind, deviceid: str) -> list[dict]:
    """The ``glpi_agents`` rows of ``deviceid`` with their type's name (``agenttype``)."""
    with reading(bind) as conn:
        return [dict(row) for row in conn.execute(text(
            "SELECT a.*, t.name AS agenttype FROM glpi_agents a "
            "LEFT JOIN glpi_agenttypes t ON t.id = a.agenttypes_id WHERE a.deviceid = :d"), {"d": deviceid}).mappings()]


def add_computer(bind, name: str) -> int:
    """A computer of the root entity as GLPI lists it (not deleted, not a template)."""
    return _insert(bind, "glpi_computers", name=name, entities_id=0, is_deleted=0, is_template=0, is_dynamic=1)


def add_iprange(bind, name: str, start: str, end: str, credentials: Iterable[int] = (PUBLIC_V2C,), *,
                range_id: int | None = None) -> int:
    """An IP range of the root entity and its SNMP credentials (rank 1, 2… in the order given), as
    the plugin's range form and its "Associated SNMP credentials" tab write them."""
    values = {"name": name, "entities_id": 0, "ip_start": start, "ip_end": end}
    if range_id is not None:
        values["id"] = range_id
    with writing(bind) as conn:
        range_id = _insert(conn, RANGES, **values)
        for rank, credential in enumerate(credentials, start=1):
            _insert(conn, RANGE_CREDENTIALS, plugin_glpiinventory_ipranges_id=range_id,
                    snmpcredentials_id=credential, rank=rank)
    return range_id


def add_task(bind, name: str, *, reprepare_if_successful: int = 1) -> int:
    """An active task of the root entity as the task form saves it: no schedule window, no
    timeslots, not on demand."""
    return _insert(bind, TASKS, name=name, entities_id=0, is_active=1, datetime_start=None, datetime_end=None,
                   plugin_glpiinventory_timeslots_prep_id=0, plugin_glpiinventory_timeslots_exec_id=0,
                   reprepare_if_successful=reprepare_if_successful, is_deploy_on_demand=0, wakeup_agent_counter=0,
                   wakeup_agent_time=0)


def add_job(bind, task_id: int, name: str, method: str, targets: Iterable[tuple[str, int]],
            actors: Iterable[tuple[str, int]]) -> int:
    """A job (an action) of ``task_id`` as the job form saves it, ``restrict_to_task_entity`` at
    its default 1."""
    return _insert(bind, JOBS, plugin_glpiinventory_tasks_id=task_id, entities_id=0, name=name, method=method,
                   targets=class_list(targets), actors=class_list(actors), rescheduled_taskjob_id=0,
                   restrict_to_task_entity=1)


def runs_of_job(bind, job_id: int) -> list[dict]:
    """The job's runs (taskjobstates), by id."""
    with reading(bind) as conn:
        return [dict(row) for row in conn.execute(text(
            f"SELECT * FROM {RUNS} WHERE plugin_glpiinventory_taskjobs_id = :j ORDER BY id"), {"j": job_id}).mappings()]


def run_state(bind, run_id: int) -> int:
    with reading(bind) as conn:
        return conn.execute(text(f"SELECT state FROM {RUNS} WHERE id = :r"), {"r": run_id}).scalar_one()


def joblogs(bind, run_id: int) -> list[tuple[int, str | None, int, str]]:
    """The run's log lines, oldest first: (state, itemtype, items_id, comment)."""
    with reading(bind) as conn:
        return [tuple(row) for row in conn.execute(text(
            f"SELECT state, itemtype, items_id, comment FROM {LOGS} "
            "WHERE plugin_glpiinventory_taskjobstates_id = :r ORDER BY id"), {"r": run_id})]


def set_module(bind, module: str, is_active: int) -> None:
    """An agent module switched on or off in the plugin's configuration (no exceptions)."""
    with writing(bind) as conn:
        conn.execute(text("UPDATE glpi_plugin_glpiinventory_agentmodules SET is_active = :a, exceptions = '[]' "
                          "WHERE modulename = :m"), {"a": is_active, "m": module})


def add_package(bind, name: str, jobs: dict) -> int:
    """A deploy package of the root entity, recursive, as the package form saves it (its ``json``
    holds the checks, files and actions, docs/plugin-semantics.md)."""
    return _insert(bind, "glpi_plugin_glpiinventory_deploypackages", name=name, entities_id=0, is_recursive=1,
                   json=php_json({"jobs": jobs, "associatedFiles": []}), plugin_glpiinventory_deploygroups_id=0)


def add_file_collect(bind, name: str, folder: str, iname: str) -> tuple[int, int]:
    """An active Collect of type file searching ``folder`` (not recursively) for files named
    ``iname`` (case-insensitive); (collect id, file search id)."""
    with writing(bind) as conn:
        collect_id = _insert(conn, "glpi_plugin_glpiinventory_collects", name=name, entities_id=0, is_recursive=0,
                             type="file", is_active=1)
        search_id = _insert(conn, "glpi_plugin_glpiinventory_collects_files", name=name,
                            plugin_glpiinventory_collects_id=collect_id, dir=folder, limit=10, is_recursive=0,
                            filter_iname=iname, filter_is_file=1, filter_is_dir=0)
    return collect_id, search_id


def collected_files(bind, search_id: int) -> list[tuple[int, str, int]]:
    """What a file search collected: (computers_id, pathfile, size), by path."""
    with reading(bind) as conn:
        return [tuple(row) for row in conn.execute(text(
            "SELECT computers_id, pathfile, size FROM glpi_plugin_glpiinventory_collects_files_contents "
            "WHERE plugin_glpiinventory_collects_files_id = :s ORDER BY pathfile"), {"s": search_id})]


def add_network_equipment(bind, name: str, ip: str, credential: int = PUBLIC_V2C) -> int:
    """A network device as GLPI 10's discovery import leaves it (docs/schema-layouts.md §4): the asset, its
    SNMP credential, a 'Management' aggregate port carrying its address through
    glpi_networknames / glpi_ipaddresses."""
    with writing(bind) as conn:
        device = _insert(conn, "glpi_networkequipments", name=name, entities_id=0, is_deleted=0, is_template=0,
                         is_dynamic=1, autoupdatesystems_id=1, snmpcredentials_id=credential)
        port = _insert(conn, "glpi_networkports", itemtype="NetworkEquipment", items_id=device, entities_id=0,
                       name="Management", instantiation_type="NetworkPortAggregate", logical_number=0, is_dynamic=1)
        _insert(conn, "glpi_networkportaggregates", networkports_id=port)
        network_name = _insert(conn, "glpi_networknames", itemtype="NetworkPort", items_id=port, entities_id=0,
                               is_dynamic=1)
        _insert(conn, "glpi_ipaddresses", itemtype="NetworkName", items_id=network_name, entities_id=0, version=4,
                name=ip, binary_0=0, binary_1=0, binary_2=65535,
                binary_3=int.from_bytes(bytes(map(int, ip.split("."))), "big"),
                mainitemtype="NetworkEquipment", mainitems_id=device, is_dynamic=1)
    return device


def network_equipment(bind, device_id: int) -> dict:
    with reading(bind) as conn:
        return dict(conn.execute(text("SELECT * FROM glpi_networkequipments WHERE id = :d"), {"d": device_id})
                    .mappings().one())
