"""Loopback, link-local and unspecified addresses, and the all-zero MAC, identify no asset: a
device discovered there is not merged into a computer that lists the same address, and
Wake-on-LAN does not send the all-zero MAC."""

from __future__ import annotations

import zlib
from datetime import datetime

import pytest
from sqlalchemy import insert, select

import schema
from fusion_bridge.services.inventory import ImportResult, import_discovered_device
from fusion_bridge.services.inventory.matching import find_by_ip, find_by_mac
from fusion_bridge.services.inventory.values import parse_ip
from tests.helpers.agent_messages import device
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.inventory_rows import add_agent, add_port
from tests.helpers.task_rows import add_job, add_run, add_task

NOW = datetime(2025, 6, 1, 12, 0, 0)
DEVICE_ID = "agent-2025-06-01-12-00-00"
COMPUTER_ID = 5


def agents_computer(conn, *addresses: tuple[str, str]) -> None:
    """The agent's own computer with one Ethernet port per (MAC, IP), as its inventory lists them."""
    conn.execute(insert(schema.glpi_computers).values(id=COMPUTER_ID, name="agent-host", entities_id=0,
                                                      is_deleted=0, is_template=0))
    add_agent(conn, 7, DEVICE_ID, computers_id=COMPUTER_ID)
    for number, (mac, ip) in enumerate(addresses, start=1):
        add_port(conn, "Computer", COMPUTER_ID, mac=mac, ip=ip, port_id=number)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.5", "::1", "169.254.10.1", "fe80::1"])
def test_a_device_at_such_an_address_is_a_new_asset(engine, address):
    with engine.begin() as conn:
        agents_computer(conn, ("02:00:00:00:00:01", address))
        found = device(f"<IP>{address}</IP><SNMPHOSTNAME>real-snmpd</SNMPHOSTNAME><TYPE>NETWORKING</TYPE>"
                       "<AUTHSNMP>2</AUTHSNMP>")
        result = import_discovered_device(conn, 7, found, 0, NOW)
        assert (result.itemtype, result.created) == ("NetworkEquipment", True)
        name = conn.execute(select(schema.glpi_networkequipments.c.name)
                            .where(schema.glpi_networkequipments.c.id == result.items_id)).scalar()
        assert name == "real-snmpd"
        assert find_by_ip(conn, [parse_ip(address)]) is None


def test_a_routable_address_still_matches(engine):
    with engine.begin() as conn:
        agents_computer(conn, ("02:00:00:00:00:01", "192.0.2.7"))
        found = device("<IP>192.0.2.7</IP><SNMPHOSTNAME>real-snmpd</SNMPHOSTNAME><TYPE>NETWORKING</TYPE>")
        assert import_discovered_device(conn, 7, found, 0, NOW) == ImportResult("Computer", COMPUTER_ID, False)


def test_the_all_zero_mac_matches_nothing(engine):
    with engine.begin() as conn:
        agents_computer(conn, ("00:00:00:00:00:00", None), ("02:00:00:00:00:01", None))
        assert find_by_mac(conn, ["00:00:00:00:00:00"]) is None
        assert find_by_mac(conn, ["00:00:00:00:00:00", "02:00:00:00:00:01"]) == ("Computer", COMPUTER_ID)


def prolog_reply(client) -> bytes:
    response = client.post("/plugins/fusioninventory/", data=prolog(DEVICE_ID), headers=ZLIB_HEADERS)
    assert response.status_code == 200
    return zlib.decompress(response.data)


def test_wake_on_lan_sends_no_all_zero_mac(client, engine):
    with engine.begin() as conn:
        agents_computer(conn, ("00:00:00:00:00:00", "127.0.0.1"), ("02:00:00:00:00:01", "192.0.2.7"))
        conn.execute(insert(schema.glpi_computers).values(id=6, name="loopback only", entities_id=0))
        add_port(conn, "Computer", 6, mac="00:00:00:00:00:00", port_id=9)
        add_task(conn, 1)
        add_job(conn, 1, '[{"Computer":"5"},{"Computer":"6"}]', '[{"PluginFusioninventoryAgent":"7"}]', "wakeonlan",
                job_id=1)
        add_run(conn, 14, 1, 7, "Computer", COMPUTER_ID)
        add_run(conn, 15, 1, 7, "Computer", 6)
    reply = prolog_reply(client)
    assert b'<PARAM MAC="02:00:00:00:00:01"/>' in reply and b"00:00:00:00:00:00" not in reply
    runs, logs = schema.taskjobstates, schema.taskjoblogs
    with engine.connect() as conn:
        assert conn.execute(select(runs.c.state).where(runs.c.id == 15)).scalar() == 4
        assert conn.execute(select(logs.c.comment).where(logs.c.plugin_fusioninventory_taskjobstates_id == 15)
                            ).scalars().all() == ["No MAC address found on the computer"]
