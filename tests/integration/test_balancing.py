"""Agent pools and load balancing at preparation, on SQLite and MariaDB."""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import zlib
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import insert, select, update

import schema
from fusion_bridge.services import runs as run_service
from fusion_bridge.services.scheduling.preparation import AGENT_LEFT, prepare_runs
from fusion_bridge.services.admin.task_settings import set_job_settings, set_task_settings
from schema.constants import ItemType, Method, Module, TaskjobLogState as Log, TaskjobState as State
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.db import insert_row
from tests.helpers.inventory_rows import add_agent, add_computer
from tests.helpers.task_rows import add_iprange, add_job, add_task, set_module

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours

RANGE, AGENT, COMPUTER = ItemType.IP_RANGE, ItemType.AGENT, ItemType.COMPUTER
runs_t, logs_t, bridge_t = schema.taskjobstates, schema.taskjoblogs, schema.bridge_runs
NOW = datetime(2024, 3, 6, 10, 30, 0)


def ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def balanced_discovery(engine, agents: int, start="10.1.0.1", end="10.1.0.254", **job_settings):
    """A discovery task of one range with ``agents`` listed agents and balancing on."""
    with engine.begin() as conn:
        agent_ids = [add_agent(conn) for _ in range(agents)]
        task = add_task(conn)
        rng = add_iprange(conn, start, end)
        job = add_job(conn, task, [(RANGE, rng)], [(AGENT, a) for a in agent_ids])
    set_job_settings(engine, job, {"balance": 1, **job_settings})
    return task, job, rng, agent_ids


def job_runs(engine, job):
    with engine.connect() as conn:
        return conn.execute(
            select(runs_t.c.id, runs_t.c.state, runs_t.c.items_id, runs_t.c.itemtype, runs_t.c.specificity,
                   runs_t.c.plugin_fusioninventory_agents_id.label("agent"), bridge_t.c.attempt,
                   bridge_t.c.previous_run, bridge_t.c.slice_first, bridge_t.c.slice_count)
            .select_from(runs_t.outerjoin(bridge_t, bridge_t.c.plugin_fusioninventory_taskjobstates_id == runs_t.c.id))
            .where(runs_t.c.plugin_fusioninventory_taskjobs_id == job).order_by(runs_t.c.id)).all()


def fail(engine, run_id, comment="agent crashed"):
    with engine.begin() as conn:
        assert run_service.fail(conn, run_id, comment, NOW)


def comments(engine, run_id):
    with engine.connect() as conn:
        return [r.comment for r in conn.execute(select(logs_t.c.comment).where(
            logs_t.c.plugin_fusioninventory_taskjobstates_id == run_id).order_by(logs_t.c.id))]


# ---------------------------------------------------------------------------------------------
# Slices


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 600), agents=st.integers(1, 9))
def test_n_agents_get_disjoint_slices_covering_the_range_exactly(engine, size, agents):
    first = ip("10.20.0.0") + 7
    task, job, rng, agent_ids = balanced_discovery(
        engine, agents, str(ipaddress.IPv4Address(first)), str(ipaddress.IPv4Address(first + size - 1)))
    assert prepare_runs(engine, NOW, task_id=task).prepared == min(size, agents)
    rows = job_runs(engine, job)
    assert sorted(r.agent for r in rows) == sorted(agent_ids[:min(size, agents)])
    covered = []
    for row in rows:
        assert row.specificity == f"{row.slice_first}-{row.slice_count}" and row.attempt == 0
        covered.extend(range(row.slice_first, row.slice_first + row.slice_count))
    assert sorted(covered) == list(range(size))


def test_each_slice_option_carries_its_ipstart_and_ipend(client, engine):
    task, job, rng, agent_ids = balanced_discovery(engine, 3, "192.0.2.1", "192.0.2.10")
    set_module(engine, Module.NETWORK_DISCOVERY, True)
    prepare_runs(engine, NOW, task_id=task)
    seen = []
    for agent_id in agent_ids:
        reply = zlib.decompress(client.post("/plugins/fusioninventory/", headers=ZLIB_HEADERS,
                                            data=prolog(f"agent{agent_id}-2024-01-01-00-00-00")).data).decode()
        [(start, end)] = re.findall(r'<RANGEIP ID="\d+" IPSTART="([\d.]+)" IPEND="([\d.]+)"', reply)
        seen.append((start, end))
    assert seen == [("192.0.2.1", "192.0.2.4"), ("192.0.2.5", "192.0.2.7"), ("192.0.2.8", "192.0.2.10")]


