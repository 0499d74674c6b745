"""Network run log lines written in the form of the plugin whose tables the bridge serves
(docs/glpi10-protocol.md §9): the line ending a discovery run (FusionInventory 9.5's
``Processed:2 Created:2  Updated:0``, glpiinventory's ``Processed: 2 Created: 2 Updated: 0``) and
the Started line of an SNMP inventory run (9.5: the agent's own threads/timeout, glpiinventory:
the OPTION's)."""

from __future__ import annotations

import zlib

import pytest

from fusion_bridge.adapters.db_layout import layout_of
from schema.constants import ItemType, Method, TaskjobLogState as Log
from tests.helpers.agent_requests import ZLIB_HEADERS, message_xml, prolog
from tests.helpers.inventory_rows import add_agent, add_network_device
from tests.helpers.task_rows import add_iprange, add_job, add_run, add_task, run_logs

pytestmark = pytest.mark.both_flavours

DEVICE_ID = "scanner-2026-11-25-10-00-00"
AGENT, RUN = 7, 31


def test_discovery_end_line_in_the_layouts_form(client, engine):
    with engine.begin() as conn:
        add_agent(conn, AGENT, DEVICE_ID)
        add_iprange(conn, "10.20.0.1", "10.20.0.254", range_id=1)
        add_task(conn, 1)
        add_job(conn, 1, [(ItemType.IP_RANGE, 1)], [(ItemType.AGENT, AGENT)], Method.NETWORK_DISCOVERY, job_id=1)
        add_run(conn, RUN, 1, AGENT, ItemType.IP_RANGE, 1, state=1)
    body = message_xml(DEVICE_ID, "NETDISCOVERY", "<AGENT><END>1</END></AGENT><MODULEVERSION>4.2</MODULEVERSION>"
                                                  f"<PROCESSNUMBER>{RUN}</PROCESSNUMBER>")
    response = client.post("/plugins/fusioninventory/", data=zlib.compress(body), headers=ZLIB_HEADERS)
    assert response.status_code == 200, zlib.decompress(response.data)
    with engine.connect() as conn:
        glpiinventory = layout_of(conn).renames
    expected = "Processed: 0 Created: 0 Updated: 0" if glpiinventory else "Processed:0 Created:0  Updated:0"
    assert run_logs(engine, RUN)[-1] == (Log.OK, expected)


def test_snmp_inventory_started_line_in_the_layouts_form(client, engine):
    with engine.begin() as conn:
        add_agent(conn, AGENT, DEVICE_ID)
        device = add_network_device(conn, ItemType.NETWORK_EQUIPMENT, "10.20.0.5", credential=2)
        add_task(conn, 1)
        add_job(conn, 1, [(ItemType.NETWORK_EQUIPMENT, device)], [(ItemType.AGENT, AGENT)], Method.NETWORK_INVENTORY,
                job_id=1)
        add_run(conn, RUN, 1, AGENT, ItemType.NETWORK_EQUIPMENT, device, state=0)
    response = client.post("/plugins/fusioninventory/", data=prolog(DEVICE_ID), headers=ZLIB_HEADERS)
    assert response.status_code == 200 and b"SNMPQUERY" in zlib.decompress(response.data)
    with engine.connect() as conn:
        glpiinventory = layout_of(conn).renames
    # The agent's own columns are 0: the OPTION carries the plugin's configuration, 10 and 15.
    expected = "10 threads 15 timeout" if glpiinventory else "0 threads 0 timeout"
    assert run_logs(engine, RUN)[-1] == (Log.STARTED, expected)
