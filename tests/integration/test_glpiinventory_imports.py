"""Discovery and SNMP inventory imports on a GLPI 10 + glpiinventory database (SQLite and MariaDB):
with no import rule of the plugin's family the bridge matches as it does without rules
(docs/glpi10-protocol.md §7, item 11); a site's rule of that family is played, its match logged in
core ``glpi_rulematchedlogs`` and a refusal leaves only its run log line (no ignored-import table);
port counters land in core ``glpi_networkports`` (docs/schema-layouts.md §8). GLPI's tables are
read with raw SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, insert, select, text

import schema
from schema.constants import TaskjobLogState as Log
from schema.glpi_core_rules import glpi_ruleactions, glpi_rulecriterias, glpi_rules
from schema.default_rules import IMPORT_SUB_TYPE
from tests.helpers.network_runs import AGENT, DISCOVERY_RUN, INVENTORY_RUN, add_network_runs, discover, post

GLPI10 = [pytest.param(("sqlite", "glpiinventory"), id="sqlite-glpiinventory"),
          pytest.param(("mariadb", "glpiinventory"), id="mariadb-glpiinventory", marks=pytest.mark.mariadb)]
pytestmark = pytest.mark.parametrize("database_url", GLPI10, indirect=True)


@pytest.fixture
def runs(engine):
    add_network_runs(engine)


def running(engine, run_id=DISCOVERY_RUN) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text(
            "SELECT comment FROM glpi_plugin_glpiinventory_taskjoblogs "
            "WHERE plugin_glpiinventory_taskjobstates_id = :r AND state = :s ORDER BY id"),
            {"r": run_id, "s": Log.RUNNING})]


def raw(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def add_rule(engine, ranking: int, name: str, criteria, fusion: str) -> int:
    with engine.begin() as conn:
        new_id = conn.execute(insert(glpi_rules).values(
            sub_type=IMPORT_SUB_TYPE, ranking=ranking, name=name, match="AND", is_active=1)).inserted_primary_key[0]
        for criterion, condition, pattern in criteria:
            conn.execute(insert(glpi_rulecriterias).values(rules_id=new_id, criteria=criterion, condition=condition,
                                                           pattern=pattern))
        conn.execute(insert(glpi_ruleactions).values(rules_id=new_id, action_type="assign", field="_fusion",
                                                     value=fusion))
    return new_id


def test_without_plugin_rules_discovery_links_by_serial_mac_ip_else_creates(client, engine, runs):
    switch = ("<IP>10.20.0.5</IP><SNMPHOSTNAME>sw-new</SNMPHOSTNAME><TYPE>NETWORKING</TYPE>"
              "<MAC>00:1a:2b:3c:4d:05</MAC>")
    known = "<IP>10.20.0.40</IP><SERIAL>FOC40</SERIAL><TYPE>NETWORKING</TYPE>"
    discover(client, switch, "<IP>10.20.0.9</IP>", known)
    [(new_id,)] = raw(engine, "SELECT id FROM glpi_networkequipments WHERE name = 'sw-new'")
    [(unmanaged,)] = raw(engine, "SELECT id FROM glpi_unmanageds")
    # Again, the switch without its MAC: found by its address, nothing new.
    discover(client, "<IP>10.20.0.5</IP><SNMPHOSTNAME>sw-new</SNMPHOSTNAME><TYPE>NETWORKING</TYPE>",
             "<IP>10.20.0.9</IP>")
    assert running(engine) == [
        f"[==detail==] ==addtheitem== Network devices [[NetworkEquipment::{new_id}]]",
        f"[==detail==] ==addtheitem== Unmanaged assets [[Unmanaged::{unmanaged}]]",
        "[==detail==] ==updatetheitem== Network devices [[NetworkEquipment::40]]",
        "3 ==devicesfound==",
        f"[==detail==] ==updatetheitem== Network devices [[NetworkEquipment::{new_id}]]",
        f"[==detail==] ==updatetheitem== Unmanaged assets [[Unmanaged::{unmanaged}]]",
        "2 ==devicesfound=="]
    assert raw(engine, "SELECT COUNT(*) FROM glpi_networkequipments") == [(2,)]
    assert raw(engine, "SELECT COUNT(*) FROM glpi_unmanageds") == [(1,)]
    assert raw(engine, "SELECT COUNT(*) FROM glpi_rulematchedlogs") == [(0,)]


def test_a_site_rule_of_the_plugins_family_is_played_and_logged_in_glpi_tables(client, engine, runs):
    refuse = add_rule(engine, 0, "refuse 10.20.0.66", [("ip", 0, "10.20.0.66")], "2")
    link = add_rule(engine, 1, "link by serial", [("serial", 10, "1"), ("serial", 8, "1")], "1")
    discover(client, "<IP>10.20.0.66</IP><SERIAL>X66</SERIAL>", "<IP>10.20.0.40</IP><SERIAL>FOC40</SERIAL>"
                                                                "<TYPE>NETWORKING</TYPE>")
    assert running(engine)[:2] == [
        "==importdenied== [serial]:X66, [ip]:10.20.0.66, [entities_id]:0",
        "[==detail==] ==updatetheitem== Network devices [[NetworkEquipment::40]]"]
    assert raw(engine, "SELECT itemtype, items_id, rules_id, agents_id, method FROM glpi_rulematchedlogs") == [
        ("NetworkEquipment", 40, link, AGENT, "networkdiscovery")]
    assert refuse and "glpi_plugin_fusioninventory_ignoredimportdevices" not in inspect(engine).get_table_names()
    # No rule holds for a device without serial: created as reported, as on 9.5 (docs/import-rules.md §3).
    discover(client, "<IP>10.20.0.7</IP><SNMPHOSTNAME>sw-7</SNMPHOSTNAME><TYPE>NETWORKING</TYPE>")
    assert raw(engine, "SELECT COUNT(*) FROM glpi_networkequipments WHERE name = 'sw-7'") == [(1,)]


SNMP_SWITCH = ("<INFO><ID>40</ID><TYPE>NETWORKING</TYPE><NAME>sw-known</NAME><SERIAL>FOC40</SERIAL>"
               "<COMMENTS>switch os 1</COMMENTS></INFO><PORTS><PORT><IFNUMBER>1</IFNUMBER><IFNAME>ge1</IFNAME>"
               "<IFDESCR>GigabitEthernet1</IFDESCR><IFINOCTETS>{inbytes}</IFINOCTETS><IFOUTOCTETS>99</IFOUTOCTETS>"
               "<IFMTU>1500</IFMTU><IFSTATUS>1</IFSTATUS><MAC>00:1a:2b:3c:4d:40</MAC></PORT></PORTS>")


def test_snmp_inventory_writes_port_counters_into_glpi_networkports(client, engine, runs):
    for inbytes in (1234, 5678):
        post(client, "SNMPQUERY", f"<DEVICE>{SNMP_SWITCH.format(inbytes=inbytes)}</DEVICE>", INVENTORY_RUN)
        assert raw(engine, "SELECT name, ifdescr, ifinbytes, ifoutbytes, ifmtu, ifstatus, mac, lastup IS NOT NULL "
                           "FROM glpi_networkports WHERE itemtype = 'NetworkEquipment' AND items_id = 40 "
                           "AND logical_number = 1") == [
            ("ge1", "GigabitEthernet1", inbytes, 99, 1500, "1", "00:1a:2b:3c:4d:40", 1)]
    post(client, "SNMPQUERY", "<AGENT><END>1</END></AGENT>", INVENTORY_RUN)
    assert running(engine, INVENTORY_RUN)[-1] == \
        "[==detail==] ==updatetheitem== Network devices [[NetworkEquipment::40]]"
    assert raw(engine, "SELECT sysdescr FROM glpi_networkequipments WHERE id = 40") == [("switch os 1",)]
    with engine.connect() as conn:
        ending = conn.execute(select(schema.taskjoblogs.c.comment).where(
            schema.taskjoblogs.c.plugin_fusioninventory_taskjobstates_id == INVENTORY_RUN,
            schema.taskjoblogs.c.state == Log.OK)).scalars().all()
    assert ending == ["Total updated:2"]
