"""Rows of a task set-up as GLPI's UI stores them, for dispatch and progress tests."""

from datetime import datetime

from sqlalchemy import insert

import schema


def add_agent(conn, agent_id: int, device_id: str, **values) -> None:
    row = {"id": agent_id, "name": device_id, "device_id": device_id, "entities_id": 0,
           "threads_networkdiscovery": 0, "threads_networkinventory": 0}
    conn.execute(insert(schema.agents).values({**row, **values}))


def add_task(conn, task_id: int, *, active: int = 1, start: datetime | None = None, end: datetime | None = None,
             exec_timeslot: int = 0) -> None:
    conn.execute(insert(schema.tasks).values(
        id=task_id, entities_id=0, name=f"task {task_id}", is_active=active, datetime_start=start,
        datetime_end=end, plugin_fusioninventory_timeslots_exec_id=exec_timeslot, reprepare_if_successful=1))


def add_job(conn, job_id: int, task_id: int, method: str, targets: str, actors: str) -> None:
    conn.execute(insert(schema.taskjobs).values(
        id=job_id, plugin_fusioninventory_tasks_id=task_id, entities_id=0, name=f"job {job_id}", method=method,
        targets=targets, actors=actors))


def add_run(conn, run_id: int, job_id: int, agent_id: int, itemtype: str, items_id: int, state: int = 0) -> None:
    conn.execute(insert(schema.taskjobstates).values(
        id=run_id, plugin_fusioninventory_taskjobs_id=job_id, items_id=items_id, itemtype=itemtype, state=state,
        plugin_fusioninventory_agents_id=agent_id, uniqid=f"uniq{run_id:09d}"))


def add_iprange(conn, range_id: int, start: str, end: str, credentials: tuple[tuple[int, int], ...] = ()) -> None:
    conn.execute(insert(schema.ipranges).values(id=range_id, name=f"range {range_id}", entities_id=0,
                                                ip_start=start, ip_end=end))
    for credential_id, rank in credentials:
        conn.execute(insert(schema.ipranges_configsecurities).values(
            plugin_fusioninventory_ipranges_id=range_id, plugin_fusioninventory_configsecurities_id=credential_id,
            rank=rank))


def add_port(conn, port_id: int, itemtype: str, items_id: int, mac: str, ip: str | None = None) -> None:
    conn.execute(insert(schema.glpi_networkports).values(
        id=port_id, items_id=items_id, itemtype=itemtype, entities_id=0, logical_number=port_id, name=f"eth{port_id}",
        instantiation_type="NetworkPortEthernet", mac=mac, is_deleted=0, is_dynamic=0))
    if ip:
        conn.execute(insert(schema.glpi_networknames).values(
            id=port_id, entities_id=0, items_id=port_id, itemtype="NetworkPort", name="", is_deleted=0, is_dynamic=0))
        conn.execute(insert(schema.glpi_ipaddresses).values(
            id=port_id, entities_id=0, items_id=port_id, itemtype="NetworkName", version=4, name=ip, is_deleted=0,
            is_dynamic=0, mainitems_id=items_id, mainitemtype=itemtype))
