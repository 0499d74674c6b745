"""Task preparation, run time-outs and retention, on SQLite and MariaDB."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.services.scheduling import preparation
from fusion_bridge.services import runs as run_service
from fusion_bridge.services.scheduling.preparation import AGENT_LEFT, TARGET_LEFT, prepare_runs
from fusion_bridge.services.scheduling.report import TaskBackoff
from fusion_bridge.services.scheduling.cleanup import apply_retention, time_out_silent_runs, timeout_comment
from fusion_bridge.scheduler import PassReport, Scheduler, SchedulerSettings
from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State
from schema.plugin_deploy import deploygroups, deploygroups_dynamicdatas, deploygroups_staticdatas
from schema.plugin_network import networkequipments as pf_networkequipments
from schema.plugin_network import statediscoveries
from tests.helpers.db import insert_row
from tests.helpers.inventory_rows import add_agent, add_computer, add_entity, add_network_device
from tests.helpers.task_rows import add_iprange, add_job, add_log, add_run, add_task, all_runs, items_json

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

# A Wednesday (ISO weekday 3), 10:30:00 = 37800 s after midnight.
NOW = datetime(2024, 3, 6, 10, 30, 0)
SECONDS = 10 * 3600 + 30 * 60

runs_t = schema.taskjobstates
logs_t = schema.taskjoblogs
RANGE, AGENT = ItemType.IP_RANGE, ItemType.AGENT


def logs_of(engine, run_id):
    with engine.connect() as conn:
        return conn.execute(select(logs_t).where(logs_t.c.plugin_fusioninventory_taskjobstates_id == run_id)
                            .order_by(logs_t.c.id)).mappings().all()


def triples(rows):
    return sorted((r["itemtype"], r["items_id"], r["plugin_fusioninventory_agents_id"]) for r in rows)


def set_state(engine, run_ids, state):
    with engine.begin() as conn:
        conn.execute(update(runs_t).where(runs_t.c.id.in_(list(run_ids))).values(state=int(state)))


# ---------------------------------------------------------------------------------------------
# The basic pass


def test_one_run_per_target_and_agent_with_its_prepared_log(engine):
    with engine.begin() as conn:
        a1, a2 = add_agent(conn), add_agent(conn)
        r1, r2 = add_iprange(conn), add_iprange(conn, "10.0.1.1", "10.0.1.9")
        task = add_task(conn)
        job = add_job(conn, task, [(RANGE, r1), (RANGE, r2)],
                      [(AGENT, a1), (AGENT, a2)])
    report = prepare_runs(engine, NOW)
    assert (report.prepared, report.cancelled, report.skipped, report.busy) == (4, 0, 0, False)
    assert report.tasks[task].jobs == 1 and report.tasks[task].error is None
    rows = all_runs(engine, job)
    assert triples(rows) == sorted([(RANGE, r, a) for r in (r1, r2) for a in (a1, a2)])
    assert len({r["uniqid"] for r in rows}) == 4
    for row in rows:
        assert (row["state"], row["specificity"], row["date_start"], row["nb_retry"], row["max_retry"]) == (
            0, None, None, 0, 1)
        [entry] = logs_of(engine, row["id"])
        assert (entry["state"], entry["comment"], entry["date"], entry["items_id"], entry["itemtype"]) == (
            Log.PREPARED, "", NOW, 0, None)


def test_a_second_pass_prepares_nothing(engine):
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in range(3)]
        task = add_task(conn)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, a) for a in agents])
    assert prepare_runs(engine, NOW).prepared == 3
    again = prepare_runs(engine, NOW + timedelta(minutes=1))
    assert (again.prepared, again.skipped, again.cancelled) == (0, 3, 0)
    assert len(all_runs(engine)) == 3


def test_many_agents_in_one_pass_without_the_plugins_cap(engine):
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in range(1300)]
        task = add_task(conn)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, a) for a in agents])
    assert prepare_runs(engine, NOW).prepared == 1300
    rows = all_runs(engine)
    assert sorted(r["plugin_fusioninventory_agents_id"] for r in rows) == agents
    with engine.connect() as conn:
        logged = conn.execute(select(logs_t.c.plugin_fusioninventory_taskjobstates_id)).scalars().all()
    assert sorted(logged) == [r["id"] for r in rows]


def test_jobs_in_id_order_and_the_object_forms_of_targets_and_actors(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        r1 = add_iprange(conn)
        task = add_task(conn)
        job1 = add_job(conn, task, json.dumps({"1": {RANGE: r1}}),
                       json.dumps({"3": {AGENT: f"{agent}$#$agent"}}))
        job2 = add_job(conn, task, [(RANGE, r1)], [(AGENT, agent)])
    prepare_runs(engine, NOW)
    rows = all_runs(engine)
    assert [r["plugin_fusioninventory_taskjobs_id"] for r in rows] == [job1, job2]


def test_only_the_given_task_and_methods(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        rng = add_iprange(conn)
        task1, task2 = add_task(conn), add_task(conn)
        add_job(conn, task1, [(RANGE, rng)], [(AGENT, agent)])
        job2 = add_job(conn, task2, [(RANGE, rng)], [(AGENT, agent)])
    assert prepare_runs(engine, NOW, methods=[Method.DEPLOY]).prepared == 0
    report = prepare_runs(engine, NOW, task_id=task2)
    assert list(report.tasks) == [task2]
    assert [r["plugin_fusioninventory_taskjobs_id"] for r in all_runs(engine)] == [job2]


def test_prepared_logs_when_the_new_ids_are_not_contiguous(engine):
    with engine.begin() as conn:
        job = add_job(conn, add_task(conn), [], [])
        first, between, last = (add_run(conn, job_id=job, agent_id=1, state=State.PREPARED, uniqid=f"g{n}")
                                for n in range(3))
        run_service._insert_prepared_logs(conn, [first, last], NOW)
    assert [len(logs_of(engine, run_id)) for run_id in (first, between, last)] == [1, 0, 1]
    assert logs_of(engine, last)[0]["state"] == Log.PREPARED and logs_of(engine, last)[0]["date"] == NOW


# ---------------------------------------------------------------------------------------------
# Schedule window and preparation timeslot


@pytest.mark.parametrize("start, end, prepared", [
    (None, None, True),
    (NOW - timedelta(days=1), None, True),
    (NOW, None, True),
    (NOW + timedelta(minutes=1), None, False),
    (NOW - timedelta(days=1), NOW + timedelta(days=1), True),
    (NOW - timedelta(days=1), NOW, True),
    (NOW - timedelta(days=2), NOW - timedelta(days=1), False),
    (NOW + timedelta(days=1), NOW + timedelta(days=2), False),
    (None, NOW + timedelta(days=1), False),  # "end only": never, as the plugin
    (None, NOW - timedelta(days=1), False),
])
def test_schedule_window(engine, start, end, prepared):
    with engine.begin() as conn:
        agent = add_agent(conn)
        task = add_task(conn, datetime_start=start, datetime_end=end)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, agent)])
    assert prepare_runs(engine, NOW).prepared == (1 if prepared else 0)


def test_inactive_task_is_not_prepared(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        task = add_task(conn, is_active=0)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, agent)])
    report = prepare_runs(engine, NOW)
    assert report.prepared == 0 and report.tasks == {}


@pytest.mark.parametrize("entries, prepared", [
    ([], False),  # a timeslot without entries is never active
    ([(3, SECONDS - 60, SECONDS + 60)], True),
    ([(3, SECONDS, SECONDS)], True),  # bounds are inclusive
    ([(3, 0, SECONDS - 1)], False),
    ([(3, SECONDS + 1, 86400)], False),
    ([(2, 0, 86400), (4, 0, 86400)], False),  # other days
    ([(2, 0, 86400), (3, 36000, 39600)], True),
])
def test_preparation_timeslot(engine, entries, prepared):
    with engine.begin() as conn:
        agent = add_agent(conn)
        slot = insert_row(conn, schema.timeslots, name="office hours")
        other = insert_row(conn, schema.timeslots, name="always")
        entries = [(other, 3, 0, 86400)] + [(slot, *entry) for entry in entries]
        for slot_id, day, begin, end in entries:
            insert_row(conn, schema.timeslotentries, plugin_fusioninventory_timeslots_id=slot_id, day=day,
                       begin=begin, end=end)
        task = add_task(conn, plugin_fusioninventory_timeslots_prep_id=slot)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, agent)])
    assert prepare_runs(engine, NOW).prepared == (1 if prepared else 0)


def test_execution_timeslot_does_not_matter_at_preparation(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        slot = insert_row(conn, schema.timeslots, name="never")
        task = add_task(conn, plugin_fusioninventory_timeslots_exec_id=slot)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, agent)])
    assert prepare_runs(engine, NOW).prepared == 1


# ---------------------------------------------------------------------------------------------
# Actors


def agents_prepared(engine):
    return sorted({r["plugin_fusioninventory_agents_id"] for r in all_runs(engine)})


def prepare_for_actors(engine, conn_actors):
    """Run a one-range discovery job whose actors ``conn_actors(conn)`` returns."""
    with engine.begin() as conn:
        actors = conn_actors(conn)
        task = add_task(conn)
        add_job(conn, task, [(RANGE, add_iprange(conn))], actors)
    prepare_runs(engine, NOW)
    return agents_prepared(engine)


def test_agent_actors_that_exist(engine):
    ids = {}

    def actors(conn):
        ids["a"] = add_agent(conn)
        return [(AGENT, ids["a"]), (AGENT, 9999)]

    assert prepare_for_actors(engine, actors) == [ids["a"]]


def test_computer_actor_gives_the_agents_of_the_computer(engine):
    ids = {}

    def actors(conn):
        pc1, pc2 = add_computer(conn), add_computer(conn)
        ids["mine"] = [add_agent(conn, computers_id=pc1), add_agent(conn, computers_id=pc1)]
        add_agent(conn, computers_id=pc2)
        add_agent(conn, computers_id=0)
        # An agent linked to a computer that no longer exists: the actor is skipped.
        add_agent(conn, computers_id=9999)
        return [(ItemType.COMPUTER, pc1), (ItemType.COMPUTER, 9999)]

    assert prepare_for_actors(engine, actors) == sorted(ids["mine"])


def test_glpi_group_actor_gives_its_users_computers_and_its_own(engine):
    ids = {}

    def actors(conn):
        group = insert_row(conn, schema.glpi_groups, name="admins", entities_id=0)
        other_group = insert_row(conn, schema.glpi_groups, name="others", entities_id=0)
        user = insert_row(conn, schema.glpi_users, name="alice")
        outsider = insert_row(conn, schema.glpi_users, name="bob")
        insert_row(conn, schema.glpi_groups_users, users_id=user, groups_id=group)
        insert_row(conn, schema.glpi_groups_users, users_id=outsider, groups_id=other_group)
        users_pc = add_computer(conn, users_id=user)
        groups_pc = add_computer(conn, groups_id=group)
        outsiders_pc = add_computer(conn, users_id=outsider)
        nobodys_pc = add_computer(conn, users_id=0, groups_id=0)
        ids["mine"] = [add_agent(conn, computers_id=users_pc), add_agent(conn, computers_id=groups_pc)]
        add_agent(conn, computers_id=outsiders_pc)
        add_agent(conn, computers_id=nobodys_pc)
        add_agent(conn, computers_id=0)
        return [(ItemType.GROUP, group), (ItemType.GROUP, 9999)]

    assert prepare_for_actors(engine, actors) == sorted(ids["mine"])


def test_static_and_dynamic_deploy_group_actors(engine):
    ids = {}

    def actors(conn):
        pcs = [add_computer(conn) for _ in range(5)]
        agents = [add_agent(conn, computers_id=pc) for pc in pcs]
        static = insert_row(conn, deploygroups, name="static", type="STATIC")
        for itemtype, pc in (("Computer", pcs[0]), ("Printer", pcs[1])):
            insert_row(conn, deploygroups_staticdatas, plugin_fusioninventory_deploygroups_id=static,
                       itemtype=itemtype, items_id=pc)
        dynamic = insert_row(conn, deploygroups, name="dynamic", type="DYNAMIC")
        insert_row(conn, deploygroups_dynamicdatas, plugin_fusioninventory_deploygroups_id=dynamic,
                   fields_array='a:1:{s:8:"criteria";a:0:{}}', can_update_group=1,
                   computers_id_cache=json.dumps({str(pcs[2]): str(pcs[2]), str(pcs[3]): str(pcs[3])}))
        empty = insert_row(conn, deploygroups, name="never evaluated", type="DYNAMIC")
        insert_row(conn, deploygroups_dynamicdatas, plugin_fusioninventory_deploygroups_id=empty,
                   computers_id_cache=None)
        ids["mine"] = [agents[0], agents[2], agents[3]]
        return [(ItemType.DEPLOY_GROUP, group) for group in (static, dynamic, empty, 9999)]

    assert prepare_for_actors(engine, actors) == sorted(ids["mine"])


def test_a_job_without_agents_prepares_nothing(engine):
    assert prepare_for_actors(engine, lambda conn: [(AGENT, 12345)]) == []


# ---------------------------------------------------------------------------------------------
# Targets


def test_snmp_inventory_expands_ip_ranges_to_devices_with_a_credential(engine):
    NE, PR = ItemType.NETWORK_EQUIPMENT, ItemType.PRINTER
    with engine.begin() as conn:
        agent = add_agent(conn)
        # -1 (every entity) is FusionInventory's; GLPI 10's unsigned column holds the root entity,
        # which these devices are in.
        rng = add_iprange(conn, "192.168.1.10", "192.168.1.20", entities_id=0 if layout_of(engine).renames else -1)
        expected = [
            (NE, add_network_device(conn, NE, "192.168.1.10")),
            (NE, add_network_device(conn, NE, "192.168.1.20", credential=2)),
            (PR, add_network_device(conn, PR, "192.168.1.15")),
        ]
        add_network_device(conn, NE, "192.168.1.9")  # outside
        add_network_device(conn, NE, "192.168.1.21")  # outside
        add_network_device(conn, NE, "192.168.1.11", credential=0)  # no credential
        add_network_device(conn, NE, "192.168.1.12", credential=77)  # credential gone
        add_network_device(conn, NE, "192.168.1.13", with_extension=False)  # never inventoried
        add_network_device(conn, NE, "192.168.1.14", is_deleted=1)  # in the trash
        add_network_device(conn, PR, "192.168.1.16", port_type="NetworkPortLocal")  # loopback port
        add_network_device(conn, PR, "fe80::1")  # not IPv4
        direct = add_network_device(conn, PR, "10.9.9.9", credential=0)  # a direct target is kept as it is
        task = add_task(conn)
        job = add_job(conn, task, [(PR, direct), (RANGE, rng)], [(AGENT, agent)],
                      method=Method.NETWORK_INVENTORY)
    prepare_runs(engine, NOW)
    rows = all_runs(engine, job)
    assert [(r["itemtype"], r["items_id"]) for r in rows] == [(PR, direct), *expected]


def test_ip_range_entity_and_its_ancestors(engine):
    NE = ItemType.NETWORK_EQUIPMENT
    with engine.begin() as conn:
        add_entity(conn, 1, 0)
        add_entity(conn, 2, 1)
        add_entity(conn, 3, 0)
        agent = add_agent(conn)
        in_root = add_network_device(conn, NE, "10.1.0.1", entities_id=0)
        in_parent = add_network_device(conn, NE, "10.1.0.2", entities_id=1)
        in_range_entity = add_network_device(conn, NE, "10.1.0.3", entities_id=2)
        add_network_device(conn, NE, "10.1.0.4", entities_id=3)  # a sibling branch
        rng = add_iprange(conn, "10.1.0.0", "10.1.0.255", entities_id=2)
        task = add_task(conn)
        job = add_job(conn, task, [(RANGE, rng)], [(AGENT, agent)],
                      method=Method.NETWORK_INVENTORY)
    prepare_runs(engine, NOW)
    expected = sorted([in_root, in_parent, in_range_entity])
    assert sorted(r["items_id"] for r in all_runs(engine, job)) == expected


def test_ip_ranges_are_not_expanded_for_discovery_and_gone_targets_are_skipped(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        rng = add_iprange(conn)
        gone_pc = add_computer(conn, is_deleted=1)
        task = add_task(conn)
        job = add_job(conn, task, [(RANGE, rng), (RANGE, 4242), (RANGE, rng)], [(AGENT, agent)])
        wol = add_job(conn, task, [(ItemType.COMPUTER, gone_pc), (ItemType.COMPUTER, 4343)],
                      [(AGENT, agent)], method=Method.WAKEONLAN)
    prepare_runs(engine, NOW)
    assert [(r["itemtype"], r["items_id"]) for r in all_runs(engine, job)] == [(RANGE, rng)]
    assert all_runs(engine, wol) == []


# ---------------------------------------------------------------------------------------------
# Re-preparation and cancellation


@pytest.mark.parametrize("reprepare", [1, 0])
def test_reprepare_if_successful(engine, reprepare):
    with engine.begin() as conn:
        agent = add_agent(conn)
        task = add_task(conn, reprepare_if_successful=reprepare)
        job = add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, agent)])
    prepare_runs(engine, NOW)
    [first] = all_runs(engine, job)
    for state in (State.SERVER_HAS_SENT_DATA, State.AGENT_HAS_SENT_DATA, State.POSTPONED):
        set_state(engine, [first["id"]], state)
        assert prepare_runs(engine, NOW).prepared == 0  # live runs block
    set_state(engine, [first["id"]], State.FINISHED)
    assert prepare_runs(engine, NOW).prepared == reprepare
    assert len(all_runs(engine, job)) == 1 + reprepare


@pytest.mark.parametrize("state", [State.IN_ERROR, State.CANCELLED])
def test_failed_and_cancelled_runs_are_prepared_again(engine, state):
    with engine.begin() as conn:
        agent = add_agent(conn)
        task = add_task(conn, reprepare_if_successful=0)
        job = add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, agent)])
    prepare_runs(engine, NOW)
    set_state(engine, [r["id"] for r in all_runs(engine, job)], state)
    assert prepare_runs(engine, NOW).prepared == 1


def test_runs_of_an_agent_that_left_the_actors_are_cancelled(engine):
    with engine.begin() as conn:
        stay, leave = add_agent(conn), add_agent(conn)
        r1, r2 = add_iprange(conn), add_iprange(conn, "10.0.2.1", "10.0.2.2")
        task = add_task(conn)
        job = add_job(conn, task, [(RANGE, r1), (RANGE, r2)],
                      [(AGENT, stay), (AGENT, leave)])
    prepare_runs(engine, NOW)
    leaving = {r["items_id"]: r["id"] for r in all_runs(engine, job)
               if r["plugin_fusioninventory_agents_id"] == leave}
    set_state(engine, [leaving[r2]], State.SERVER_HAS_SENT_DATA)
    with engine.begin() as conn:
        done = add_run(conn, job_id=job, agent_id=leave, state=State.FINISHED, uniqid="old", items_id=r1)
        conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == job)
                     .values(actors=items_json([(AGENT, stay)])))
    later = NOW + timedelta(minutes=1)
    report = prepare_runs(engine, later)
    assert (report.prepared, report.cancelled, report.skipped) == (0, 2, 2)
    by_id = {r["id"]: r for r in all_runs(engine, job)}
    for run_id in leaving.values():
        assert by_id[run_id]["state"] == State.CANCELLED
        entry = logs_of(engine, run_id)[-1]
        assert (entry["state"], entry["comment"], entry["date"]) == (Log.INFO, AGENT_LEFT, later)
        assert (entry["itemtype"], entry["items_id"]) == (AGENT, 0)
    assert by_id[done]["state"] == State.FINISHED and logs_of(engine, done) == []
    # Cancelled runs are not cancelled again.
    assert prepare_runs(engine, later).cancelled == 0


def test_runs_of_a_target_that_left_the_job_are_cancelled(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        keep, removed = add_iprange(conn), add_iprange(conn, "10.0.3.1", "10.0.3.2")
        purged = add_iprange(conn, "10.0.4.1")
        task = add_task(conn)
        job = add_job(conn, task, [(RANGE, r) for r in (keep, removed, purged)],
                      [(AGENT, agent)])
    prepare_runs(engine, NOW)
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == job)
                     .values(targets=items_json([(RANGE, keep), (RANGE, purged)])))
        conn.execute(delete(schema.ipranges).where(schema.ipranges.c.id == purged))
    report = prepare_runs(engine, NOW)
    assert (report.prepared, report.cancelled, report.skipped) == (0, 2, 1)
    states = {r["items_id"]: r["state"] for r in all_runs(engine, job)}
    assert states == {keep: State.PREPARED, removed: State.CANCELLED, purged: State.CANCELLED}
    [cancelled] = [r["id"] for r in all_runs(engine, job) if r["items_id"] == removed]
    assert logs_of(engine, cancelled)[-1]["comment"] == TARGET_LEFT


def test_devices_leaving_an_ip_range_lose_their_live_runs(engine):
    NE = ItemType.NETWORK_EQUIPMENT
    with engine.begin() as conn:
        agent = add_agent(conn)
        device = add_network_device(conn, NE, "10.5.0.1")
        rng = add_iprange(conn, "10.5.0.0", "10.5.0.255")
        task = add_task(conn)
        job = add_job(conn, task, [(RANGE, rng)], [(AGENT, agent)],
                      method=Method.NETWORK_INVENTORY)
    assert prepare_runs(engine, NOW).prepared == 1
    with engine.begin() as conn:
        conn.execute(update(pf_networkequipments).where(pf_networkequipments.c.networkequipments_id == device)
                     .values(plugin_fusioninventory_configsecurities_id=0))
    assert prepare_runs(engine, NOW).cancelled == 1
    assert [r["state"] for r in all_runs(engine, job)] == [State.CANCELLED]


# ---------------------------------------------------------------------------------------------
# Errors, back-off, concurrency


def test_a_failing_task_does_not_stop_the_others_and_backs_off(engine, monkeypatch):
    with engine.begin() as conn:
        agent = add_agent(conn)
        rng = add_iprange(conn)
        bad_task, good_task = add_task(conn, name="bad"), add_task(conn, name="good")
        bad_job = add_job(conn, bad_task, [(RANGE, rng)], [(AGENT, agent)])
        add_job(conn, bad_task, [(RANGE, rng)], [(AGENT, agent)])
        good_job = add_job(conn, good_task, [(RANGE, rng)], [(AGENT, agent)])
    real = preparation.prepare_job
    calls = []

    def flaky(conn, job, now, resolver, report, *more, **options):
        calls.append(job.id)
        real(conn, job, now, resolver, report, *more, **options)
        if job.id == bad_job + 1:
            raise RuntimeError("boom")

    monkeypatch.setattr(preparation, "prepare_job", flaky)
    backoff = TaskBackoff()
    report = prepare_runs(engine, NOW, backoff=backoff)
    assert report.tasks[bad_task].error == "RuntimeError: boom"
    assert report.tasks[bad_task].retry_at == NOW + timedelta(minutes=1)
    assert report.tasks[good_task].prepared == 1
    # The failed task's work was rolled back as a whole.
    assert [r["plugin_fusioninventory_taskjobs_id"] for r in all_runs(engine)] == [good_job]

    calls.clear()
    report = prepare_runs(engine, NOW + timedelta(seconds=30), backoff=backoff)
    assert calls == [good_job] and report.tasks[bad_task].retry_at == NOW + timedelta(minutes=1)
    report = prepare_runs(engine, NOW + timedelta(minutes=1), backoff=backoff)
    assert report.tasks[bad_task].retry_at == NOW + timedelta(minutes=3)  # then 2 minutes
    monkeypatch.setattr(preparation, "prepare_job", real)
    report = prepare_runs(engine, NOW + timedelta(minutes=3), backoff=backoff)
    assert report.tasks[bad_task].prepared == 2 and backoff.retry_at(bad_task) is None


def test_concurrent_preparers_create_each_run_once(engine):
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in range(60)]
        ranges = [add_iprange(conn, f"10.6.{i}.1", f"10.6.{i}.9") for i in range(3)]
        for _ in range(3):
            task = add_task(conn)
            add_job(conn, task, [(RANGE, r) for r in ranges], [(AGENT, a) for a in agents])
    barrier = threading.Barrier(4)
    reports, errors = [], []

    def prepare():
        try:
            barrier.wait()
            reports.append(prepare_runs(engine, NOW, lock_timeout=60))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=prepare) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows = all_runs(engine)
    keys = Counter((r["plugin_fusioninventory_taskjobs_id"], r["itemtype"], r["items_id"],
                    r["plugin_fusioninventory_agents_id"]) for r in rows)
    assert len(keys) == 3 * 3 * 60 and set(keys.values()) == {1}
    assert sum(r.prepared for r in reports) == 540
    assert all(not r.tasks or all(t.error is None for t in r.tasks.values()) for r in reports)


@pytest.mark.parametrize("database_url", ["mariadb"], indirect=True)  # SQLite has no named lock
def test_a_busy_lock_skips_the_pass(engine):
    from fusion_bridge.adapters.db import named_lock

    with engine.begin() as conn:
        task = add_task(conn)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, add_agent(conn))])
    with engine.connect() as holder, named_lock(holder, preparation.PREPARE_LOCK):
        report = prepare_runs(engine, NOW, lock_timeout=0)
    assert report.busy and report.prepared == 0 and all_runs(engine) == []
    assert prepare_runs(engine, NOW).prepared == 1


# ---------------------------------------------------------------------------------------------
# Time-outs


def test_silent_runs_time_out(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        task = add_task(conn)
        job = add_job(conn, task, [], [])

        def run(state, *log_entries):
            run_id = add_run(conn, job_id=job, agent_id=agent, state=state,
                             uniqid=f"u{state}{len(log_entries)}")
            for log_state, age in log_entries:
                add_log(conn, run_id, log_state, NOW - age)
            return run_id

        silent_sent = run(State.SERVER_HAS_SENT_DATA, (Log.PREPARED, timedelta(days=2)),
                          (Log.STARTED, timedelta(hours=5)))
        silent_running = run(State.AGENT_HAS_SENT_DATA, (Log.PREPARED, timedelta(days=2)),
                             (Log.STARTED, timedelta(hours=6)), (Log.RUNNING, timedelta(hours=4, seconds=1)))
        talking = run(State.AGENT_HAS_SENT_DATA, (Log.PREPARED, timedelta(days=2)),
                      (Log.STARTED, timedelta(hours=5)), (Log.RUNNING, timedelta(hours=1)))
        undated = run(State.SERVER_HAS_SENT_DATA, (Log.PREPARED, timedelta(days=2)))
        waiting = run(State.PREPARED, (Log.PREPARED, timedelta(days=2)))
        finished = run(State.FINISHED, (Log.STARTED, timedelta(days=2)), (Log.OK, timedelta(days=2)))
    failed = time_out_silent_runs(engine, NOW, timedelta(hours=4))
    assert failed == [silent_sent, silent_running]
    states = {r["id"]: r["state"] for r in all_runs(engine)}
    assert states == {silent_sent: State.IN_ERROR, silent_running: State.IN_ERROR,
                      talking: State.AGENT_HAS_SENT_DATA, undated: State.SERVER_HAS_SENT_DATA,
                      waiting: State.PREPARED, finished: State.FINISHED}
    entry = logs_of(engine, silent_sent)[-1]
    assert (entry["state"], entry["date"]) == (Log.ERROR, NOW)
    assert (entry["itemtype"], entry["items_id"]) == (AGENT, agent)
    assert entry["comment"] == ("No message from the agent for 240 minutes: the run is considered failed "
                                "(server-side timeout)")
    assert timeout_comment(timedelta(minutes=30)).startswith("No message from the agent for 30 minutes")
    assert time_out_silent_runs(engine, NOW, timedelta(hours=4)) == []


# ---------------------------------------------------------------------------------------------
# Retention


def test_retention_keeps_the_newest_runs_the_newest_success_and_live_runs(engine):
    with engine.begin() as conn:
        agent, other_agent = add_agent(conn), add_agent(conn)
        task = add_task(conn)
        job = add_job(conn, task, [], [])
        ids = []
        # Oldest first: a live run, an old success, then 14 failures.
        for n, state in enumerate([State.PREPARED, State.FINISHED, State.FINISHED] + [State.IN_ERROR] * 14):
            run_id = add_run(conn, job_id=job, agent_id=agent, state=state, uniqid=f"r{n}")
            add_log(conn, run_id, Log.PREPARED, NOW)
            add_log(conn, run_id, Log.STARTED, NOW)
            insert_row(conn, statediscoveries, plugin_fusioninventory_taskjob_id=run_id,
                       plugin_fusioninventory_agents_id=agent)
            ids.append(run_id)
        # Another agent's short history is untouched.
        others = [add_run(conn, job_id=job, agent_id=other_agent, state=State.IN_ERROR, uniqid=f"o{n}")
                  for n in range(3)]
    report = apply_retention(engine, keep=10)
    kept = [ids[0], ids[2], *ids[-10:]]
    deleted = sorted(set(ids) - set(kept))
    counts = (report.runs, report.logs, report.statediscoveries)
    assert counts == (len(deleted), 2 * len(deleted), len(deleted))
    assert [r["id"] for r in all_runs(engine)] == sorted(kept + others)
    with engine.connect() as conn:
        logged = set(conn.execute(select(logs_t.c.plugin_fusioninventory_taskjobstates_id)).scalars())
        counted = set(conn.execute(select(statediscoveries.c.plugin_fusioninventory_taskjob_id)).scalars())
    assert logged == counted == set(kept)
    assert apply_retention(engine, keep=10).runs == 0


# ---------------------------------------------------------------------------------------------
# Scheduler and command


def test_scheduler_pass_prepares_times_out_and_cleans(engine):
    with engine.begin() as conn:
        agent = add_agent(conn)
        task = add_task(conn)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, agent)])
    scheduler = Scheduler(engine, SchedulerSettings(interval=1, runs_kept=3), clock=lambda: NOW)
    report = scheduler.run_pass()
    assert isinstance(report, PassReport)
    assert report.preparation.prepared == 1 and report.timed_out == [] and report.retention is not None
    again = scheduler.run_pass()
    assert again.retention is None and again.timed_out is None  # daily, every 5 minutes
    assert any("1 run(s) prepared" in line for line in report.lines())


def test_scheduler_thread_runs_passes_until_stopped(engine):
    with engine.begin() as conn:
        task = add_task(conn)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, add_agent(conn))])
    scheduler = Scheduler(lambda: engine, SchedulerSettings(interval=1))
    scheduler.start()
    try:
        deadline = datetime.now() + timedelta(seconds=20)
        while not all_runs(engine) and datetime.now() < deadline:
            threading.Event().wait(0.05)
    finally:
        scheduler.stop()
    assert len(all_runs(engine)) == 1


def test_prepare_once_command(engine, database_url):
    from fusion_bridge.cli.main import main

    with engine.begin() as conn:
        task = add_task(conn)
        add_job(conn, task, [(RANGE, add_iprange(conn))], [(AGENT, add_agent(conn))])
    result = CliRunner().invoke(main, ["prepare", "--once", "--database", database_url])
    assert result.exit_code == 0, result.output
    assert "preparation: 1 run(s) prepared" in result.output
    assert "time-outs: 0" in result.output and "retention: 0 old run(s)" in result.output
    assert len(all_runs(engine)) == 1


def test_insert_runs_writes_the_bridge_row_only_when_asked(engine):
    from datetime import datetime

    from sqlalchemy import select

    import schema
    from fusion_bridge.services.scheduling.run_writes import insert_runs

    when = datetime(2026, 1, 1, 8, 0)
    with engine.begin() as conn:
        plain = insert_runs(conn, 7, [(("PluginFusioninventoryIPRange", 1), 3)], when)
        sliced = insert_runs(conn, 7, [(("PluginFusioninventoryIPRange", 1), 4), (("PluginFusioninventoryIPRange", 1), 5)],
                             when, [{"specificity": "0-128", "slice_first": 0, "slice_count": 128},
                                    {"specificity": "128-126", "slice_first": 128, "slice_count": 126, "attempt": 1,
                                     "previous_run": plain[0]}], task_id=2, execution_id=3)
        bridge = conn.execute(select(schema.bridge_runs).order_by(
            schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id)).all()
        specificity = dict(conn.execute(select(schema.taskjobstates.c.id, schema.taskjobstates.c.specificity)).all())
    assert [row.plugin_fusioninventory_taskjobstates_id for row in bridge] == sliced
    assert [(r.plugin_fusioninventory_tasks_id, r.execution_id, r.attempt, r.previous_run, r.slice_first,
             r.slice_count) for r in bridge] == [(2, 3, 0, 0, 0, 128), (2, 3, 1, plain[0], 128, 126)]
    assert specificity == {plain[0]: None, sliced[0]: "0-128", sliced[1]: "128-126"}
