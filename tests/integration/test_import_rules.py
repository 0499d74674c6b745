"""GLPI's import, entity and location rules in discovery and SNMP inventory, through the agent
endpoint, on SQLite and MariaDB, with the plugin's default rules that ``db init`` installs
(docs/import-rules.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select

import schema
from schema.constants import ItemType, TaskjobLogState as Log
from schema.default_rules import DEFAULT_IMPORT_RULES, IMPORT_SUB_TYPE
from schema.glpi_core_rules import glpi_ruleactions, glpi_rulecriterias, glpi_rules
from schema.plugin_agents import ignoredimportdevices, rulematchedlogs
from schema.plugin_network import unmanageds
from tests.helpers.network_runs import AGENT, DISCOVERY_RUN, INVENTORY_RUN, add_network_runs, discover, post
from tests.helpers.inventory_rows import add_port


@pytest.fixture
def runs(engine):
    add_network_runs(engine, tag="site-b")


def logs(engine, run_id=DISCOVERY_RUN) -> list[tuple[int, str]]:
    table = schema.taskjoblogs
    with engine.connect() as conn:
        return [(r.state, r.comment) for r in conn.execute(
            select(table).where(table.c.plugin_fusioninventory_taskjobstates_id == run_id).order_by(table.c.id))]


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def rule_id(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(glpi_rules.c.id).where(glpi_rules.c.name == name)).scalar_one()


def add_rule(engine, sub_type: str, ranking: int, name: str, criteria, actions) -> int:
    with engine.begin() as conn:
        new_id = conn.execute(insert(glpi_rules).values(
            sub_type=sub_type, ranking=ranking, name=name, match="AND", is_active=1)).inserted_primary_key[0]
        for criterion, condition, pattern in criteria:
            conn.execute(insert(glpi_rulecriterias).values(rules_id=new_id, criteria=criterion, condition=condition,
                                                           pattern=pattern))
        for action_type, field, value in actions:
            conn.execute(insert(glpi_ruleactions).values(rules_id=new_id, action_type=action_type, field=field,
                                                         value=value))
    return new_id


def test_db_init_installs_the_plugins_default_import_rules(engine):
    with engine.connect() as conn:
        rules = conn.execute(select(glpi_rules).where(glpi_rules.c.sub_type == IMPORT_SUB_TYPE)
                             .order_by(glpi_rules.c.ranking)).all()
        assert [(r.ranking, r.name, r.is_active, r.match) for r in rules] == [
            (i, name, active, "AND") for i, (name, active, _, _) in enumerate(DEFAULT_IMPORT_RULES)]
        assert conn.execute(select(func.count()).select_from(glpi_rulecriterias)).scalar() == 120
        actions = conn.execute(select(glpi_ruleactions.c.action_type, glpi_ruleactions.c.field,
                                      func.count()).group_by(glpi_ruleactions.c.action_type,
                                                             glpi_ruleactions.c.field)).all()
        assert [tuple(a) for a in actions] == [("assign", "_fusion", 48)]
    with engine.begin() as conn:
        assert schema.insert_missing_seed_rows(conn) == []  # a set that exists is never completed


def test_ping_only_hosts_are_refused_by_global_import_denied(client, engine, runs):
    discover(client, "<DNSHOSTNAME>10.20.0.9</DNSHOSTNAME><IP>10.20.0.9</IP>",
             "<IP>10.20.0.10</IP>")
    post(client, "NETDISCOVERY", "<AGENT><END>1</END></AGENT>", DISCOVERY_RUN)
    running = [comment for state, comment in logs(engine) if state == Log.RUNNING]
    assert running == ["==importdenied== [ip]:10.20.0.9, [name]:10, [entities_id]:0",
                       "==importdenied== [ip]:10.20.0.10, [entities_id]:0",
                       "2 ==devicesfound=="]
    assert logs(engine)[-1] == (Log.OK, "Processed:0 Created:0  Updated:0")
    with engine.connect() as conn:
        ignored = conn.execute(select(ignoredimportdevices).order_by(ignoredimportdevices.c.id)).mappings().all()
    assert [(r["name"], r["ip"], r["mac"], r["itemtype"], r["rules_id"], r["method"]) for r in ignored] == [
        ("10", '["10.20.0.9"]', None, None, rule_id(engine, "Global import denied"), "networkdiscovery"),
        (None, '["10.20.0.10"]', None, None, rule_id(engine, "Global constraint (name)"), "networkdiscovery")]
    assert count(engine, unmanageds) == count(engine, schema.glpi_networkequipments) - 1 == 0


def test_network_device_with_serial_is_created_and_rule_matched_log_written(client, engine, runs):
    discover(client, "<IP>10.20.0.2</IP><SNMPHOSTNAME>sw-new</SNMPHOSTNAME><SERIAL>FOC2</SERIAL>"
                     "<TYPE>NETWORKING</TYPE><MAC>00:1a:2b:3c:4d:02</MAC>",
             "<IP>10.20.0.40</IP><SNMPHOSTNAME>sw-known</SNMPHOSTNAME><SERIAL>FOC40</SERIAL><TYPE>NETWORKING</TYPE>")
    with engine.connect() as conn:
        new_id = conn.execute(select(schema.glpi_networkequipments.c.id)
                              .where(schema.glpi_networkequipments.c.serial == "FOC2")).scalar_one()
        matched = conn.execute(select(rulematchedlogs).order_by(rulematchedlogs.c.id)).mappings().all()
    assert [(m["itemtype"], m["items_id"], m["rules_id"], m["plugin_fusioninventory_agents_id"], m["method"],
             m["criteria"]) for m in matched] == [
        (ItemType.NETWORK_EQUIPMENT, new_id, rule_id(engine, "NetworkEquipment import (by serial)"), AGENT,
         "networkdiscovery", None),
        (ItemType.NETWORK_EQUIPMENT, 40, rule_id(engine, "NetworkEquipment update (by serial)"), AGENT,
         "networkdiscovery", '{"serial":"FOC40","ip":["10.20.0.40"],"name":"sw-known","entities_id":"0",'
                             '"itemtype":"NetworkEquipment"}')]
    running = [comment for state, comment in logs(engine) if state == Log.RUNNING]
    assert running[:2] == [
        f"[==detail==] ==addtheitem== Network devices [[NetworkEquipment::{new_id}]]",
        "[==detail==] ==updatetheitem== Network devices [[NetworkEquipment::40]]"]


def test_site_rule_sends_devices_of_an_ip_range_to_entity_2(client, engine, runs):
    add_rule(engine, "PluginFusioninventoryInventoryRuleEntity", 0, "lab range to entity 2",
             [("ip", 333, "10.20.0.0/24")], [("assign", "entities_id", "2")])
    # The default "Computer import (by name)" creates both; the entity rule places the first.
    discover(client, "<IP>10.20.0.9</IP><NETBIOSNAME>pc9</NETBIOSNAME><TYPE>COMPUTER</TYPE>",
             "<IP>10.30.0.9</IP><NETBIOSNAME>pc30</NETBIOSNAME><TYPE>COMPUTER</TYPE>")
    with engine.connect() as conn:
        computers = conn.execute(select(schema.glpi_computers.c.name, schema.glpi_computers.c.entities_id)
                                 .order_by(schema.glpi_computers.c.id)).all()
    assert [tuple(c) for c in computers] == [("pc9", 2), ("pc30", 0)]


def test_a_mac_link_rule_links_instead_of_creating(client, engine, runs):
    with engine.begin() as conn:
        conn.execute(insert(schema.glpi_printers).values(id=5, entities_id=0, name="old-printer"))
        add_port(conn, ItemType.PRINTER, 5, mac="00:aa:bb:cc:dd:05", port_id=70)
    add_rule(engine, IMPORT_SUB_TYPE, -1, "link by mac", [("mac", 8, "1"), ("mac", 10, "1")],
             [("assign", "_fusion", "1")])
    discover(client, "<IP>10.20.0.5</IP><MAC>00:AA:BB:CC:DD:05</MAC><DNSHOSTNAME>prn5</DNSHOSTNAME>")
    assert count(engine, unmanageds) == 0 and count(engine, schema.glpi_printers) == 1
    running = [comment for state, comment in logs(engine) if state == Log.RUNNING]
    assert running[0] == "[==detail==] ==updatetheitem== Printers [[Printer::5]]"
    with engine.connect() as conn:
        printer = conn.execute(select(schema.glpi_printers).where(schema.glpi_printers.c.id == 5)).mappings().one()
        matched = conn.execute(select(rulematchedlogs.c.rules_id, rulematchedlogs.c.itemtype)).all()
    assert printer["name"] == "prn5"
    assert [tuple(m) for m in matched] == [(rule_id(engine, "link by mac"), ItemType.PRINTER)]


def test_an_unsupported_criterion_is_reported_not_matched(client, engine, runs):
    add_rule(engine, IMPORT_SUB_TYPE, -2, "import everything by hostgroup", [("hostgroup", 0, "lab")],
             [("assign", "_fusion", "1")])
    add_rule(engine, IMPORT_SUB_TYPE, -1, "import under entity", [("entities_id", 11, "0")],
             [("assign", "_fusion", "1")])
    discover(client, "<IP>10.20.0.9</IP><DNSHOSTNAME>h9</DNSHOSTNAME>", "<IP>10.20.0.8</IP><DNSHOSTNAME>h8</DNSHOSTNAME>")
    discover(client, "<IP>10.20.0.7</IP><DNSHOSTNAME>h7</DNSHOSTNAME>")
    info = [comment for state, comment in logs(engine) if state == Log.INFO]
    assert info == [
        f"Rule 'import everything by hostgroup' (id {rule_id(engine, 'import everything by hostgroup')}) not "
        "applied: criterion 'hostgroup' is not supported by fusion-bridge",
        f"Rule 'import under entity' (id {rule_id(engine, 'import under entity')}) not applied: condition 11 on "
        "'entities_id' is not supported by fusion-bridge"]
    running = [comment for state, comment in logs(engine) if state == Log.RUNNING]
    assert sum(c.startswith("==importdenied==") for c in running) == 3
    assert count(engine, unmanageds) == 0


def test_snmp_inventory_without_serial_is_refused_with_serial_is_linked(client, engine, runs):
    post(client, "SNMPQUERY", "<DEVICE><INFO><ID>40</ID><TYPE>NETWORKING</TYPE><NAME>sw-known</NAME>"
                              "<COMMENTS>IOS</COMMENTS></INFO></DEVICE>", INVENTORY_RUN)
    running = [comment for state, comment in logs(engine, INVENTORY_RUN) if state == Log.RUNNING]
    assert running[-1] == "==importdenied== [itemtype]:NetworkEquipment, [name]:sw-known"
    with engine.connect() as conn:
        ignored = conn.execute(select(ignoredimportdevices)).mappings().one()
    assert (ignored["method"], ignored["rules_id"]) == ("networkinventory",
                                                       rule_id(engine, "NetworkEquipment import denied"))
    post(client, "SNMPQUERY", "<DEVICE><INFO><ID>40</ID><TYPE>NETWORKING</TYPE><NAME>sw-renamed</NAME>"
                              "<SERIAL>FOC40</SERIAL><COMMENTS>IOS</COMMENTS></INFO></DEVICE>", INVENTORY_RUN)
    running = [comment for state, comment in logs(engine, INVENTORY_RUN) if state == Log.RUNNING]
    assert running[-1] == "[==detail==] Update Network devices [[NetworkEquipment::40]]"
    with engine.connect() as conn:
        assert conn.execute(select(schema.glpi_networkequipments.c.name)
                            .where(schema.glpi_networkequipments.c.id == 40)).scalar() == "sw-renamed"
        matched = conn.execute(select(rulematchedlogs)).mappings().one()
    assert (matched["method"], matched["rules_id"], matched["criteria"]) == (
        "networkinventory", rule_id(engine, "NetworkEquipment update (by serial)"),
        '{"serial":"FOC40","itemtype":"NetworkEquipment","name":"sw-renamed"}')
