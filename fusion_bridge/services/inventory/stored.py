"""The last inventory of each agent, kept compressed for the import that comes later."""

from __future__ import annotations

import zlib
from datetime import datetime

from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.adapters.db import is_mysql

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
    # One statement on the agent's key: an UPDATE of an absent key, then an INSERT, would lock
    # the key's gap and deadlock with the first inventory of another new agent.
    if is_mysql(conn):
        statement = mysql.insert(inventories).values(plugin_fusioninventory_agents_id=agent_id, **values)
        statement = statement.on_duplicate_key_update({name: statement.inserted[name] for name in values})
    else:
        statement = sqlite.insert(inventories).values(plugin_fusioninventory_agents_id=agent_id, **values)
        statement = statement.on_conflict_do_update(
            index_elements=[inventories.c.plugin_fusioninventory_agents_id],
            set_={name: statement.excluded[name] for name in values})
    conn.execute(statement)
