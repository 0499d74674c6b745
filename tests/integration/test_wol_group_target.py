"""Wake-on-LAN of a deploy group (static or dynamic): one run per computer of the group, each
handed out with the OPTION a computer target gets, instead of runs that all fail."""

from __future__ import annotations

import json
import re
import zlib
from datetime import datetime

from sqlalchemy import select, update

import schema
from fusion_bridge.services.admin.task_settings import set_job_settings
from fusion_bridge.services.scheduling.preparation import prepare_runs
from schema.constants import ItemType, Method, TaskjobState as State
from schema.plugin_deploy import deploygroups, deploygroups_dynamicdatas, deploygroups_staticdatas
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.db import insert_row as add
from tests.helpers.inventory_rows import add_agent, add_computer, add_port
from tests.helpers.task_rows import add_job, add_task, all_runs

NOW = datetime(2024, 3, 6, 10, 30, 0)
COMPUTER, AGENT, GROUP = ItemType.COMPUTER, ItemType.AGENT, ItemType.DEPLOY_GROUP


def groups_of_computers(engine):
    """A static group of pcs 0-1 (plus a printer row and a computer in the trash), a dynamic
    group whose cache holds pcs 2-3; every pc has one MAC."""
    with engine.begin() as conn:
        pcs = [add_computer(conn, name=f"pc{i}") for i in range(4)]
        trashed = add_computer(conn, name="old", is_deleted=1)
        for number, pc in enumerate([*pcs, trashed], start=1):
            add_port(conn, "Computer", pc, mac=f"00:11:22:33:44:{number:02x}", port_id=number)
        static = add(conn, deploygroups, name="static", type="STATIC")
        for itemtype, item in ((COMPUTER, pcs[0]), (COMPUTER, pcs[1]), ("Printer", 77), (COMPUTER, trashed)):
            add(conn, deploygroups_staticdatas, plugin_fusioninventory_deploygroups_id=static, itemtype=itemtype,
                items_id=item)
        dynamic = add(conn, deploygroups, name="dynamic", type="DYNAMIC")
        add(conn, deploygroups_dynamicdatas, plugin_fusioninventory_deploygroups_id=dynamic,
            fields_array='a:1:{s:8:"criteria";a:0:{}}', can_update_group=1,
            computers_id_cache=json.dumps({str(pcs[2]): str(pcs[2]), str(pcs[3]): str(pcs[3])}))
    return pcs, static, dynamic


def wol_job(engine, groups, agents):
    with engine.begin() as conn:
        task = add_task(conn)
        job = add_job(conn, task, [(GROUP, group) for group in groups], [(AGENT, agent) for agent in agents],
                      method=Method.WAKEONLAN)
    return task, job


def prolog_reply(client, agent_id) -> bytes:
    response = client.post("/plugins/fusioninventory/", data=prolog(f"agent{agent_id}-2024-01-01-00-00-00"),
                           headers=ZLIB_HEADERS)
    assert response.status_code == 200
    return zlib.decompress(response.data)


def test_a_group_target_is_woken_computer_by_computer(client, engine):
    pcs, static, dynamic = groups_of_computers(engine)
    with engine.begin() as conn:
        agent = add_agent(conn)
    task, job = wol_job(engine, [static, dynamic], [agent])

    assert prepare_runs(engine, NOW, task_id=task).prepared == 4
    assert [(r["itemtype"], r["items_id"]) for r in all_runs(engine, job)] == [(COMPUTER, pc) for pc in pcs]

    reply = prolog_reply(client, agent)
    options = re.findall(rb"<OPTION>\s*<NAME>WAKEONLAN</NAME>\s*<PARAM MAC=\"([^\"]+)\"/>\s*</OPTION>", reply)
    assert options == [f"00:11:22:33:44:{n:02x}".encode() for n in range(1, 5)]
    assert [r["state"] for r in all_runs(engine, job)] == [State.FINISHED] * 4
    # Woken computers are done: with reprepare_if_successful off, the next pass prepares nothing.
    with engine.begin() as conn:
        conn.execute(update(schema.tasks).where(schema.tasks.c.id == task).values(reprepare_if_successful=0))
    assert prepare_runs(engine, NOW, task_id=task).prepared == 0


def test_a_run_prepared_for_the_group_itself_is_replaced(engine):
    pcs, static, _ = groups_of_computers(engine)
    with engine.begin() as conn:
        agent = add_agent(conn)
        conn.execute(update(schema.tasks).values(reprepare_if_successful=0))
    task, job = wol_job(engine, [static], [agent])
    with engine.begin() as conn:  # what the bridge prepared before: a run whose target is the group
        add(conn, schema.taskjobstates, plugin_fusioninventory_taskjobs_id=job, itemtype=GROUP, items_id=static,
            plugin_fusioninventory_agents_id=agent, state=0, uniqid="old")
    report = prepare_runs(engine, NOW, task_id=task)
    assert (report.prepared, report.cancelled) == (2, 1)
    assert [(r["itemtype"], r["items_id"], r["state"]) for r in all_runs(engine, job)] == [
        (GROUP, static, State.CANCELLED), (COMPUTER, pcs[0], State.PREPARED), (COMPUTER, pcs[1], State.PREPARED)]


def test_a_balanced_group_target_is_dealt_in_chunks_of_computers(client, engine):
    pcs, static, dynamic = groups_of_computers(engine)
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in range(2)]
    task, job = wol_job(engine, [static, dynamic], agents)
    set_job_settings(engine, job, {"balance": 1})

    assert prepare_runs(engine, NOW, task_id=task).prepared == 4
    with engine.connect() as conn:
        runs = schema.taskjobstates
        dealt = conn.execute(select(runs.c.items_id, runs.c.plugin_fusioninventory_agents_id)
                             .where(runs.c.plugin_fusioninventory_taskjobs_id == job).order_by(runs.c.id)).all()
    assert [tuple(row) for row in dealt] == [(pcs[0], agents[0]), (pcs[1], agents[0]), (pcs[2], agents[1]),
                                             (pcs[3], agents[1])]
    assert reply_macs(prolog_reply(client, agents[1])) == [b"00:11:22:33:44:03", b"00:11:22:33:44:04"]


def reply_macs(reply: bytes) -> list[bytes]:
    return re.findall(rb"<PARAM MAC=\"([^\"]+)\"/>", reply)