def test_a_run_without_bridge_slice_keeps_the_legacy_offsets(client, engine):
    """9.5 reads a specificity "x-y" as offsets x and y from the range's start."""
    with engine.begin() as conn:
        agent = add_agent(conn)
        task = add_task(conn)
        rng = add_iprange(conn, "192.0.2.1", "192.0.2.254")
        job = add_job(conn, task, [(RANGE, rng)], [(AGENT, agent)])
        insert_row(conn, runs_t, plugin_fusioninventory_taskjobs_id=job, itemtype=RANGE, items_id=rng,
                   plugin_fusioninventory_agents_id=agent, state=0, uniqid="legacy", specificity="10-20")
    set_module(engine, Module.NETWORK_DISCOVERY, True)
    reply = zlib.decompress(client.post("/plugins/fusioninventory/", headers=ZLIB_HEADERS,
                                        data=prolog(f"agent{agent}-2024-01-01-00-00-00")).data).decode()
    assert 'IPSTART="192.0.2.11" IPEND="192.0.2.21"' in reply


def test_a_range_smaller_than_the_pool_gets_fewer_slices_and_two_ranges_rotate(engine):
    task, job, rng, agent_ids = balanced_discovery(engine, 4, "10.0.0.1", "10.0.0.2")
    with engine.begin() as conn:
        other = add_iprange(conn, "10.0.1.1", "10.0.1.8")
        conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == job).values(
            targets=json.dumps([{RANGE: str(rng)}, {RANGE: str(other)}])))
    prepare_runs(engine, NOW, task_id=task)
    rows = job_runs(engine, job)
    assert [(r.items_id, r.specificity, r.agent) for r in rows] == [
        (rng, "0-1", agent_ids[0]), (rng, "1-1", agent_ids[1]),
        (other, "0-2", agent_ids[2]), (other, "2-2", agent_ids[3]), (other, "4-2", agent_ids[0]),
        (other, "6-2", agent_ids[1])]


# ---------------------------------------------------------------------------------------------
# Idempotence, failures, retries


def test_a_second_pass_does_not_split_again_while_slices_are_live_or_done(engine):
    task, job, rng, agent_ids = balanced_discovery(engine, 3)
    assert prepare_runs(engine, NOW, task_id=task).prepared == 3
    with engine.begin() as conn:  # the pool grows: the live split stays as it is
        new_agent = add_agent(conn)
        conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == job).values(
            actors=json.dumps([{AGENT: str(a)} for a in agent_ids + [new_agent]])))
    again = prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task)
    assert (again.prepared, again.skipped, again.cancelled) == (0, 3, 0)
    rows = job_runs(engine, job)
    with engine.begin() as conn:
        for row in rows:
            assert run_service.move(conn, row.id, run_service.Move.FINISH)
    assert prepare_runs(engine, NOW + timedelta(minutes=2), task_id=task).prepared == 0
    assert len(job_runs(engine, job)) == 3


def test_a_failed_slice_is_prepared_again_on_another_agent_and_the_range_ends_covered_once(engine):
    task, job, rng, agent_ids = balanced_discovery(engine, 3)
    prepare_runs(engine, NOW, task_id=task)
    first = job_runs(engine, job)
    fail(engine, first[1].id)
    report = prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task)
    assert (report.prepared, report.skipped) == (1, 2)
    rows = job_runs(engine, job)
    retry = rows[-1]
    assert (retry.specificity, retry.attempt, retry.previous_run) == (first[1].specificity, 1, first[1].id)
    assert retry.agent != first[1].agent and retry.agent in agent_ids
    with engine.begin() as conn:
        for row in rows:
            run_service.finish(conn, row.id, "done", NOW)
    done = [r for r in job_runs(engine, job) if r.state == State.FINISHED]
    covered = sorted(a for r in done for a in range(r.slice_first, r.slice_first + r.slice_count))
    assert covered == list(range(254))


