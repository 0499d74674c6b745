"""64 new agents at once, each sending its first PROLOG then its first INVENTORY (issue 10,
items 1 and 8): no error, one agent row and one stored inventory each, and the computers they
end on are those of the same inventories sent one after the other."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, insert, select

import schema
from fusion_bridge.app import create_app
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.concurrent_agents import AGENT_PATH, first_contacts, recorded_inventory
from tests.helpers.db import reset_database

AGENTS = 64


def device_ids(run: str) -> list[str]:
    return [f"{run}{index:03d}-2026-01-01-00-00-00" for index in range(AGENTS)]


@pytest.fixture
def apps(database_url):
    """Two app instances on the same database, as two servers would be."""
    # No retry of deadlocks here: first contacts must not deadlock at all.
    made = [create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "DB_RETRIES": 0}) for _ in range(2)]
    yield made
    for app in made:
        app.extensions["fusion_bridge"].dispose()


def agents_and_inventories(engine, ids: list[str]) -> tuple[Counter, Counter]:
    agents, inventories = schema.agents, schema.bridge_inventories
    with engine.connect() as conn:
        agent_rows = Counter(conn.execute(select(agents.c.device_id).where(agents.c.device_id.in_(ids))).scalars())
        stored = Counter(conn.execute(
            select(agents.c.device_id).join(inventories, inventories.c.plugin_fusioninventory_agents_id == agents.c.id)
            .where(agents.c.device_id.in_(ids))).scalars())
    return agent_rows, stored


def computers_and_links(engine) -> tuple[int, Counter, int]:
    """How many computers; how many computers have each (name, number of agents linked); how many
    agents have no computer. Ids differ between runs, the shape must not."""
    computers, agents = schema.glpi_computers, schema.agents
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(computers)).scalar()
        linked = conn.execute(
            select(computers.c.name, func.count(agents.c.id))
            .select_from(computers).outerjoin(agents, agents.c.computers_id == computers.c.id)
            .group_by(computers.c.id, computers.c.name)).all()
        unlinked = conn.execute(select(func.count()).select_from(agents)
                                .where(agents.c.computers_id == 0, agents.c.device_id.like("%-2026-01-01-%"))).scalar()
    return count, Counter((name, n) for name, n in linked), unlinked


@pytest.mark.parametrize("concurrency", [8, 32])
@pytest.mark.parametrize("instances", [1, 2])
def test_new_agents_at_once_all_get_in(apps, engine, concurrency, instances):
    ids = device_ids(f"new{concurrency}x{instances}-")
    names = {device_id: f"host{index:03d}" for index, device_id in enumerate(ids)}
    outcome = first_contacts(apps[:instances], ids, concurrency, names)
    assert outcome.failures == []
    agent_rows, stored = agents_and_inventories(engine, ids)
    assert agent_rows == Counter(ids) and stored == Counter(ids)
    count, links, unlinked = computers_and_links(engine)
    assert (count, unlinked) == (AGENTS, 0)
    assert links == Counter({(name, 1): 1 for name in names.values()})


def add_computer_without_agent(engine, name: str) -> None:
    """A computer GLPI already has (entered by hand, or its agent removed): the first agent
    that reports that name takes it."""
    computers = schema.glpi_computers
    with engine.begin() as conn:
        conn.execute(insert(computers).values(entities_id=0, name=name, serial="", uuid="", is_dynamic=0))


@pytest.mark.parametrize("concurrency, glpi_has_one", [(8, True), (32, True), (32, False)])
def test_one_name_without_serial_or_uuid_gives_what_one_after_the_other_gives(apps, engine, concurrency,
                                                                              glpi_has_one):
    """The recorded inventory names its computer "vm" and has no serial or UUID (a cloned VM).
    ``glpi_has_one``: GLPI already has a computer "vm" that no agent reports; one agent must take
    it, not several."""
    ids = device_ids("clone-")
    if glpi_has_one:
        add_computer_without_agent(engine, "vm")
    assert first_contacts(apps[:1], ids, 1).failures == []
    sequential = computers_and_links(engine)
    assert sequential[1][("vm", 1)] == AGENTS  # each agent its own computer (GLPI's one taken once)
    reset_database(engine)
    if glpi_has_one:
        add_computer_without_agent(engine, "vm")

    outcome = first_contacts(apps, ids, concurrency)
    assert outcome.failures == []
    agent_rows, stored = agents_and_inventories(engine, ids)
    assert agent_rows == Counter(ids) and stored == Counter(ids)
    assert computers_and_links(engine) == sequential


def test_one_uuid_gives_what_one_after_the_other_gives(apps, engine):
    """Clones that kept their SMBIOS UUID: one after the other they all end on one computer."""
    ids = device_ids("uuid-")
    uuid = "4c4c4544-0042-3510-8051-b7c04f4e3732"
    assert first_contacts(apps[:1], ids, 1, uuid=uuid).failures == []
    sequential = computers_and_links(engine)
    assert sequential[:2] == (1, Counter({("vm", AGENTS): 1}))
    reset_database(engine)

    outcome = first_contacts(apps, ids, 32, uuid=uuid)
    assert outcome.failures == []
    assert computers_and_links(engine) == sequential


def test_one_new_agent_contacting_through_both_paths_at_once_is_one_row(apps, engine):
    """A first PROLOG creates the agent in one statement (MariaDB), a first INVENTORY of an unknown
    agent in its transaction: both under the agent's named lock, committed before it is released."""
    device_id = "both-2026-01-01-00-00-00"
    inventory = recorded_inventory(device_id)
    start = threading.Barrier(16)

    def contact(index: int) -> int:
        client = apps[index % 2].test_client()
        body = prolog(device_id) if index % 4 < 2 else inventory
        start.wait(timeout=60)
        return client.post(AGENT_PATH, data=body, headers=ZLIB_HEADERS).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(contact, range(16)))
    assert statuses == [200] * 16
    assert agents_and_inventories(engine, [device_id]) == (Counter([device_id]), Counter([device_id]))
