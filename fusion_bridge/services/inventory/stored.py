"""The last inventory of each agent, kept compressed for the import that comes later."""

from __future__ import annotations

import zlib
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

import schema

inventories = schema.bridge_inventories


def store_last_inventory(conn: Connection, agent_id: int, device_id: str, xml: bytes, when: datetime,
                         compressed: bytes | None = None) -> None:
    """``compressed``: ``xml`` already zlib-compressed (the agent's own body), kept as it is."""
    values = {
        "device_id": device_id,
        "date": when,
        "query": "INVENTORY",
        "compression": "zlib",
        "size": len(xml),
        "content": compressed if compressed is not None else zlib.compress(xml, 6),
    }
    key = inventories.c.plugin_fusioninventory_agents_id
    # The caller holds the agent row lock, so update-then-insert cannot race.
    if conn.execute(update(inventories).where(key == agent_id).values(values)).rowcount == 0:
        conn.execute(insert(inventories).values(plugin_fusioninventory_agents_id=agent_id, **values))
