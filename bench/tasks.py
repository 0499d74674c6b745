"""Task traffic on `fusion-bridge serve` + MariaDB: PROLOGs that hand out three OPTIONs, and
NETDISCOVERY / SNMPQUERY result messages.

Scenarios (wrk, one thread, N connections, each for --duration seconds, median of --repeats):
  prolog-no-job       PROLOGs of agents with nothing to do (the reference rate)
  prolog-3-options    PROLOGs of agents that each have three prepared runs (discovery of an IP
                      range, SNMP inventory of a switch, Wake-on-LAN of a computer): each
                      PROLOG claims its three runs and answers the three OPTIONs
  netdiscovery-device one discovered DEVICE per message, into each agent's own running run
  snmpquery-result    one SNMP inventory result (INFO + 2 ports) per message, likewise
Every agent is used at most once per scenario and repeat (the bodies never wrap), so each
PROLOG of prolog-3-options really hands out three runs. Traffic stays on 127.0.0.1.

Usage: python bench/tasks.py [--agents 20000] [--duration 8] [--connections 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import schema  # noqa: E402
from bench.prolog import cpu_seconds, free_port, run_wrk, start, stop  # noqa: E402
from fusion_bridge.adapters.db import make_engine  # noqa: E402
from tests.helpers.mariadb import MariaDBServer  # noqa: E402

PROLOG = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>%s</DEVICEID>\n'
          b"  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n")
MESSAGE = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <CONTENT>%s<MODULEVERSION>4.2</MODULEVERSION>'
           b"<PROCESSNUMBER>%d</PROCESSNUMBER></CONTENT>\n  <DEVICEID>%s</DEVICEID>\n  <QUERY>%s</QUERY>\n</REQUEST>\n")
DEVICE = (b"<DEVICE><DNSHOSTNAME>host%d</DNSHOSTNAME><ENTITY>0</ENTITY><IP>10.%d.%d.%d</IP>"
          b"<MAC>02:00:%02x:%02x:%02x:01</MAC></DEVICE>")
RESULT = (b"<DEVICE><INFO><COMMENTS>Linux switch</COMMENTS><ID>1</ID><NAME>switch-%d</NAME><SERIAL>SN%d</SERIAL>"
          b"<TYPE>NETWORKING</TYPE><UPTIME>1:00:00.00</UPTIME></INFO><PORTS>"
          b"<PORT><IFDESCR>eth0</IFDESCR><IFNAME>eth0</IFNAME><IFNUMBER>1</IFNUMBER><IFTYPE>6</IFTYPE>"
          b"<MAC>02:01:00:00:00:01</MAC><IFSTATUS>1</IFSTATUS><IFINOCTETS>%d</IFINOCTETS></PORT>"
          b"<PORT><IFDESCR>eth1</IFDESCR><IFNAME>eth1</IFNAME><IFNUMBER>2</IFNUMBER><IFTYPE>6</IFTYPE>"
          b"<MAC>02:01:00:00:00:02</MAC><IFSTATUS>2</IFSTATUS></PORT></PORTS></DEVICE>")
SCENARIOS = ("prolog-no-job", "prolog-3-options", "netdiscovery-device", "snmpquery-result")


def device_id(scenario: int, repeat: int, index: int) -> bytes:
    return b"bench-s%d-r%d-%06d-2026-11-25-10-00-00" % (scenario, repeat, index)


def write(path: Path, bodies) -> None:
    with path.open("wb") as out:
        for body in bodies:
            out.write(b"%08d" % len(body) + body)


def seed(url: str, agents: int, repeats: int) -> None:
    """Agents for every scenario and repeat, the targets, and the runs (bulk inserts)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(schema.ipranges).values(id=1, name="bench", entities_id=0, ip_start="10.0.0.1",
                                                    ip_end="10.0.0.254"))
        conn.execute(insert(schema.ipranges_configsecurities).values(plugin_fusioninventory_ipranges_id=1,
                                                                     plugin_fusioninventory_configsecurities_id=2))
        conn.execute(insert(schema.glpi_networkequipments).values(id=1, entities_id=0, name="switch", is_deleted=0))
        conn.execute(insert(schema.networkequipments).values(networkequipments_id=1,
                                                              plugin_fusioninventory_configsecurities_id=2))
        for port_id, (itemtype, item, mac) in enumerate((("NetworkEquipment", 1, "02:01:00:00:00:00"),
                                                         ("Computer", 1, "02:02:00:00:00:01")), start=1):
            conn.execute(insert(schema.glpi_networkports).values(
                id=port_id, items_id=item, itemtype=itemtype, entities_id=0, name="eth0", mac=mac,
                instantiation_type="NetworkPortEthernet", is_deleted=0))
            conn.execute(insert(schema.glpi_networknames).values(id=port_id, items_id=port_id, itemtype="NetworkPort",
                                                                 entities_id=0, is_deleted=0))
            conn.execute(insert(schema.glpi_ipaddresses).values(
                id=port_id, items_id=port_id, itemtype="NetworkName", entities_id=0, version=4,
                name=f"10.0.0.{port_id}", mainitems_id=item, mainitemtype=itemtype, is_deleted=0))
        conn.execute(insert(schema.tasks).values(id=1, name="bench", entities_id=0, is_active=1))
        # An empty actors list would make every run fail the actor check: list a computer actor
        # and give every agent that computer, so the check is one indexed lookup like a real set-up.
        for job_id, method, target in ((1, "networkdiscovery", '[{"PluginFusioninventoryIPRange":"1"}]'),
                                       (2, "networkinventory", '[{"NetworkEquipment":"1"}]'),
                                       (3, "wakeonlan", '[{"Computer":"1"}]')):
            conn.execute(insert(schema.taskjobs).values(id=job_id, plugin_fusioninventory_tasks_id=1, entities_id=0,
                                                        name=method, method=method, targets=target,
                                                        actors='[{"Computer":"1"}]'))
        agent_rows, run_rows = [], []
        next_agent = 1
        for scenario in range(len(SCENARIOS)):
            for repeat in range(repeats):
                for index in range(agents):
                    name = device_id(scenario, repeat, index).decode()
                    agent_rows.append({"id": next_agent, "name": name, "device_id": name, "entities_id": 0,
                                       "computers_id": 1, "threads_networkdiscovery": 0,
                                       "threads_networkinventory": 0})
                    if scenario == 1:
                        for job_id, itemtype in ((1, "PluginFusioninventoryIPRange"), (2, "NetworkEquipment"),
                                                 (3, "Computer")):
                            run_rows.append({"plugin_fusioninventory_taskjobs_id": job_id, "items_id": 1,
                                             "itemtype": itemtype, "state": 0,
                                             "plugin_fusioninventory_agents_id": next_agent,
                                             "uniqid": f"b{next_agent}-{job_id}"})
                    elif scenario in (2, 3):
                        run_rows.append({"id": next_agent, "plugin_fusioninventory_taskjobs_id": scenario - 1,
                                         "items_id": 1, "state": 2, "plugin_fusioninventory_agents_id": next_agent,
                                         "itemtype": ("PluginFusioninventoryIPRange", "NetworkEquipment")[scenario - 2],
                                         "uniqid": f"b{next_agent}"})
                    next_agent += 1
        conn.execute(insert(schema.agents), agent_rows)
        # Known agents calling from the address they used before: no address write per PROLOG.
        conn.execute(insert(schema.bridge_agentaddresses), [
            {"plugin_fusioninventory_agents_id": row["id"], "address": "127.0.0.1"} for row in agent_rows])
        with_ids = [row for row in run_rows if "id" in row]
        conn.execute(insert(schema.taskjobstates), with_ids)
        conn.execute(insert(schema.taskjobstates), [row for row in run_rows if "id" not in row])
    engine.dispose()


