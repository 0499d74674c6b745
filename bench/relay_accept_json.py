"""GLPI Agent's JSON inventories into the relay queue, on a GLPI 10 + glpiinventory schema in
MariaDB (docs/glpi10-protocol.md §4.6).

wrk (one thread, N connections, --duration s, median of --repeats) posts the recorded GLPI Agent
1.11 inventory (fixtures/recorded-glpi10, 9.5 KB of JSON, 1.8 KB zlib) under --agents distinct,
known deviceids (each made by its CONTACT first), against:
  bare-wsgi      gunicorn, raw WSGI callable reading the body and answering a constant (ceiling)
  relay-json     fusion-bridge serve --inventory-upstream (an upstream that is down, so the
                 forwarder stays paused): validate, store as sent, answer GLPI's JSON
All traffic stays on 127.0.0.1.

Usage: python bench/relay_accept_json.py [--agents 1000] [--duration 10] [--connections 8] [--repeats 3]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import zlib
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.prolog import free_port, shut_down, start  # noqa: E402
from bench.relay_accept import load_arguments, measure, print_table, write  # noqa: E402
from tests.helpers.mariadb import MariaDBServer  # noqa: E402

RECORDED = ROOT / "fixtures" / "recorded-glpi10" / "01-glpi-agent-inventory" / "run2" / "002-POST-INVENTORY"


def device_id(index: int) -> str:
    return f"jsonbench{index:05d}-2026-12-05-10-00-00"


def inventory_bodies(count: int) -> list[bytes]:
    document = json.loads((RECORDED / "request.decoded").read_bytes())
    bodies = []
    for index in range(count):
        document["deviceid"] = device_id(index)
        bodies.append(zlib.compress(json.dumps(document, indent=3, sort_keys=True).encode(), 6))
    return bodies


def contact(port: int, index: int) -> None:
    body = zlib.compress(json.dumps({"action": "contact", "deviceid": device_id(index), "enabled-tasks": ["inventory"],
                                     "name": "GLPI-Agent", "version": "1.11"}).encode())
    request = urllib.request.Request(f"http://127.0.0.1:{port}/plugins/glpiinventory/", data=body,
                                     headers={"Content-Type": "application/x-compress-zlib",
                                              "User-Agent": "GLPI-Agent_v1.11"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 200 and b'"inventory"' in zlib.decompress(response.read()), "inventory not announced"


def main() -> None:
    args = load_arguments(__doc__).parse_args()

    mariadb = MariaDBServer()
    database_url = mariadb.create_database("fb_json_bench")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FUSION_BRIDGE_DATABASE_URL": database_url,
           "FUSION_BRIDGE_LOG_LEVEL": "WARNING"}
    bodies = inventory_bodies(args.agents)
    bodies_file = Path(tempfile.mkdtemp(prefix="fb-json-bench-")) / "inventories.bin"
    write(bodies_file, bodies)
    ports = {name: free_port() for name in ("bare-wsgi", "relay-json")}
    commands = {
        "bare-wsgi": [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(args.workers), "--log-level",
                      "warning", "--no-control-socket", "-b", f"127.0.0.1:{ports['bare-wsgi']}", "bench.bare_app:wsgi"],
        # Nothing listens on port 9: the forwarder finds the upstream down and pauses.
        "relay-json": [sys.executable, "-m", "fusion_bridge", "serve", "--workers", str(args.workers), "--no-scheduler",
                       "--bind", f"127.0.0.1:{ports['relay-json']}", "--inventory-upstream", "http://127.0.0.1:9/"],
    }
    subprocess.run([sys.executable, "-m", "fusion_bridge", "db", "init", "--schema", "glpiinventory", "--glpi", "10"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    # GLPI 10 installs with inventory disabled (docs/glpi10-protocol.md §8.3): a serving site has it on.
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM glpi_configs WHERE context = 'inventory' AND name = 'enabled_inventory'"))
        conn.execute(text("INSERT INTO glpi_configs (context, name, value) VALUES ('inventory', 'enabled_inventory', '1')"))
    engine.dispose()
    results: dict[str, list[dict]] = {name: [] for name in commands}
    processes = {}
    try:
        for name, command in commands.items():
            processes[name] = start(command, ports[name], env)
        for index in range(len(bodies)):  # known agents: each made by its CONTACT
            contact(ports["relay-json"], index)
        for _ in range(args.repeats):
            for name in commands:
                results[name].append(measure(name, ports[name], processes[name], bodies_file, args))
    finally:
        shut_down(processes.values(), mariadb, database_url)

    print_table(results, args.connections, args.repeats)

if __name__ == "__main__":
    main()
