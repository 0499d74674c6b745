"""Network tasks end to end: the real agent 2.6, a real snmpd and ``fusion-bridge serve``.

Task rows go into the database as GLPI's UI writes them (agent, IP range with the install-time
v2c ``public`` credential, task, taskjob with the plugin's JSON targets/actors); the run is
prepared by the bridge's own preparation (``prepare_runs``). Then ``fusion-bridge serve``, a
``snmpd`` (udp 127.0.0.1:161) and the agent (foreground, ``--tasks netdiscovery`` /
``netinventory`` / ``wakeonlan``) run in ONE private network namespace with only ``lo``
(tests/e2e/netns.py), so SNMP, pings, ARP and Wake-on-LAN never leave it. The server reaches
the database through a file (SQLite) or MariaDB's unix socket (the host's 127.0.0.1:3306 is
not reachable from the namespace). The test process stays outside and reads the database.

Checked: the agent accepted every reply; the run reached Finished with the plugin's log
history; the devices were imported (discovery) and updated (SNMP inventory); the Wake-on-LAN
OPTION carried the computer's MACs. Needs root, ``fusioninventory-agent`` with
``fusioninventory-agent-task-network``, ``snmpd``/``snmp`` and ``unshare``/``nsenter``
(util-linux): when one is missing the tests fail, they never skip.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import and_, insert, select, text, update
from sqlalchemy.engine import make_url

import schema
from schema.constants import ItemType, TaskjobLogState as Log, TaskjobState as State
from tests import task_rows
from tests.e2e import agent as agentlib
from tests.e2e import netns as netnslib
from tests.e2e.test_agent_e2e import checkout_env, serve_command

pytestmark = pytest.mark.e2e

AGENT_TIMEOUT = 60
SERVER_START_TIMEOUT = 30
PORT = 8080  # inside the private namespace: always free
URL = f"http://127.0.0.1:{PORT}/plugins/fusioninventory/"
DEVICEID = "e2e-network-2025-06-01-12-00-00"
AGENT_ID = 7
PUBLIC_V2C = 2  # install-time credential "Public community v2c"

runs_t, logs_t = schema.taskjobstates, schema.taskjoblogs
ports_t, names_t, addresses_t = schema.glpi_networkports, schema.glpi_networknames, schema.glpi_ipaddresses


def items(itemtype: str, item_id: int) -> str:
    """A taskjob's targets/actors as GLPI's UI stores them: a list of one-key objects, string ids."""
    return json.dumps([{itemtype: str(item_id)}], separators=(",", ":"))


# --- fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def agent_tasks() -> str:
    """The agent and its network tasks are installed (else fail, never skip)."""
    try:
        binary = agentlib.agent_binary()
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    listed = subprocess.run([binary, "--list-tasks"], capture_output=True, text=True, timeout=60)
    out = listed.stdout + listed.stderr
    for task in ("NetDiscovery", "NetInventory", "WakeOnLan"):
        if not re.search(rf"^\s*{task} \(v", out, re.M):
            pytest.fail(f"the agent has no {task} task: apt-get install -y "
                        f"fusioninventory-agent-task-network\n{out}")
    return binary


@pytest.fixture
def netns():
    try:
        namespace = netnslib.NetNamespace()
    except netnslib.ToolMissing as missing:
        pytest.fail(str(missing))
    try:
        yield namespace
    finally:
        namespace.close()


@pytest.fixture
def snmpd(netns, tmp_path):
    try:
        daemon = netnslib.Snmpd(netns, tmp_path / "snmpd")
    except netnslib.ToolMissing as missing:
        pytest.fail(str(missing))
    try:
        yield daemon
    finally:
        daemon.stop()


def url_inside_namespace(database_url: str, engine) -> str:
    """The database URL the server uses from inside the namespace (MariaDB: its unix socket)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return database_url
    with engine.connect() as conn:
        socket_path = conn.execute(text("SELECT @@socket")).scalar()
    assert socket_path and Path(socket_path).exists(), (
        f"MariaDB's unix socket {socket_path!r} is not on this machine: the server in the private network "
        "namespace cannot reach the database (these tests need a local MariaDB)")
    query = {**url.query, "unix_socket": socket_path, "charset": "utf8mb4"}
    return url.set(host="localhost", port=None, query=query).render_as_string(hide_password=False)