def bodies(scenario: int, repeat: int, agents: int, first_agent: int):
    for index in range(agents):
        device = device_id(scenario, repeat, index)
        agent = first_agent + index
        if scenario in (0, 1):
            yield zlib.compress(PROLOG % device)
        elif scenario == 2:
            content = DEVICE % (agent, agent >> 16 & 255, agent >> 8 & 255, agent & 255,
                                agent >> 16 & 255, agent >> 8 & 255, agent & 255)
            yield zlib.compress(MESSAGE % (content, agent, device, b"NETDISCOVERY"))
        else:
            yield zlib.compress(MESSAGE % (RESULT % (agent, agent, agent), agent, device, b"SNMPQUERY"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=20000)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2 * os.cpu_count() + 1)
    args = parser.parse_args()
    mariadb = MariaDBServer()
    url = mariadb.create_database("fb_bench_tasks")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FUSION_BRIDGE_DATABASE_URL": url}
    workdir = Path(tempfile.mkdtemp(prefix="fb-bench-tasks-"))
    process = None
    results: dict[str, list[dict]] = {name: [] for name in SCENARIOS}
    try:
        subprocess.run([sys.executable, "-m", "fusion_bridge", "db", "init"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        seed(url, args.agents, args.repeats)
        port = free_port()
        process = start([sys.executable, "-m", "fusion_bridge", "serve", "--bind", f"127.0.0.1:{port}",
                         "--workers", str(args.workers), "--no-scheduler"], port, env)
        for repeat in range(args.repeats):
            for scenario, name in enumerate(SCENARIOS):
                first_agent = 1 + (scenario * args.repeats + repeat) * args.agents
                path = workdir / f"{name}-{repeat}.bin"
                write(path, bodies(scenario, repeat, args.agents, first_agent))
                before = cpu_seconds(group=process.pid), cpu_seconds(name="mariadbd")
                result = run_wrk(port, args.connections, args.duration, path, random_start=False)
                result["server_cpu_us"] = (cpu_seconds(group=process.pid) - before[0]) / result["requests"] * 1e6
                result["db_cpu_us"] = (cpu_seconds(name="mariadbd") - before[1]) / result["requests"] * 1e6
                if result["requests"] >= args.agents:
                    raise SystemExit(f"{name}: {result['requests']} requests used every agent; raise --agents")
                results[name].append(result)
                print(f"repeat {repeat + 1} {name:20s} {result['rps']:7.0f} req/s  p50 {result['p50_us'] / 1000:5.1f} ms"
                      f"  p99 {result['p99_us'] / 1000:5.1f} ms  errors {result['status_errors']}  CPU µs/req server "
                      f"{result['server_cpu_us']:.0f} db {result['db_cpu_us']:.0f}", flush=True)
    finally:
        if process is not None:
            stop(process)
        mariadb.drop_database(url)
        mariadb.stop()
    reference = statistics.median(r["rps"] for r in results["prolog-no-job"])
    print(f"\n| scenario (c={args.connections}) | req/s (median of {args.repeats}) [min-max] | p50 ms | p99 ms | "
          "CPU µs/req server / MariaDB | vs no-job PROLOG |")
    print("|---|---|---|---|---|---|")
    for name in SCENARIOS:
        runs = results[name]
        rps = [r["rps"] for r in runs]
        median = statistics.median(rps)
        print(f"| {name} | {median:.0f} [{min(rps):.0f}-{max(rps):.0f}] | "
              f"{statistics.median(r['p50_us'] for r in runs) / 1000:.1f} | "
              f"{statistics.median(r['p99_us'] for r in runs) / 1000:.1f} | "
              f"{statistics.median(r['server_cpu_us'] for r in runs):.0f} / "
              f"{statistics.median(r['db_cpu_us'] for r in runs):.0f} | {median / reference:.0%} |")


if __name__ == "__main__":
    main()