def test_retries_are_bounded_then_the_slice_is_reported_not_covered_once(engine):
    task, job, rng, agent_ids = balanced_discovery(engine, 2, slice_retries=1)
    prepare_runs(engine, NOW, task_id=task)
    victim = job_runs(engine, job)[0]
    fail(engine, victim.id)
    assert prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task).prepared == 1
    retry = job_runs(engine, job)[-1]
    assert (retry.attempt, retry.agent) == (1, agent_ids[1])
    fail(engine, retry.id)
    for minute in (2, 3):
        assert prepare_runs(engine, NOW + timedelta(minutes=minute), task_id=task).prepared == 0
    assert len(job_runs(engine, job)) == 3
    lost = [c for c in comments(engine, retry.id) if "could not be covered" in c]
    assert lost == ["The slice 0-127 of this IP range could not be covered: 2 attempt(s) failed, no retry left"]


def test_a_slice_cancelled_by_a_timeout_moves_but_a_user_cancellation_is_respected(engine):
    task, job, rng, agent_ids = balanced_discovery(engine, 3)
    prepare_runs(engine, NOW, task_id=task)
    rows = job_runs(engine, job)
    with engine.begin() as conn:
        run_service.cancel(conn, rows[0].id, "Push timeout: the agent did not call in", NOW)
        run_service.cancel(conn, rows[1].id, "Task has been disabled", NOW)
    assert prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task).prepared == 1
    assert job_runs(engine, job)[-1].previous_run == rows[0].id


def test_an_agent_leaving_the_pool_hands_its_live_slice_to_another(engine):
    task, job, rng, agent_ids = balanced_discovery(engine, 3)
    prepare_runs(engine, NOW, task_id=task)
    rows = job_runs(engine, job)
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == job).values(
            actors=json.dumps([{AGENT: str(a)} for a in agent_ids[:2]])))
    report = prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task)
    assert (report.cancelled, report.prepared) == (1, 1)
    after = job_runs(engine, job)
    assert after[2].state == State.CANCELLED and comments(engine, rows[2].id)[-1] == AGENT_LEFT
    assert (after[-1].specificity, after[-1].previous_run) == (rows[2].specificity, rows[2].id)
    assert after[-1].agent in agent_ids[:2]


def test_without_settings_every_agent_gets_every_target_as_in_95(engine):
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in range(3)]
        task = add_task(conn)
        ranges = [add_iprange(conn), add_iprange(conn, "10.0.1.1", "10.0.1.9")]
        job = add_job(conn, task, [(RANGE, r) for r in ranges], [(AGENT, a) for a in agents])
    assert prepare_runs(engine, NOW, task_id=task).prepared == 6
    rows = job_runs(engine, job)
    assert sorted((r.items_id, r.agent) for r in rows) == sorted((r, a) for r in ranges for a in agents)
    assert all(r.specificity is None and r.attempt is None for r in rows)  # no bridge row


# ---------------------------------------------------------------------------------------------
# Chunks of items


def test_wake_on_lan_computers_and_snmp_devices_are_dealt_in_chunks(engine):
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in range(2)]
        task = add_task(conn)
        pcs = [add_computer(conn, f"pc{i}") for i in range(5)]
        wol = add_job(conn, task, [(COMPUTER, p) for p in pcs], [(AGENT, a) for a in agents], method=Method.WAKEONLAN)
        devices = [insert_row(conn, schema.glpi_networkequipments, name=f"sw{i}", entities_id=0)
                   for i in range(3)]
        snmp = add_job(conn, task, [(ItemType.NETWORK_EQUIPMENT, d) for d in devices], [(AGENT, a) for a in agents],
                       method=Method.NETWORK_INVENTORY)
    for job in (wol, snmp):
        set_job_settings(engine, job, {"balance": 1})
    assert prepare_runs(engine, NOW, task_id=task).prepared == 8
    assert [(r.items_id, r.agent) for r in job_runs(engine, wol)] == [
        (pcs[0], agents[0]), (pcs[1], agents[0]), (pcs[2], agents[0]), (pcs[3], agents[1]), (pcs[4], agents[1])]
    assert [(r.items_id, r.agent) for r in job_runs(engine, snmp)] == [
        (devices[0], agents[0]), (devices[1], agents[0]), (devices[2], agents[1])]
    fail(engine, job_runs(engine, wol)[0].id)
    assert prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task).prepared == 1
    retry = job_runs(engine, wol)[-1]
    assert (retry.items_id, retry.agent, retry.attempt) == (pcs[0], agents[1], 1)


