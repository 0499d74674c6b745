"""Network tasks end to end: the real agent 2.6, a real snmpd and ``fusion-bridge serve``.

Task rows go into the database as GLPI's UI writes them (agent, IP range with the install-time
v2c ``public`` credential, task, taskjob with the plugin's JSON targets/actors); the run is
prepared by the bridge's own preparation (``prepare_runs``). Then ``fusion-bridge serve``, a
``snmpd`` (udp 127.0.0.1:161) and the agent (foreground, ``--tasks netdiscovery`` /
``netinventory`` / ``wakeonlan``) run in ONE private network namespace with only ``lo``
(tests/helpers/netns.py), so SNMP, pings, ARP and Wake-on-LAN never leave it. The server reaches
the database through a file (SQLite) or MariaDB's unix socket (the host's 127.0.0.1:3306 is
not reachable from the namespace). The test process stays outside and reads the database.

Checked: the agent accepted every reply; the run reached Finished with the plugin's log
history; the devices were imported (discovery) and updated (SNMP inventory); the Wake-on-LAN
OPTION carried the computer's MACs. Needs root, ``fusioninventory-agent`` with
``fusioninventory-agent-task-network``, ``snmpd``/``snmp`` and ``unshare``/``nsenter``
(util-linux): when one is missing the tests fail, they never skip.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import and_, insert, select, update

import schema
from schema.constants import ItemType, TaskjobLogState as Log
from tests.helpers import netns as netnslib
from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import cli_json
from tests.helpers.e2e_tasks import (NETWORK_AGENT, PUBLIC_V2C, add_task_for, check_agent, check_finished,
                                     context, prepare_one_run, run_real_agent)
from tests.helpers.inventory_rows import add_computer, add_port
from tests.helpers.task_rows import add_iprange

pytestmark = pytest.mark.e2e

AGENT_ID = NETWORK_AGENT.agent_id
ports_t, names_t, addresses_t = schema.glpi_networkports, schema.glpi_networknames, schema.glpi_ipaddresses


def equipment_at(conn, ip: str) -> list[int]:
    """NetworkEquipment ids holding ``ip`` through ports → network names → IP addresses."""
    return sorted(set(conn.execute(
        select(ports_t.c.items_id)
        .select_from(addresses_t)
        .join(names_t, and_(addresses_t.c.itemtype == "NetworkName", names_t.c.id == addresses_t.c.items_id))
        .join(ports_t, and_(names_t.c.itemtype == "NetworkPort", ports_t.c.id == names_t.c.items_id))
        .where(addresses_t.c.name == ip, ports_t.c.itemtype == ItemType.NETWORK_EQUIPMENT,
               addresses_t.c.is_deleted == 0, names_t.c.is_deleted == 0, ports_t.c.is_deleted == 0)
    ).scalars()))


def extension_row(conn, equipment_id: int):
    ext = schema.networkequipments
    rows = conn.execute(select(ext).where(ext.c.networkequipments_id == equipment_id)).all()
    assert len(rows) == 1, f"NetworkEquipment {equipment_id}: {len(rows)} plugin extension rows"
    return rows[0]


def prolog_replies(run: agentlib.AgentRun) -> list[str]:
    """The replies the agent received, as its ``--debug --debug`` log dumps them (PROLOG first)."""
    return re.findall(r"\[http client\] receiving message:\s*(<\?xml.*?</REPLY>)", run.log, re.S)


def option_names(reply: str) -> list[str]:
    return re.findall(r"<OPTION>\s*<NAME>([^<]*)</NAME>", reply)


def add_name_rules(engine) -> None:
    """The loopback snmpd has no serial: with the plugin's default import rules GLPI refuses it
    ("NetworkEquipment import denied", docs/import-rules.md §3). The site configuration a site
    with such devices uses: that rule turned off (no rule matching imports the device, and an
    SNMP result updates the device the agent names) and a rule linking network devices by name."""
    rules_t, criteria_t, actions_t = (schema.TABLES_BY_NAME[name] for name in
                                      ("glpi_rules", "glpi_rulecriterias", "glpi_ruleactions"))
    with engine.begin() as conn:
        conn.execute(update(rules_t).where(rules_t.c.name == "NetworkEquipment import denied").values(is_active=0))
        rule_id = conn.execute(insert(rules_t).values(
            sub_type="PluginFusioninventoryInventoryRuleImport", ranking=-1, match="AND", is_active=1,
            name="NetworkEquipment update (by name)")).inserted_primary_key[0]
        for criterion, condition, pattern in (("itemtype", 0, "NetworkEquipment"), ("name", 10, "1"),
                                              ("name", 8, "1")):
            conn.execute(insert(criteria_t).values(rules_id=rule_id, criteria=criterion, condition=condition,
                                                   pattern=pattern))
        conn.execute(insert(actions_t).values(rules_id=rule_id, action_type="assign", field="_fusion", value="1"))


def discover(engine, netns, bridge, tmp_path, reprepare_if_successful: int = 1
             ) -> tuple[agentlib.AgentRun, int, list, int]:
    """Discovery task on 127.0.0.1-127.0.0.3 to Finished; (agent run, run id, history, equipment id)."""
    NETWORK_AGENT.add_row(engine)
    add_name_rules(engine)
    add_iprange(engine, "127.0.0.1", "127.0.0.3", range_id=1, credentials=((PUBLIC_V2C, 1),))
    add_task_for(engine, NETWORK_AGENT, 1, "networkdiscovery", (ItemType.IP_RANGE, 1),
                 reprepare_if_successful)
    run_id = prepare_one_run(engine, NETWORK_AGENT, 1, (ItemType.IP_RANGE, 1))

    run = run_real_agent(NETWORK_AGENT, bridge, "netdiscovery", tmp_path / "agent-discovery", netns)
    check_agent(run, bridge, "NetDiscovery", engine=engine, run_id=run_id)
    ctx = context(run, bridge, engine, run_id)
    replies = prolog_replies(run)
    assert replies and option_names(replies[0]) == ["NETDISCOVERY"], ctx
    # The OPTION the agent received is the prepared run, on the range with the v2c credential.
    assert re.search(r'<RANGEIP ID="1" IPSTART="127\.0\.0\.1" IPEND="127\.0\.0\.3" ENTITY="0"\s*/>',
                     run.log), ctx
    assert re.search(r'<AUTHENTICATION ID="2" VERSION="2c" COMMUNITY="public"\s*/>', run.log), ctx
    assert re.search(rf'<PARAM [^>]*PID="{run_id}"', run.log), ctx
    history = check_finished(engine, run_id, ctx)
    with engine.connect() as conn:
        found = equipment_at(conn, "127.0.0.1")
    assert len(found) == 1, f"NetworkEquipment at 127.0.0.1: {found}{ctx}"
    return run, run_id, history, found[0]


# --- tests ---------------------------------------------------------------------------------

def test_network_discovery_to_finished(agent_tasks, engine, netns, snmpd, bridge, tmp_path):
    run, run_id, history, equipment_id = discover(engine, netns, bridge, tmp_path)
    ctx = context(run, bridge, engine, run_id)
    comments = [row.comment for row in history]

    # Started carries the threads/timeout the agent was given; then what the agent found.
    assert re.fullmatch(r"\d+ threads \d+ timeout", comments[1]), ctx
    running = [row for row in history if row.state == Log.RUNNING]
    assert running and any(re.fullmatch(r"\d+ ==devicesfound==", row.comment) for row in running), ctx
    added = f"[==detail==] ==addtheitem== Network devices [[NetworkEquipment::{equipment_id}]]"
    assert added in comments, ctx
    assert all(row.itemtype == ItemType.AGENT and row.items_id == AGENT_ID for row in running), ctx
    created = sum("==addtheitem==" in comment for comment in comments)
    updated = sum("==updatetheitem==" in comment for comment in comments)
    assert history[-1].comment == f"Processed:{created + updated} Created:{created}  Updated:{updated}", ctx
    assert created >= 1, ctx

    with engine.connect() as conn:
        equipment = conn.execute(select(schema.glpi_networkequipments)
                                 .where(schema.glpi_networkequipments.c.id == equipment_id)).one()
        assert equipment.name == netnslib.SNMP_NAME, equipment
        assert (equipment.entities_id, equipment.is_deleted, equipment.is_template) == (0, 0, 0), equipment
        extension = extension_row(conn, equipment_id)
        assert extension.sysdescr == netnslib.SNMP_DESCR, extension
        assert extension.plugin_fusioninventory_configsecurities_id == PUBLIC_V2C, extension
        address = conn.execute(select(addresses_t).where(
            addresses_t.c.name == "127.0.0.1",
            addresses_t.c.mainitemtype == ItemType.NETWORK_EQUIPMENT)).one()
        assert (address.mainitems_id, address.version) == (equipment_id, 4), address

        states = conn.execute(select(schema.statediscoveries).where(
            schema.statediscoveries.c.plugin_fusioninventory_taskjob_id == run_id)).all()
        assert len(states) == 1, states
        counters = states[0]
        assert counters.plugin_fusioninventory_agents_id == AGENT_ID, counters
        assert counters.start_time is not None and counters.end_time is not None, counters
        assert counters.start_time <= counters.end_time, counters
        assert counters.nb_ip == 3, counters
        devices_found = sum(int(row.comment.split()[0]) for row in running
                            if row.comment.endswith("==devicesfound=="))
        assert counters.nb_found == devices_found >= 1, counters
        assert counters.nb_import == created, counters
        assert counters.nb_exists == updated, counters  # ping-only .2/.3: refused by the default rules

        agent = conn.execute(select(schema.agents).where(schema.agents.c.id == AGENT_ID)).one()
        assert agent.last_contact is not None, agent
        assert json.loads(agent.version or "{}").get("NETWORKDISCOVERY"), agent


def test_snmp_inventory_to_finished(agent_tasks, engine, netns, snmpd, bridge, tmp_path):
    # A one-shot discovery (the UI's "re-prepare if successful" unchecked): the next
    # preparation makes only the inventory run.
    _, _, _, equipment_id = discover(engine, netns, bridge, tmp_path, reprepare_if_successful=0)
    equipments = schema.glpi_networkequipments
    with engine.begin() as conn:
        # What the inventory must write back: a name changed meanwhile, no inventory date yet.
        conn.execute(update(equipments).where(equipments.c.id == equipment_id).values(name="renamed in GLPI"))
        before = extension_row(conn, equipment_id)
        assert before.last_fusioninventory_update is None, before
    add_task_for(engine, NETWORK_AGENT, 2, "networkinventory", (ItemType.NETWORK_EQUIPMENT, equipment_id))
    run_id = prepare_one_run(engine, NETWORK_AGENT, 2, (ItemType.NETWORK_EQUIPMENT, equipment_id))

    run = run_real_agent(NETWORK_AGENT, bridge, "netinventory", tmp_path / "agent-inventory", netns)
    check_agent(run, bridge, "NetInventory", engine=engine, run_id=run_id)
    ctx = context(run, bridge, engine, run_id)
    replies = prolog_replies(run)
    assert replies and option_names(replies[0]) == ["SNMPQUERY"], ctx
    assert re.search(rf'<DEVICE TYPE="NETWORKING" ID="{equipment_id}" IP="127\.0\.0\.1" '
                     rf'AUTHSNMP_ID="{PUBLIC_V2C}"\s*/>', run.log), f"SNMPQUERY OPTION{ctx}"
    history = check_finished(engine, run_id, ctx)
    comments = [row.comment for row in history]
    assert f"[==detail==] Update Network devices [[NetworkEquipment::{equipment_id}]]" in comments, ctx
    assert history[-1].comment == "Total updated:1", ctx

    with engine.connect() as conn:
        equipment = conn.execute(select(equipments).where(equipments.c.id == equipment_id)).one()
        assert equipment.name == netnslib.SNMP_NAME, equipment
        assert equipment.is_dynamic == 1, equipment
        extension = extension_row(conn, equipment_id)
        assert extension.sysdescr == netnslib.SNMP_DESCR, extension
        assert extension.last_fusioninventory_update is not None, extension
        assert extension.plugin_fusioninventory_configsecurities_id == PUBLIC_V2C, extension
        # snmpd's IF-MIB: lo is ifIndex 1, a port by logical number with its plugin row.
        ports = conn.execute(select(ports_t).where(ports_t.c.itemtype == ItemType.NETWORK_EQUIPMENT,
                                                   ports_t.c.items_id == equipment_id)).all()
        lo = [port for port in ports if port.logical_number == 1 and port.name == "lo"]
        assert len(lo) == 1, f"ports of NetworkEquipment {equipment_id}: {ports}"
        port_row = conn.execute(select(schema.networkports)
                                .where(schema.networkports.c.networkports_id == lo[0].id)).one()
        assert port_row.ifdescr == "lo" and port_row.ifmtu == 65536, port_row
        assert port_row.lastup is not None, port_row
        assert equipment_at(conn, "127.0.0.1") == [equipment_id]


def test_wakeonlan_option_carries_the_macs(agent_tasks, engine, netns, bridge, tmp_path):
    macs = ("52:54:00:12:34:56", "52:54:00:ab:cd:ef")
    NETWORK_AGENT.add_row(engine)
    with engine.begin() as conn:
        add_computer(conn, "e2e-sleeper", computer_id=31)
        add_port(conn, ItemType.COMPUTER, 31, mac=macs[0], port_id=41)
        add_port(conn, ItemType.COMPUTER, 31, mac=macs[1], port_id=42)
    add_task_for(engine, NETWORK_AGENT, 3, "wakeonlan", (ItemType.COMPUTER, 31))
    run_id = prepare_one_run(engine, NETWORK_AGENT, 3, (ItemType.COMPUTER, 31))

    run = run_real_agent(NETWORK_AGENT, bridge, "wakeonlan", tmp_path / "agent-wol", netns)
    # The Debian agent has no Net::Write, so its ethernet method fails: the agent's own limit,
    # not a reply it rejected.
    allowed = re.compile(r"^\[error\] Impossible to use ethernet method: Net::Write module needed$")
    check_agent(run, bridge, "WakeOnLan", allowed=allowed, engine=engine, run_id=run_id)
    ctx = context(run, bridge, engine, run_id)
    replies = prolog_replies(run)
    assert replies, f"no PROLOG reply dumped{ctx}"
    prolog = replies[0]
    assert option_names(prolog) == ["WAKEONLAN"], f"{prolog}{ctx}"
    assert re.search(r"<OPTION>\s*<NAME>WAKEONLAN</NAME>\s*"
                     + r"\s*".join(rf'<PARAM MAC="{re.escape(mac)}"\s*/>' for mac in macs)
                     + r"\s*</OPTION>", prolog), f"WAKEONLAN OPTION with both MACs:\n{prolog}{ctx}"
    history = check_finished(engine, run_id, ctx)
    assert [(row.state, row.comment) for row in history] == [
        (Log.PREPARED, ""), (Log.STARTED, ""), (Log.OK, "WakeOnLan have not return state")], ctx


def test_task_defined_with_the_cli_runs_to_finished(agent_tasks, engine, netns, snmpd, bridge, tmp_path):
    """The acceptance path on a fresh database: define with the CLI, the real agent runs it."""
    NETWORK_AGENT.add_row(engine)
    add_name_rules(engine)
    url = engine.url.render_as_string(hide_password=False)
    iprange = cli_json(url, "iprange", "create", "--name", "loopback", "--start", "127.0.0.1",
                       "--end", "127.0.0.3", "--credential", str(PUBLIC_V2C))
    task = cli_json(url, "task", "create", "--name", "discover loopback", "--active")
    action = cli_json(url, "action", "add", "--task", str(task["id"]), "--name", "discover",
                      "--method", "networkdiscovery", "--target", f"iprange:{iprange['id']}",
                      "--actor", f"agent:{AGENT_ID}")
    run_id = prepare_one_run(engine, NETWORK_AGENT, action["id"], (ItemType.IP_RANGE, iprange["id"]))

    run = run_real_agent(NETWORK_AGENT, bridge, "netdiscovery", tmp_path / "agent-cli-task", netns)
    check_agent(run, bridge, "NetDiscovery", engine=engine, run_id=run_id)
    ctx = context(run, bridge, engine, run_id)
    history = check_finished(engine, run_id, ctx)
    assert history[-1].comment.startswith("Processed:"), ctx
    with engine.connect() as conn:
        assert len(equipment_at(conn, "127.0.0.1")) == 1, ctx
    # The CLI's own history tells the same story in words.
    shown = json.dumps(cli_json(url, "history", "--run", str(run_id)))
    for word in ("Prepared", "Started", "Ok"):
        assert f'"{word}"' in shown, f"{word} missing from the CLI history: {shown[:2000]}"
