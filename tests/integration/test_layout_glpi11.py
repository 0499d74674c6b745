"""GLPI 11 + glpiinventory specifics the task engine reads (docs/schema-layouts.md §6, §7), on
SQLite and MariaDB databases made as ``db init --schema glpiinventory --glpi 11`` makes them."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, inspect, text

import schema
from fusion_bridge.app import create_app
from fusion_bridge.adapters.db import make_engine
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.services.agent.settings import load_settings
from fusion_bridge.services.scheduling.actors import agents_for_actors, glpi_group_computers
from fusion_bridge.services.inventory.matching import asset_row
from fusion_bridge.services.scheduling.group_members import glpi_groups_items
from schema.constants import ItemType, Module
from tests.helpers.inventory_rows import add_agent, add_computer
from tests.helpers.layouts import GLPIINVENTORY, set_inventory_config
from tests.helpers.network_runs import add_network_runs, discover


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


def test_discovery_imports_on_glpi11_whose_assets_have_no_group_columns(glpi11_url):
    """GLPI 11 dropped the assets' ``groups_id``/``groups_id_tech`` (they are ``glpi_groups_items``
    rows): learnt at the engine's first connection, read as NULL and never written."""
    engine = make_engine(glpi11_url)
    with engine.begin() as conn:
        set_inventory_config(conn, enabled_inventory="1")
    add_network_runs(engine)
    app = create_app({"DATABASE_URL": glpi11_url, "SETTINGS_TTL": 0, "LOG_INTERVAL": 0})
    try:
        discover(app.test_client(), "<IP>10.20.0.5</IP><SNMPHOSTNAME>sw-new</SNMPHOSTNAME><TYPE>NETWORKING</TYPE>"
                 "<MAC>00:1a:2b:3c:4d:05</MAC>", "<IP>10.20.0.40</IP><SERIAL>FOC40</SERIAL><TYPE>NETWORKING</TYPE>")
        with engine.connect() as conn:
            assert "groups_id" not in {column["name"] for column in inspect(conn).get_columns("glpi_networkequipments")}
            # The known switch (serial FOC40) is updated, the new one created.
            assert conn.execute(text("SELECT id, serial FROM glpi_networkequipments ORDER BY id")).all()[0] == (40, "FOC40")
            assert conn.execute(text("SELECT COUNT(*) FROM glpi_networkequipments WHERE name = 'sw-new'")).scalar() == 1
            assert asset_row(conn, ItemType.NETWORK_EQUIPMENT, 40)["groups_id"] is None
    finally:
        app.extensions["fusion_bridge"].dispose()
        engine.dispose()
