"""Calling the JSON admin API (under /api/) of a test client; the ``api`` fixture
(tests/integration/conftest.py) is such a client with ``ADMIN_TOKEN`` set. A task defined through
the admin services."""

from __future__ import annotations

from fusion_bridge.services.admin import definitions, network
from tests.helpers.inventory_rows import add_agent

ADMIN_TOKEN = "0123456789abcdef-admin"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def call(api, method: str, path: str, body=None, headers: dict = AUTH, expect: int = 200):
    """One request; fails unless it gets ``expect`` with a JSON body, which it returns."""
    response = api.open(path, method=method, json=body, headers=headers)
    assert response.status_code == expect, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    return response.get_json()


def discovery_task(engine, agent_id=None):
    """A task with one discovery action on a new IP range, defined through the admin services;
    (task, action, range id, agent id)."""
    agent_id = agent_id or add_agent(engine, name="pc01")
    iprange = network.create_iprange(engine, "LAN", "192.168.0.1", "192.168.0.254")
    task = definitions.create_task(engine, "Discover")
    action = definitions.add_action(engine, task["id"], "discover", "networkdiscovery",
                                    [("iprange", iprange["id"])], [("agent", agent_id)])
    return task, action, iprange["id"], agent_id