# ---------------------------------------------------------------------------------------------
# Pools


def pool_job(engine, method=Method.NETWORK_DISCOVERY, listed=(), start="10.1.0.1", end="10.1.0.254"):
    with engine.begin() as conn:
        task = add_task(conn)
        rng = add_iprange(conn, start, end)
        job = add_job(conn, task, [(RANGE, rng)], [(AGENT, a) for a in listed], method=method)
    return task, job


def test_module_pool_honours_the_active_flag_and_its_exceptions(engine):
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in range(4)]
    task, job = pool_job(engine)
    set_job_settings(engine, job, {"pool": "module"})
    set_module(engine, Module.NETWORK_DISCOVERY, True, exceptions=[agents[1]])
    prepare_runs(engine, NOW, task_id=task)
    assert sorted(r.agent for r in job_runs(engine, job)) == [agents[0], agents[2], agents[3]]
    # Inactive: only the exceptions; the others' live runs are cancelled at the next pass.
    set_module(engine, Module.NETWORK_DISCOVERY, False, exceptions=[agents[2]])
    report = prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task)
    assert report.cancelled == 2
    assert [r.agent for r in job_runs(engine, job) if r.state == State.PREPARED] == [agents[2]]


def test_subnet_pool_uses_contact_addresses_and_computer_addresses(engine):
    addresses = schema.bridge_agentaddresses
    with engine.begin() as conn:
        near, same_24, far = (add_agent(conn) for _ in range(3))
        pc = add_computer(conn)
        by_computer = add_agent(conn, computers_id=pc)
        insert_row(conn, schema.glpi_ipaddresses, itemtype=ItemType.NETWORK_NAME, items_id=1, entities_id=0,
                   version=4, name="10.1.0.200", mainitemtype=COMPUTER, mainitems_id=pc)
        for agent, address in ((near, "10.1.0.50"), (same_24, "10.1.1.3"), (far, "192.168.9.9")):
            conn.execute(insert(addresses).values(plugin_fusioninventory_agents_id=agent, address=address, date=NOW))
    task, job = pool_job(engine, start="10.1.0.1", end="10.1.1.0")  # touches 10.1.0.0/24 and 10.1.1.0/24
    set_job_settings(engine, job, {"pool": "subnet"})
    prepare_runs(engine, NOW, task_id=task)
    assert sorted(r.agent for r in job_runs(engine, job)) == sorted([near, same_24, by_computer])


def test_pool_is_capped_most_recently_seen_first_and_keeps_agents_at_work(engine):
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in range(5)]
        for minutes, agent in enumerate(agents):
            conn.execute(update(schema.agents).where(schema.agents.c.id == agent)
                         .values(last_contact=NOW - timedelta(minutes=10 - minutes)))
    task, job = pool_job(engine, listed=[agents[0]])
    set_job_settings(engine, job, {"pool": "module", "pool_max_agents": 3, "balance": 1})
    set_module(engine, Module.NETWORK_DISCOVERY, True)
    prepare_runs(engine, NOW, task_id=task)
    # The listed actor first, then the two most recently seen.
    assert [r.agent for r in job_runs(engine, job)] == [agents[0], agents[4], agents[3]]
    with engine.begin() as conn:  # others call in since: the agents at work stay in the pool
        conn.execute(update(schema.agents).where(schema.agents.c.id.in_(agents[1:3])).values(last_contact=NOW))
    assert prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task).cancelled == 0


