"""GLPI 11 + glpiinventory specifics the task engine reads (docs/schema-layouts.md §6, §7), on
SQLite and MariaDB databases made as ``db init --schema glpiinventory --glpi 11`` makes them."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

import schema
from fusion_bridge.adapters.db import make_engine
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.services.agent.settings import load_settings
from fusion_bridge.services.scheduling.actors import agents_for_actors, glpi_group_computers
from fusion_bridge.services.scheduling.group_members import glpi_groups_items
from schema.constants import ItemType, Module
from tests.helpers.inventory_rows import add_agent, add_computer
from tests.helpers.layouts import GLPIINVENTORY


@pytest.fixture
def glpi11(glpi11_url):
    engine = make_engine(glpi11_url)
    yield engine
    engine.dispose()


def test_group_actors_find_their_computers_in_groups_items(glpi11):
    with glpi11.begin() as conn:
        assert layout_of(conn).flavour == GLPIINVENTORY
        group = conn.execute(insert(schema.glpi_groups).values(name="lab", entities_id=0)).inserted_primary_key[0]
        member, tech_only, other = (add_computer(conn, name) for name in ("member", "tech", "other"))
        conn.execute(insert(glpi_groups_items), [
            {"groups_id": group, "itemtype": "Computer", "items_id": member, "type": 1},
            {"groups_id": group, "itemtype": "Computer", "items_id": tech_only, "type": 2},
        ])
        agent = add_agent(conn, device_id="member-2026-01-01-00-00-00", computers_id=member)
        add_agent(conn, device_id="other-2026-01-01-00-00-00", computers_id=other)
    with glpi11.connect() as conn:
        assert glpi_group_computers(conn, [group]) == {member}
        assert agents_for_actors(conn, [(ItemType.GROUP, group)]) == {agent}


def test_wake_on_lan_stays_switched_on_without_its_module_row(glpi11):
    settings = load_settings(glpi11)
    assert Module.WAKEONLAN.lower() not in {row.lower() for row in _module_names(glpi11)}
    assert settings.agent_can_do(Module.WAKEONLAN, 1)


def _module_names(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(schema.agentmodules.select().with_only_columns(
            schema.agentmodules.c.modulename)).scalars())
