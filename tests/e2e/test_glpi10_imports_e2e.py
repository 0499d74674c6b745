"""What the real agent 2.6 sends to be imported, on a GLPI 10 + glpiinventory 1.5.x database (MariaDB,
``init_database(flavour="glpiinventory", glpi=10)``): its own inventory (the agent becomes a core
``glpi_agents`` row of its computer) and the SNMP inventory of a real snmpd in a private network
namespace (tests/helpers/netns.py), with the run's joblogs as GLPI 10 + glpiinventory 1.5.8 writes
them (docs/glpi10-protocol.md §9), and the discovery of that snmpd twice (GLPI 10 has no rule of the
plugin's family: the bridge creates, then finds the same device again, docs/glpi10-protocol.md §7
item 11). Rows are written and read with raw SQL on GLPI 10's tables
(tests/helpers/glpi10_rows.py). Needs root, ``fusioninventory-agent`` with ``-task-network``, ``snmpd``:
when one is missing the tests fail, they never skip.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.helpers import glpi10_rows as g10
from tests.helpers import netns as netnslib
from tests.helpers.agent_inventory import check_agent_log, run_agent
from tests.helpers.glpi10_e2e import (GLPI10_DATABASE, RUN_STATES, TASK_LOG_STATES as Log, RunnerAgent,
                                      check_agent, check_prepared, context, run_glpi10_agent)

pytestmark = [pytest.mark.e2e, GLPI10_DATABASE]

NETWORK_AGENT = RunnerAgent("e2e-glpi10-snmp-2025-06-01-12-00-00", timeout=60)
DISCOVERY_AGENT = RunnerAgent("e2e-glpi10-discovery-2025-06-01-12-00-00", timeout=60)
SWITCH_MAC = "02:fc:00:00:00:01"
DETAIL = re.compile(r"\[==detail==\] ==(addtheitem|updatetheitem)== (Network devices|Unmanaged assets) "
                    r"\[\[(NetworkEquipment|Unmanaged)::(\d+)\]\]")


def test_inventory_makes_the_agent_a_glpi10_core_agent_of_its_computer(server, engine, agent_version, tmp_path):
    # What GLPI 10 tells sites to give agents: the core endpoint.
    url = f"http://127.0.0.1:{server.port}/front/inventory.php"
    run = run_agent(url, tmp_path)
    check_agent_log(run, server, url)
    ctx = f"\n--- server log (end) ---\n{server.tail()}"

    agents = g10.agents_of(engine, run.deviceid)
    assert len(agents) == 1, f"glpi_agents rows of {run.deviceid}: {agents}{ctx}"
    agent = agents[0]
    assert agent["agenttype"] == "Core" and agent["agenttypes_id"] == g10.core_agent_type(engine), agent
    assert agent["name"] == run.deviceid, agent
    assert agent["itemtype"] == "Computer", agent
    assert agent["useragent"] == f"FusionInventory-Agent_v{agent_version}", agent
    # GLPI 10 keeps the plain version (recorded: "2.6-3"), not FusionInventory's map by module.
    assert agent["version"] == agent_version, agent
    assert agent["last_contact"] is not None, agent
    # The import linked the agent to the computer it made.
    with engine.connect() as conn:
        computer = conn.execute(text("SELECT id, name, is_deleted, entities_id, last_inventory_update "
                                     "FROM glpi_computers "
                                     "WHERE id = :c"), {"c": agent["items_id"]}).mappings().one_or_none()
    assert agent["items_id"] > 0 and computer is not None, f"agent {agent} has no computer{ctx}"
    assert computer["is_deleted"] == 0 and computer["entities_id"] == agent["entities_id"], computer
    assert computer["last_inventory_update"] is not None, computer  # where GLPI 10 shows the inventory date


def test_snmp_inventory_of_the_snmpd_to_finished(agent_tasks, engine, netns, snmpd, bridge, tmp_path):
    """A task as GLPI 10's UI writes it: SNMP inventory of the range holding the device GLPI 10's
    discovery imported (the bridge resolves the range to the devices with a credential in it)."""
    agent_id = g10.add_agent(engine, NETWORK_AGENT.deviceid)
    device_id = g10.add_network_equipment(engine, "renamed in GLPI", "127.0.0.1")
    range_id = g10.add_iprange(engine, "loopback", "127.0.0.1", "127.0.0.1")
    task_id = g10.add_task(engine, "inventory the loopback")
    job_id = g10.add_job(engine, task_id, "query", "networkinventory", [("PluginGlpiinventoryIPRange", range_id)],
                         [("Agent", agent_id)])
    run_id = check_prepared(engine, job_id, agent_id, ("NetworkEquipment", device_id))

    run = run_glpi10_agent(NETWORK_AGENT, bridge, "netinventory", tmp_path / "agent", netns)
    ctx = context(run, bridge, engine, run_id)
    check_agent(run, bridge, "NetInventory", ctx)
    assert re.search(rf'<DEVICE TYPE="NETWORKING" ID="{device_id}" IP="127\.0\.0\.1" AUTHSNMP_ID="{g10.PUBLIC_V2C}"',
                     run.log), ctx
    assert g10.run_state(engine, run_id) == RUN_STATES["FINISHED"], ctx
    # GLPI 10 (recorded with this agent): effective threads/timeout at Started, then the agent's
    # lines on 'Agent'. GLPI 10 writes the final 'Total updated:1' twice (the agent sends END
    # twice); the bridge writes it once, as FusionInventory 9.5 did.
    assert g10.joblogs(engine, run_id) == [
        (Log["PREPARED"], None, 0, ""),
        (Log["STARTED"], "Agent", 0, "10 threads 15 timeout"),
        (Log["RUNNING"], "Agent", agent_id, "==inventorystarted=="),
        (Log["RUNNING"], "Agent", agent_id, "1 ==devicesqueried=="),
        (Log["RUNNING"], "Agent", agent_id, f"[==detail==] ==updatetheitem== Network devices "
                                            f"[[NetworkEquipment::{device_id}]]"),
        (Log["OK"], "Agent", agent_id, "Total updated:1"),
    ], ctx
    device = g10.network_equipment(engine, device_id)
    assert device["name"] == netnslib.SNMP_NAME and device["sysdescr"] == netnslib.SNMP_DESCR, device
    assert device["last_inventory_update"] is not None and device["snmpcredentials_id"] == g10.PUBLIC_V2C, device


def discover_loopback(engine, agent_id: int, netns, bridge, workdir) -> tuple[int, list[tuple[str, str, int]]]:
    """A discovery task on 127.0.0.1-127.0.0.3 (GLPI 10's UI form) run to Finished; the run id and its
    imported items (addtheitem/updatetheitem, itemtype, id), checked against the ending line."""
    range_id = g10.add_iprange(engine, "loopback", "127.0.0.1", "127.0.0.3")
    task_id = g10.add_task(engine, "discover the loopback", reprepare_if_successful=0)
    job_id = g10.add_job(engine, task_id, "discover", "networkdiscovery", [("PluginGlpiinventoryIPRange", range_id)],
                         [("Agent", agent_id)])
    run_id = check_prepared(engine, job_id, agent_id, ("PluginGlpiinventoryIPRange", range_id))
    run = run_glpi10_agent(DISCOVERY_AGENT, bridge, "netdiscovery", workdir, netns)
    ctx = context(run, bridge, engine, run_id)
    check_agent(run, bridge, "NetDiscovery", ctx)
    assert g10.run_state(engine, run_id) == RUN_STATES["FINISHED"], ctx
    logs = g10.joblogs(engine, run_id)
    running = [(itemtype, items_id, comment) for state, itemtype, items_id, comment in logs if state == Log["RUNNING"]]
    assert running and all(line[:2] == ("Agent", agent_id) for line in running), ctx
    items = []
    for _, _, comment in running:
        if not comment.endswith("==devicesfound=="):
            found = DETAIL.fullmatch(comment)
            assert found, f"unexpected line {comment!r}{ctx}"
            items.append((found[1], found[3], int(found[4])))
    added = sum(kind == "addtheitem" for kind, _, _ in items)
    assert logs[-1] == (Log["OK"], "Agent", agent_id,
                        f"Processed: {len(items)} Created: {added} Updated: {len(items) - added}"), ctx
    return run_id, items


def test_discovery_of_the_snmpd_creates_it_then_finds_it_again(agent_tasks, engine, netns, snmpd, bridge, tmp_path):
    # An interface with a MAC (a veth pair), as the recorded GLPI 10 run had (02:fc:00:00:00:01): loopback
    # addresses and the all-zero MAC never match an asset, a device's own MAC does.
    for argv in (["ip", "link", "add", "fb0", "address", SWITCH_MAC, "type", "veth", "peer", "name", "fb1"],
                 ["ip", "addr", "add", "192.0.2.2/24", "dev", "fb0"], ["ip", "link", "set", "fb0", "up"],
                 ["ip", "link", "set", "fb1", "up"]):
        netns.run(argv, check=True)
    agent_id = g10.add_agent(engine, DISCOVERY_AGENT.deviceid)
    _, first = discover_loopback(engine, agent_id, netns, bridge, tmp_path / "first")
    switches = [items_id for kind, itemtype, items_id in first if itemtype == "NetworkEquipment"]
    assert len(switches) == 1 and ("addtheitem", "NetworkEquipment", switches[0]) in first, first
    device = g10.network_equipment(engine, switches[0])
    assert device["name"] == netnslib.SNMP_NAME and device["sysdescr"] == netnslib.SNMP_DESCR, device
    assert device["snmpcredentials_id"] == g10.PUBLIC_V2C and device["is_deleted"] == 0, device

    # Again: the switch is found by its MAC, not made twice. (The ping-only 127.0.0.2/.3 have only
    # loopback addresses, which name no device: they are new unmanaged devices each time.)
    _, second = discover_loopback(engine, agent_id, netns, bridge, tmp_path / "second")
    assert [item for item in second if item[1] == "NetworkEquipment"] == \
        [("updatetheitem", "NetworkEquipment", switches[0])], (first, second)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM glpi_networkequipments")).scalar() == 1
