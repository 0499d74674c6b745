"""The plugin's per-computer row is GLPI 10/11's ``glpi_computers.last_inventory_update``
(docs/schema-layouts.md §4): what the computer import writes there — an UPDATE, else an INSERT of
the row, as ``services.inventory.computers`` does — sets the date GLPI shows, read with raw SQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert, select, text, update

from fusion_bridge.adapters.db_layout import layout_of
from schema.plugin_agents import inventorycomputercomputers as per_computer
from tests.helpers.inventory_rows import add_computer

pytestmark = pytest.mark.both_flavours

WHEN = datetime(2026, 11, 25, 14, 54, 18)


def mark_inventoried(conn, computer_id: int, when: datetime) -> None:
    done = conn.execute(update(per_computer).where(per_computer.c.computers_id == computer_id)
                        .values(last_fusioninventory_update=when)).rowcount
    if not done:
        conn.execute(insert(per_computer).values(computers_id=computer_id, last_fusioninventory_update=when))


def test_the_inventory_date_is_where_glpi_reads_it(engine):
    with engine.begin() as conn:
        computer = add_computer(conn, "pc07")
        other = add_computer(conn, "pc08")
        mark_inventoried(conn, computer, WHEN)
        mark_inventoried(conn, computer, WHEN.replace(hour=15))
    with engine.connect() as conn:
        if layout_of(conn).renames:
            dates = {row[0]: row[1] and str(row[1])[:19] for row in
                     conn.execute(text("SELECT id, last_inventory_update FROM glpi_computers"))}
            assert dates == {computer: "2026-11-25 15:54:18", other: None}
        else:
            rows = conn.execute(text("SELECT computers_id, last_fusioninventory_update FROM "
                                     "glpi_plugin_fusioninventory_inventorycomputercomputers")).all()
            assert [(row[0], str(row[1])[:19]) for row in rows] == [(computer, "2026-11-25 15:54:18")]
        # Read back through the layout, under the plugin's names.
        assert conn.execute(select(per_computer.c.last_fusioninventory_update, per_computer.c.winowner)
                            .where(per_computer.c.computers_id == computer)).one() == (WHEN.replace(hour=15), None)
