"""``glpi_logs`` after a discovery and an SNMP inventory through the agent endpoint, on SQLite and
MariaDB: the rows GLPI writes for the same changes, compared by fields (docs/history.md)."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy import delete, insert, select

import schema
from schema.constants import ItemType, Method
from schema.glpi_core_rules import glpi_logs
from tests.helpers.agent_requests import ZLIB_HEADERS, message_xml
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_job, add_run, add_task

DEVICE_ID = "scanner-2026-11-25-10-00-00"
AGENT = 7
USER = "Plugin_FusionInventory ({uid}) ({uid})"


@pytest.fixture
def runs(engine):
    with engine.begin() as conn:
        add_agent(conn, AGENT, DEVICE_ID)
        add_task(conn, 1)
        add_job(conn, 1, '[{"PluginFusioninventoryIPRange":"1"}]', "[]", Method.NETWORK_DISCOVERY, job_id=1)
        add_run(conn, 31, 1, AGENT, ItemType.IP_RANGE, 1, state=1)


def post(client, query: str, content: str, run_id: int) -> None:
    body = message_xml(DEVICE_ID, query, f"{content}<MODULEVERSION>4.2</MODULEVERSION>"
                                         f"<PROCESSNUMBER>{run_id}</PROCESSNUMBER>")
    response = client.post("/plugins/fusioninventory/", data=zlib.compress(body), headers=ZLIB_HEADERS)
    assert response.status_code == 200, zlib.decompress(response.data)


def history(engine) -> list[tuple]:
    """Every row, ids in values replaced by the kind of item they name, and the user checked."""
    with engine.connect() as conn:
        uid = conn.execute(select(schema.configs.c.value).where(schema.configs.c.type == "users_id")).scalar()
        rows = conn.execute(select(glpi_logs).order_by(glpi_logs.c.id)).mappings().all()
    assert {r["user_name"] for r in rows} == {USER.format(uid=uid)}
    assert all(r["date_mod"] is not None for r in rows)
    return [(r["itemtype"], r["itemtype_link"], r["linked_action"], r["id_search_option"],
             _no_id(r["old_value"]), _no_id(r["new_value"])) for r in rows]


def _no_id(value: str | None) -> str | None:
    return value.rsplit(" (", 1)[0] + " (id)" if value and value.endswith(")") else value


def test_discovery_then_snmp_inventory_write_glpis_history(client, engine, runs):
    post(client, "NETDISCOVERY", "<DEVICE><IP>10.20.0.2</IP><SNMPHOSTNAME>sw-new</SNMPHOSTNAME>"
                                 "<SERIAL>FOC2</SERIAL><TYPE>NETWORKING</TYPE><MAC>00:1a:2b:3c:4d:02</MAC>"
                                 "<ENTITY>0</ENTITY></DEVICE>", 31)
    discovered = history(engine)
    assert discovered == [
        ("NetworkEquipment", "0", 20, 0, "", ""),
        ("NetworkPort", "0", 20, 0, "", ""),
        ("NetworkEquipment", "NetworkPort", 17, 0, "", "management (id)"),
        ("NetworkName", "0", 20, 0, "", ""),
        ("NetworkPort", "NetworkName", 17, 0, "", "N/A (id)"),
        ("NetworkName", "IPAddress", 17, 0, "", "10.20.0.2 (id)"),
    ]
    with engine.connect() as conn:
        switch = conn.execute(select(schema.glpi_networkequipments.c.id)).scalar_one()
        [port] = conn.execute(select(schema.glpi_networkports.c.id)).scalars().all()
        rows = conn.execute(select(glpi_logs.c.itemtype, glpi_logs.c.items_id, glpi_logs.c.new_value)
                            .order_by(glpi_logs.c.id)).all()
    assert (rows[0].items_id, rows[1].items_id, rows[2].items_id) == (switch, port, switch)
    assert rows[2].new_value == f"management ({port})"

    with engine.begin() as conn:
        add_job(conn, 1, f'[{{"NetworkEquipment":"{switch}"}}]', "[]", Method.NETWORK_INVENTORY, job_id=2)
        add_run(conn, 32, 2, AGENT, ItemType.NETWORK_EQUIPMENT, switch, state=1)
        conn.execute(delete(glpi_logs))
    post(client, "SNMPQUERY", f"<DEVICE><INFO><ID>{switch}</ID><TYPE>NETWORKING</TYPE><NAME>sw-core</NAME>"
                              "<SERIAL>FOC2</SERIAL><COMMENTS>IOS</COMMENTS><MAC>00:1a:2b:3c:4d:02</MAC>"
                              "<IPS><IP>10.20.0.2</IP></IPS></INFO><PORTS><PORT><IFNUMBER>1</IFNUMBER>"
                              "<IFNAME>Gi0/1</IFNAME><MAC>00:1a:2b:3c:4d:11</MAC></PORT></PORTS></DEVICE>", 32)
    assert history(engine) == [
        ("NetworkEquipment", "", 0, 1, "sw-new", "sw-core"),
        ("NetworkName", "", 0, 1, "", "Internal"),
        ("NetworkPort", "0", 20, 0, "", ""),
        ("NetworkEquipment", "NetworkPort", 17, 0, "", "Gi0/1 (id)"),
    ]


def test_replaced_ports_leave_a_deleted_sub_item_row_and_take_their_own_history(client, engine, runs):
    from fusion_bridge.services.inventory import ports as P
    from datetime import datetime
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(insert(schema.glpi_printers).values(id=5, entities_id=0, name="p"))
        port = P.add_port(conn, ItemType.PRINTER, 5, 0, now, name="eth0", instantiation_type=P.ETHERNET,
                          mac="00:aa:00:aa:00:05")
        P.update_port(conn, conn.execute(select(P.ports).where(P.ports.c.id == port)).mappings().one(),
                      {"mac": "00:aa:00:aa:00:06"}, now)
        P.delete_ports(conn, [port])
    assert history(engine) == [
        ("Printer", "NetworkPort", 17, 0, "", "eth0 (id)"),
        ("Printer", "NetworkPort", 18, 0, "", "eth0 (id)"),
        ("Printer", "NetworkPort", 19, 0, "eth0 (id)", ""),
    ]
