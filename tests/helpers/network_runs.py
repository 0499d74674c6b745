"""An agent with a discovery run on a range and an SNMP inventory run on a known switch, and its
NETDISCOVERY / SNMPQUERY posts through the agent endpoint: what the import tests of both schemas
start from."""

from __future__ import annotations

import zlib

from sqlalchemy import insert

import schema
from schema.constants import ItemType, Method
from tests.helpers.agent_requests import ZLIB_HEADERS, message_xml
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_iprange, add_job, add_run, add_task

DEVICE_ID = "scanner-2026-11-25-10-00-00"
AGENT = 7
DISCOVERY_RUN, INVENTORY_RUN = 31, 32


def add_network_runs(engine, **agent_columns) -> None:
    """Agent 7 with a discovery run (31) on range 1 (10.20.0.1-254) and an SNMP inventory run (32)
    on switch 40 (``sw-known``, serial FOC40), both handed out."""
    with engine.begin() as conn:
        add_agent(conn, AGENT, DEVICE_ID, **agent_columns)
        add_iprange(conn, "10.20.0.1", "10.20.0.254", range_id=1)
        add_task(conn, 1)
        add_job(conn, 1, '[{"PluginFusioninventoryIPRange":"1"}]',
                f'[{{"PluginFusioninventoryAgent":"{AGENT}"}}]', Method.NETWORK_DISCOVERY, job_id=1)
        add_job(conn, 1, '[{"NetworkEquipment":"40"}]',
                f'[{{"PluginFusioninventoryAgent":"{AGENT}"}}]', Method.NETWORK_INVENTORY, job_id=2)
        add_run(conn, DISCOVERY_RUN, 1, AGENT, ItemType.IP_RANGE, 1, state=1)
        add_run(conn, INVENTORY_RUN, 2, AGENT, ItemType.NETWORK_EQUIPMENT, 40, state=1)
        conn.execute(insert(schema.glpi_networkequipments).values(id=40, entities_id=0, name="sw-known",
                                                                   serial="FOC40"))


def post(client, query: str, content: str, run_id: int) -> None:
    """A task message of agent 7 for run ``run_id``; it must be answered 200."""
    body = message_xml(DEVICE_ID, query, f"{content}<MODULEVERSION>4.2</MODULEVERSION>"
                                         f"<PROCESSNUMBER>{run_id}</PROCESSNUMBER>")
    response = client.post("/plugins/fusioninventory/", data=zlib.compress(body), headers=ZLIB_HEADERS)
    assert response.status_code == 200, zlib.decompress(response.data)


def discover(client, *devices: str) -> None:
    """A NETDISCOVERY message of the discovery run with ``devices`` (DEVICE contents)."""
    post(client, "NETDISCOVERY", "".join(f"<DEVICE>{d}<ENTITY>0</ENTITY></DEVICE>" for d in devices), DISCOVERY_RUN)