@dataclass
class Bridge:
    log: Path
    process: subprocess.Popen

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@contextlib.contextmanager
def running_bridge(netns, database_url: str, engine, log: Path, *options: str, **env: str):
    """``fusion-bridge serve`` of this checkout on 127.0.0.1:8080 inside the namespace, with
    ``options`` added to its command line and ``env`` to its environment."""
    process = netns.popen([*serve_command(), "serve", "--bind", f"127.0.0.1:{PORT}", "--workers", "2",
                           "--database", url_inside_namespace(database_url, engine), *options],
                          log=log, cwd=log.parent, env=checkout_env(**env))
    server = Bridge(log, process)
    try:
        if not netns.wait_tcp("127.0.0.1", PORT, SERVER_START_TIMEOUT, alive=process):
            pytest.fail(f"fusion-bridge serve (exit {process.poll()}) not answering on 127.0.0.1:{PORT} "
                        f"in the namespace:\n{server.tail()}")
        yield server
    finally:
        netnslib.stop(process, grace=20)


@pytest.fixture
def bridge(netns, database_url, engine, tmp_path):
    with running_bridge(netns, database_url, engine, tmp_path / "server.log") as server:
        yield server


# --- steps ---------------------------------------------------------------------------------

def add_agent(engine) -> None:
    """The agent's row as its first PROLOG leaves it (threads/timeouts at the column defaults)."""
    with engine.begin() as conn:
        conn.execute(insert(schema.agents).values(
            id=AGENT_ID, name=DEVICEID, device_id=DEVICEID, entities_id=0, is_recursive=1, token="12345678",
            useragent="FusionInventory-Agent_v2.6", computers_id=0, lock=0))


def add_task(engine, task_id: int, method: str, targets: str, reprepare_if_successful: int = 1) -> None:
    with engine.begin() as conn:
        task_rows.add_task(conn, task_id)
        conn.execute(update(schema.tasks).where(schema.tasks.c.id == task_id)
                     .values(reprepare_if_successful=reprepare_if_successful))
        task_rows.add_job(conn, task_id, task_id, method, targets, items(ItemType.AGENT, AGENT_ID))


def prepare(engine, job_id: int, target: tuple[str, int]) -> int:
    """Prepare runs the bridge's way; the job must then have one PREPARED run with its log."""
    from fusion_bridge.services.scheduling.preparation import prepare_runs

    report = prepare_runs(engine)
    assert not report.busy and not report.errors, report.lines()
    assert not any(task.error for task in report.tasks.values()), report.lines()
    with engine.connect() as conn:
        rows = conn.execute(select(runs_t).where(runs_t.c.plugin_fusioninventory_taskjobs_id == job_id)).all()
        assert len(rows) == 1, f"job {job_id}: expected one run, found {rows} ({report.lines()})"
        run = rows[0]
        assert (run.state, run.itemtype, run.items_id, run.plugin_fusioninventory_agents_id) == \
            (State.PREPARED, target[0], target[1], AGENT_ID), run
        assert [(row.state, row.comment) for row in run_logs(conn, run.id)] == [(Log.PREPARED, "")]
    return run.id


def run_logs(conn, run_id: int) -> list:
    return conn.execute(select(logs_t).where(logs_t.c.plugin_fusioninventory_taskjobstates_id == run_id)
                        .order_by(logs_t.c.id)).all()


def run_agent(netns, tasks: str, tmp_path: Path, name: str) -> agentlib.AgentRun:
    try:
        return agentlib.run_agent(URL, tasks, deviceid=DEVICEID, timeout=AGENT_TIMEOUT,
                                  workdir=tmp_path / name, debug=2, prefix=tuple(netns.command([])))
    except agentlib.AgentMissing as missing:
        pytest.fail(str(missing))
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the agent did not finish within {AGENT_TIMEOUT} s:\n"
                    f"{(expired.stderr or b'').decode(errors='replace')[-4000:]}")


def context(run: agentlib.AgentRun, bridge: Bridge, engine=None, run_id: int | None = None) -> str:
    text_ = f"\n--- agent log (end) ---\n{run.log[-5000:]}\n--- server log (end) ---\n{bridge.tail()}"
    if engine is not None and run_id is not None:
        with engine.connect() as conn:
            state = conn.execute(select(runs_t.c.state).where(runs_t.c.id == run_id)).scalar()
            history = "\n".join(f"  {Log(row.state).label:8} {row.itemtype or ''}:{row.items_id} "
                                f"{row.comment}" for row in run_logs(conn, run_id))
        text_ += f"\n--- run {run_id}: state {state} ---\n{history}"
    return text_


