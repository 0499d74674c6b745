"""The relay's rows: agents in bulk, an inventory queued as the agent sent it, the queue's first
document read back."""

from __future__ import annotations

import zlib

from sqlalchemy import insert, select

import schema
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.relay import queue
from tests.helpers.agent_requests import USER_AGENT, inventory_xml


def add_agents(engine, count, start=1):
    with engine.begin() as conn:
        conn.execute(insert(schema.agents), [
            {"id": n, "name": f"pc{n:04d}", "device_id": f"pc{n:04d}-2024-01-01-00-00-00", "entities_id": 0,
             "threads_networkdiscovery": 0, "threads_networkinventory": 0} for n in range(start, start + count)])


def queue_inventory(engine, agent_id, device_id, name="pc", now=None):
    body = zlib.compress(inventory_xml(device_id, name))
    with engine.begin() as conn:
        queue.enqueue(conn, agent_id, device_id, "", queue.Incoming(
            body, "application/x-compress-zlib", USER_AGENT, "192.0.2.7"), now or local_now(),
            queue.Caps(10**6, 10**12))
    return body


def document(engine):
    with engine.connect() as conn:
        return conn.execute(select(schema.bridge_relayqueue)).mappings().first()