class _StatusHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        body = b"status: waiting"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Listeners:
    """Local agent HTTP servers answering ``/status``; ``stop(port)`` makes one unreachable."""

    def __init__(self):
        self.servers = {}

    def __call__(self) -> int:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers[server.server_address[1]] = server
        return server.server_address[1]

    def stop(self, port: int) -> None:
        server = self.servers.pop(port)
        server.shutdown()
        server.server_close()


@pytest.fixture
def status_listeners():
    listeners = _Listeners()
    yield listeners
    for port in list(listeners.servers):
        listeners.stop(port)


def listening_agents(engine, ports) -> list[int]:
    with engine.begin() as conn:
        agents = [add_agent(conn) for _ in ports]
        for agent, port in zip(agents, ports):
            conn.execute(update(schema.agents).where(schema.agents.c.id == agent).values(agent_port=str(port)))
            conn.execute(insert(schema.bridge_agentaddresses).values(
                plugin_fusioninventory_agents_id=agent, address="127.0.0.1", date=NOW))
    return agents


def test_push_mode_keeps_only_pool_agents_whose_status_answers(engine, status_listeners):
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    alive = listening_agents(engine, [status_listeners(), status_listeners()])
    [dead] = listening_agents(engine, [dead_port])
    with engine.begin() as conn:
        unknown = add_agent(conn)  # never called: no address
    task, job = pool_job(engine)
    set_task_settings(engine, task, {"communication": "push"})
    set_job_settings(engine, job, {"pool": "module", "balance": 1})
    set_module(engine, Module.NETWORK_DISCOVERY, True)
    prepare_runs(engine, NOW, task_id=task)
    assert sorted(r.agent for r in job_runs(engine, job)) == sorted(alive)
    assert unknown not in {r.agent for r in job_runs(engine, job)}


def test_push_mode_keeps_agents_at_work_and_waits_when_nobody_answers(engine, status_listeners):
    ports = [status_listeners() for _ in range(2)]
    agents = listening_agents(engine, ports)
    task, job = pool_job(engine)
    set_task_settings(engine, task, {"communication": "push"})
    set_job_settings(engine, job, {"pool": "module", "balance": 1})
    set_module(engine, Module.NETWORK_DISCOVERY, True)
    prepare_runs(engine, NOW, task_id=task)
    first = job_runs(engine, job)
    assert [r.agent for r in first] == agents
    # An agent busy scanning may miss a probe: its live slice is not taken away.
    status_listeners.stop(ports[0])
    report = prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task)
    assert (report.cancelled, report.prepared) == (0, 0)
    # Its slice fails (the push time-out): the other, answering agent gets it.
    fail(engine, first[0].id, "Push timeout: the agent did not call in")
    assert prepare_runs(engine, NOW + timedelta(minutes=2), task_id=task).prepared == 1
    assert (job_runs(engine, job)[-1].agent, job_runs(engine, job)[-1].previous_run) == (agents[1], first[0].id)
    # Nobody answers any more: nothing is cancelled, a failed slice waits for an agent.
    status_listeners.stop(ports[1])
    fail(engine, first[1].id)
    report = prepare_runs(engine, NOW + timedelta(minutes=3), task_id=task)
    assert (report.cancelled, report.prepared) == (0, 0)
    assert not [c for c in comments(engine, first[1].id) if "could not be covered" in c]


def test_answering_agents_probes_status_only_and_rejects_a_zero_bound(engine, status_listeners):
    from fusion_bridge.services.push.wakeup import answering_agents

    alive = listening_agents(engine, [status_listeners() for _ in range(3)])
    with engine.begin() as conn:
        silent = add_agent(conn)  # no address known
    assert answering_agents(engine, alive + [silent, 999999], concurrency=2, timeout=1) == set(alive)
    with engine.connect() as conn:
        assert conn.execute(select(schema.bridge_wakeups.c.id)).first() is None  # nothing woken, nothing recorded
    with pytest.raises(ValueError):
        answering_agents(engine, alive, concurrency=0)