def check_agent(run: agentlib.AgentRun, bridge: Bridge, task_name: str,
                allowed: re.Pattern[str] | None = None, engine=None, run_id: int | None = None) -> None:
    ctx = context(run, bridge, engine, run_id)
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    assert run.deviceid == DEVICEID, ctx
    problems = agentlib.problem_lines(run.log, allowed)
    assert not problems, "agent complained:\n" + "\n".join(problems) + ctx
    assert f"target server0: server {URL}" in run.log, ctx
    assert f"running task {task_name}" in run.log, f"the PROLOG reply did not start {task_name}{ctx}"
    assert "Traceback" not in bridge.log_text(), f"server raised{ctx}"


def check_finished(engine, run_id: int, ctx: str) -> list:
    """The run is Finished; its history starts Prepared, Started and ends with one Ok. Returns it."""
    with engine.connect() as conn:
        state = conn.execute(select(runs_t.c.state).where(runs_t.c.id == run_id)).scalar()
        history = run_logs(conn, run_id)
    assert state == State.FINISHED, f"run {run_id} in state {state}, not Finished{ctx}"
    states = [row.state for row in history]
    assert states[:2] == [Log.PREPARED, Log.STARTED], f"history {states}{ctx}"
    assert states[-1] == Log.OK and states.count(Log.OK) == 1, f"history {states}{ctx}"
    assert Log.ERROR not in states, f"history {states}{ctx}"
    return history


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
    add_agent(engine)
    add_name_rules(engine)
    with engine.begin() as conn:
        task_rows.add_iprange(conn, 1, "127.0.0.1", "127.0.0.3", credentials=((PUBLIC_V2C, 1),))
    add_task(engine, 1, "networkdiscovery", items(ItemType.IP_RANGE, 1), reprepare_if_successful)
    run_id = prepare(engine, 1, (ItemType.IP_RANGE, 1))

    run = run_agent(netns, "netdiscovery", tmp_path, "agent-discovery")
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
    add_task(engine, 2, "networkinventory", items(ItemType.NETWORK_EQUIPMENT, equipment_id))
    run_id = prepare(engine, 2, (ItemType.NETWORK_EQUIPMENT, equipment_id))

    run = run_agent(netns, "netinventory", tmp_path, "agent-inventory")
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
    add_agent(engine)
    with engine.begin() as conn:
        conn.execute(insert(schema.glpi_computers).values(id=31, entities_id=0, name="e2e-sleeper",
                                                          is_deleted=0, is_template=0))
        task_rows.add_port(conn, 41, ItemType.COMPUTER, 31, macs[0])
        task_rows.add_port(conn, 42, ItemType.COMPUTER, 31, macs[1])
    add_task(engine, 3, "wakeonlan", items(ItemType.COMPUTER, 31))
    run_id = prepare(engine, 3, (ItemType.COMPUTER, 31))

    run = run_agent(netns, "wakeonlan", tmp_path, "agent-wol")
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


def cli(engine, *args: str) -> object:
    """Run a ``fusion-bridge`` command against the test database; its JSON output."""
    url = engine.url.render_as_string(hide_password=False)
    done = subprocess.run([sys.executable, "-m", "fusion_bridge", *args, "--database", url, "--json"],
                          capture_output=True, text=True, timeout=120, env=checkout_env())
    assert done.returncode == 0, f"fusion-bridge {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def test_task_defined_with_the_cli_runs_to_finished(agent_tasks, engine, netns, snmpd, bridge, tmp_path):
    """The acceptance path on a fresh database: define with the CLI, the real agent runs it."""
    add_agent(engine)
    add_name_rules(engine)
    iprange = cli(engine, "iprange", "create", "--name", "loopback", "--start", "127.0.0.1", "--end", "127.0.0.3",
                  "--credential", str(PUBLIC_V2C))
    task = cli(engine, "task", "create", "--name", "discover loopback", "--active")
    action = cli(engine, "action", "add", "--task", str(task["id"]), "--name", "discover",
                 "--method", "networkdiscovery", "--target", f"iprange:{iprange['id']}",
                 "--actor", f"agent:{AGENT_ID}")
    run_id = prepare(engine, action["id"], (ItemType.IP_RANGE, iprange["id"]))

    run = run_agent(netns, "netdiscovery", tmp_path, "agent-cli-task")
    check_agent(run, bridge, "NetDiscovery", engine=engine, run_id=run_id)
    ctx = context(run, bridge, engine, run_id)
    history = check_finished(engine, run_id, ctx)
    assert history[-1].comment.startswith("Processed:"), ctx
    with engine.connect() as conn:
        assert len(equipment_at(conn, "127.0.0.1")) == 1, ctx
    # The CLI's own history tells the same story in words.
    shown = json.dumps(cli(engine, "history", "--run", str(run_id)))
    for word in ("Prepared", "Started", "Ok"):
        assert f'"{word}"' in shown, f"{word} missing from the CLI history: {shown[:2000]}"
