"""glpiinventory's ``restrict_to_task_entity`` on an SNMP inventory job whose target is an IP
range (docs/schema-layouts.md §7): 1 (GLPI's default) keeps the range's devices of the range's
entity and its ancestors, as FusionInventory always did; 0 takes those of every entity."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from fusion_bridge.services.scheduling.preparation import prepare_runs
from fusion_bridge.services.scheduling.targets import TargetResolver, restricts_to_range_entity
from schema.constants import ItemType, Method
from tests.helpers.inventory_rows import add_agent, add_entity, add_network_device
from tests.helpers.layouts import GLPIINVENTORY
from tests.helpers.task_rows import add_iprange, add_job, add_task, all_runs

pytestmark = pytest.mark.parametrize("database_url", [
    pytest.param(("sqlite", GLPIINVENTORY), id="sqlite-glpiinventory"),
    pytest.param(("mariadb", GLPIINVENTORY), id="mariadb-glpiinventory", marks=pytest.mark.mariadb),
], indirect=True)

NE, RANGE, AGENT = ItemType.NETWORK_EQUIPMENT, ItemType.IP_RANGE, ItemType.AGENT
NOW = datetime(2024, 3, 6, 10, 30, 0)


def _entities_and_devices(conn) -> dict[str, int]:
    """Entities 1 (under the root) > 2, and 3 beside 1; a device in each; a range of entity 2."""
    add_entity(conn, 1, 0)
    add_entity(conn, 2, 1)
    add_entity(conn, 3, 0)
    return {
        "root": add_network_device(conn, NE, "10.1.0.1", entities_id=0),
        "parent": add_network_device(conn, NE, "10.1.0.2", entities_id=1),
        "own": add_network_device(conn, NE, "10.1.0.3", entities_id=2),
        "sibling": add_network_device(conn, NE, "10.1.0.4", entities_id=3),
        "outside": add_network_device(conn, NE, "10.2.0.1", entities_id=3),
        "range": add_iprange(conn, "10.1.0.0", "10.1.0.255", entities_id=2),
    }


def _set_restriction(conn, job_id: int, value: int) -> None:
    # As GLPI 10's job form saves it: the column is glpiinventory's own.
    conn.execute(text("UPDATE glpi_plugin_glpiinventory_taskjobs SET restrict_to_task_entity = :v WHERE id = :id"),
                 {"v": value, "id": job_id})


@pytest.mark.parametrize("restriction, expected", [
    (None, ("root", "parent", "own")),  # a job written without the column: GLPI's default, 1
    (1, ("root", "parent", "own")),
    (0, ("root", "parent", "own", "sibling")),  # the range's devices of every entity
])
def test_an_ip_range_gives_the_devices_the_job_restriction_allows(engine, restriction, expected):
    with engine.begin() as conn:
        made = _entities_and_devices(conn)
        agent = add_agent(conn)
        job = add_job(conn, add_task(conn), [(RANGE, made["range"])], [(AGENT, agent)],
                      method=Method.NETWORK_INVENTORY)
        if restriction is None:
            assert conn.execute(text("SELECT restrict_to_task_entity FROM glpi_plugin_glpiinventory_taskjobs "
                                     "WHERE id = :id"), {"id": job}).scalar_one() == 1
        else:
            _set_restriction(conn, job, restriction)
    prepare_runs(engine, NOW)
    assert sorted(r["items_id"] for r in all_runs(engine, job)) == sorted(made[name] for name in expected)


def test_two_jobs_on_one_range_each_get_their_own_devices(engine):
    # The resolver caches a range's devices for the pass: per restriction, not per range alone.
    with engine.begin() as conn:
        made = _entities_and_devices(conn)
        agent = add_agent(conn)
        task = add_task(conn)
        restricted = add_job(conn, task, [(RANGE, made["range"])], [(AGENT, agent)], method=Method.NETWORK_INVENTORY)
        everywhere = add_job(conn, task, [(RANGE, made["range"])], [(AGENT, agent)], method=Method.NETWORK_INVENTORY)
        _set_restriction(conn, everywhere, 0)
        resolver = TargetResolver(conn)
        assert restricts_to_range_entity(conn, restricted) and not restricts_to_range_entity(conn, everywhere)
        assert len(resolver.resolve(Method.NETWORK_INVENTORY, [(RANGE, made["range"])], restricted)) == 3
        assert len(resolver.resolve(Method.NETWORK_INVENTORY, [(RANGE, made["range"])], everywhere)) == 4
    prepare_runs(engine, NOW)
    assert len(all_runs(engine, restricted)) == 3
    assert made["sibling"] in {r["items_id"] for r in all_runs(engine, everywhere)}