def test_a_settled_balanced_job_is_not_probed_again(engine, status_listeners, monkeypatch):
    from fusion_bridge.services.push import wakeup

    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    agents = listening_agents(engine, [status_listeners() for _ in range(2)])
    [dead] = listening_agents(engine, [dead_port])  # in the pool, never answers
    task, job = pool_job(engine)
    set_task_settings(engine, task, {"communication": "push"})
    set_job_settings(engine, job, {"pool": "module", "balance": 1})
    set_module(engine, Module.NETWORK_DISCOVERY, True)
    probed = []
    real = wakeup.answering_agents

    def counting(engine_, agent_ids, *args, **kwargs):
        probed.append(sorted(agent_ids))
        return real(engine_, agent_ids, *args, **kwargs)

    monkeypatch.setattr(wakeup, "answering_agents", counting)
    prepare_runs(engine, NOW, task_id=task)
    assert probed == [sorted(agents + [dead])] and len(job_runs(engine, job)) == 2
    # Every slice is out: later passes neither probe the pool (its silent agent would cost a
    # time-out at every pass) nor change anything.
    report = prepare_runs(engine, NOW + timedelta(minutes=1), task_id=task)
    assert (len(probed), report.prepared, report.cancelled) == (1, 0, 0)
    # A slice fails: the pool is probed again to find it another agent.
    first = job_runs(engine, job)
    fail(engine, first[0].id)
    assert prepare_runs(engine, NOW + timedelta(minutes=2), task_id=task).prepared == 1
    assert len(probed) == 2 and job_runs(engine, job)[-1].agent == agents[1]


def test_a_slice_cancelled_outside_the_execution_timeslot_is_offered_again_to_its_agent(engine):
    from fusion_bridge.services.agent.dispatch import OUT_OF_TIMESLOT

    task, job, rng, agent_ids = balanced_discovery(engine, 2, slice_retries=1)
    prepare_runs(engine, NOW, task_id=task)
    first = job_runs(engine, job)
    # Its agent called in outside the execution timeslot, several times: not a failure.
    victim = first[0]
    for minute in (1, 2, 3):
        with engine.begin() as conn:
            run_service.cancel(conn, victim.id, OUT_OF_TIMESLOT, NOW)
        assert prepare_runs(engine, NOW + timedelta(minutes=minute), task_id=task).prepared == 1
        again = job_runs(engine, job)[-1]
        assert (again.agent, again.specificity, again.attempt, again.previous_run) == (
            victim.agent, victim.specificity, 0, victim.id)
        victim = again
    assert not [c for r in job_runs(engine, job) for c in comments(engine, r.id) if "could not be covered" in c]


@pytest.mark.parametrize("database_url", ["mariadb"], indirect=True)  # SQLite has no named lock
def test_pools_are_probed_before_the_preparation_lock_is_taken(engine, status_listeners, monkeypatch):
    import hashlib

    from sqlalchemy import text

    from fusion_bridge.services.push import wakeup
    from fusion_bridge.services.scheduling.preparation import PREPARE_LOCK

    listening_agents(engine, [status_listeners() for _ in range(2)])
    task, job = pool_job(engine)
    set_task_settings(engine, task, {"communication": "push"})
    set_job_settings(engine, job, {"pool": "module", "balance": 1})
    set_module(engine, Module.NETWORK_DISCOVERY, True)
    key = "fb:" + hashlib.sha1(PREPARE_LOCK.encode("utf-8")).hexdigest()
    lock_free_while_probing = []
    real = wakeup.answering_agents

    def checking(engine_, agent_ids, *args, **kwargs):
        with engine.connect() as other:
            lock_free_while_probing.append(other.execute(text("SELECT IS_FREE_LOCK(:k)"), {"k": key}).scalar())
        return real(engine_, agent_ids, *args, **kwargs)

    monkeypatch.setattr(wakeup, "answering_agents", checking)
    assert prepare_runs(engine, NOW, task_id=task).prepared == 2
    assert lock_free_while_probing == [1]
