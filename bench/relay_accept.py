"""INVENTORY throughput on MariaDB: accepting into the relay queue, importing locally, and the
forwarder's own cost per document.

Phase 1 (wrk, one thread, N connections, --duration s, median of --repeats), posting the
recorded 246 KB inventory (19 KB zlib, the real agent's) under --agents distinct, known
DEVICEIDs, against:
  bare-wsgi      gunicorn, raw WSGI callable reading the body and answering a constant (ceiling)
  relay-accept   fusion-bridge serve --inventory-upstream (an upstream that is down, so the
                 forwarder stays paused): validate, store as sent, answer
  local-import   fusion-bridge serve without upstream: the bridge's own minimal import, of
                 computers it knows already
Phase 2: the queue holds one document per agent; ``fusion-bridge relay run`` forwards them to a
fast upstream (gunicorn answering the plugin's empty REPLY); CPU of the forwarder process (and
MariaDB's) per document, and documents per second.
All traffic stays on 127.0.0.1.

Usage: python bench/relay_accept.py [--agents 1000] [--duration 10] [--connections 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.prolog import cpu_seconds, free_port, measured_run, run_wrk, shut_down, start, stop  # noqa: E402
from tests.helpers.mariadb import MariaDBServer  # noqa: E402

RECORDED = ROOT / "fixtures" / "cases" / "inventory_zlib" / "01-INVENTORY" / "request.xml"
PROLOG = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>%s</DEVICEID>\n'
          b"  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n")
EMPTY_REPLY = zlib.compress(b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n</REPLY>\n', 6)


def upstream_app(environ, start_response):
    """The fast upstream: reads the document, answers the plugin's empty REPLY (zlib)."""
    environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "application/x-compress-zlib"),
                              ("Content-Length", str(len(EMPTY_REPLY)))])
    return [EMPTY_REPLY]


def device_id(index: int) -> bytes:
    return b"relaybench%05d-2026-11-25-10-00-00" % index


def inventory_bodies(count: int) -> list[bytes]:
    xml = RECORDED.read_bytes()
    start_at, end = xml.index(b"<DEVICEID>") + len(b"<DEVICEID>"), xml.index(b"</DEVICEID>")
    return [zlib.compress(xml[:start_at] + device_id(i) + xml[end:], 6) for i in range(count)]


def write(path: Path, bodies: list[bytes]) -> None:
    with path.open("wb") as out:
        for body in bodies:
            out.write(b"%08d" % len(body) + body)


def post_all(port: int, bodies: list[bytes]) -> None:
    for body in bodies:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/plugins/fusioninventory/", data=body,
                                         headers={"Content-Type": "application/x-compress-zlib",
                                                  "User-Agent": "FusionInventory-Agent_v2.6-3"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 200, response.status


class QueueProbe:
    def __init__(self, database_url: str):
        from fusion_bridge.adapters.db import make_engine

        self.engine = make_engine(database_url)

    def __call__(self) -> int:
        from sqlalchemy import func, select

        import schema

        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(schema.bridge_relayqueue)).scalar_one()


def forward_phase(env: dict, database_url: str, relay_port: int, bodies: list[bytes], repeats: int,
                  concurrency: int) -> list[dict]:
    upstream_port = free_port()
    gunicorn = [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", "4", "--log-level", "warning",
                "--no-control-socket", "-b", f"127.0.0.1:{upstream_port}", "bench.relay_accept:upstream_app"]
    upstream = start(gunicorn, upstream_port, env)
    results = []
    queued = QueueProbe(database_url)
    try:
        for repeat in range(repeats):
            if queued() < len(bodies):
                bridge = start([sys.executable, "-m", "fusion_bridge", "serve", "--bind", f"127.0.0.1:{relay_port}",
                                "--no-scheduler", "--inventory-upstream", "http://127.0.0.1:9/"], relay_port, env)
                try:
                    post_all(relay_port, bodies)
                finally:
                    stop(bridge)
            relay_env = {**env, "FUSION_BRIDGE_INVENTORY_UPSTREAM": f"http://127.0.0.1:{upstream_port}/",
                         "FUSION_BRIDGE_RELAY_CONCURRENCY": str(concurrency), "FUSION_BRIDGE_LOG_LEVEL": "WARNING"}
            total = queued()
            process = subprocess.Popen([sys.executable, "-m", "fusion_bridge", "relay", "run"], cwd=ROOT,
                                       env=relay_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
            # Measured from the first delivery on, so the interpreter's start is not counted.
            deadline = time.monotonic() + 600
            while queued() >= total and time.monotonic() < deadline:
                time.sleep(0.02)
            documents = queued()
            began = time.monotonic()
            relay_cpu, db_cpu = cpu_seconds(group=process.pid), cpu_seconds(name="mariadbd")
            while queued() and time.monotonic() < deadline:
                time.sleep(0.05)
            elapsed = time.monotonic() - began
            relay_used = cpu_seconds(group=process.pid) - relay_cpu
            db_used = cpu_seconds(name="mariadbd") - db_cpu
            stop(process)
            result = {"documents": documents, "seconds": elapsed, "per_second": documents / elapsed,
                      "relay_cpu_us": relay_used / documents * 1e6, "db_cpu_us": db_used / documents * 1e6}
            results.append(result)
            print(f"forward repeat {repeat + 1}: {documents} documents in {elapsed:.2f} s "
                  f"({result['per_second']:.0f}/s), CPU µs/document forwarder {result['relay_cpu_us']:.0f} "
                  f"MariaDB {result['db_cpu_us']:.0f}", flush=True)
    finally:
        stop(upstream)
        queued.engine.dispose()
    return results


def load_arguments(description: str) -> argparse.ArgumentParser:
    """The options of an inventory load run (shared with bench/relay_accept_json.py)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2 * os.cpu_count() + 1)
    return parser


def measure(name: str, port: int, process, bodies_file: Path, args) -> dict:
    """One measured wrk run of ``name``, printed as it ends."""
    result = measured_run(lambda seconds: run_wrk(port, args.connections, seconds, bodies_file),
                          args.duration, process)
    print(f"c={args.connections} {name:13s} {result['rps']:7.0f} req/s  "
          f"p50 {result['p50_us'] / 1000:6.1f} ms  p99 {result['p99_us'] / 1000:6.1f} ms  "
          f"errors {result['errors']}  CPU µs/req server {result['server_cpu_us']:.0f} "
          f"db {result['db_cpu_us']:.0f}", flush=True)
    return result


def print_table(results: dict[str, list[dict]], connections: int, repeats: int) -> None:
    """Medians of the runs per server, as the README's table; ratios against ``bare-wsgi``."""
    print()
    print(f"| c | server | inventories/s (median of {repeats}) [min-max] | p50 ms | p99 ms | "
          "CPU µs/req server / MariaDB | vs bare WSGI |")
    print("|---|---|---|---|---|---|---|")
    bare = statistics.median(r["rps"] for r in results["bare-wsgi"]) if "bare-wsgi" in results else None
    for name, runs in results.items():
        rps = [r["rps"] for r in runs]
        median = statistics.median(rps)
        print(f"| {connections} | {name} | {median:.0f} [{min(rps):.0f}-{max(rps):.0f}] "
              f"| {statistics.median(r['p50_us'] for r in runs) / 1000:.1f} "
              f"| {statistics.median(r['p99_us'] for r in runs) / 1000:.1f} "
              f"| {statistics.median(r['server_cpu_us'] for r in runs):.0f} / "
              f"{statistics.median(r['db_cpu_us'] for r in runs):.0f} "
              f"| {f'{median / bare:.0%}' if bare else '-'} |")


def main() -> None:
    parser = load_arguments(__doc__)
    parser.add_argument("--forward-concurrency", type=int, default=2)
    parser.add_argument("--servers", default="bare-wsgi,relay-accept,local-import",
                        help="which of bare-wsgi, relay-accept, local-import to measure")
    parser.add_argument("--no-forward", action="store_true", help="skip the forwarder phase")
    args = parser.parse_args()

    mariadb = MariaDBServer()
    database_url = mariadb.create_database("fb_relay_bench")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FUSION_BRIDGE_DATABASE_URL": database_url,
           "FUSION_BRIDGE_LOG_LEVEL": "WARNING"}
    workdir = Path(tempfile.mkdtemp(prefix="fb-relay-bench-"))
    bodies = inventory_bodies(args.agents)
    bodies_file = workdir / "inventories.bin"
    write(bodies_file, bodies)
    ports = {name: free_port() for name in ("bare-wsgi", "relay-accept", "local-import")}
    serve = [sys.executable, "-m", "fusion_bridge", "serve", "--workers", str(args.workers), "--no-scheduler"]
    commands = {
        "bare-wsgi": [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(args.workers), "--log-level",
                      "warning", "--no-control-socket", "-b", f"127.0.0.1:{ports['bare-wsgi']}", "bench.bare_app:wsgi"],
        # Nothing listens on port 9: the forwarder finds the upstream down and pauses.
        "relay-accept": serve + ["--bind", f"127.0.0.1:{ports['relay-accept']}",
                                 "--inventory-upstream", "http://127.0.0.1:9/"],
        "local-import": serve + ["--bind", f"127.0.0.1:{ports['local-import']}"],
    }
    commands = {name: command for name, command in commands.items() if name in args.servers.split(",")}
    subprocess.run([sys.executable, "-m", "fusion_bridge", "db", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    results: dict[str, list[dict]] = {name: [] for name in commands}  # after the --servers choice
    processes = {}
    try:
        for name, command in commands.items():
            processes[name] = start(command, ports[name], env)
        registrar = processes.get("local-import") and ports["local-import"]
        registrar = registrar or processes.get("relay-accept") and ports["relay-accept"]
        for index in range(len(bodies) if registrar else 0):  # known agents: one PROLOG each
            request = urllib.request.Request(f"http://127.0.0.1:{registrar}/plugins/fusioninventory/",
                                             data=zlib.compress(PROLOG % device_id(index)),
                                             headers={"Content-Type": "application/x-compress-zlib"})
            urllib.request.urlopen(request).read()
        # Known computers: every agent's inventory imported once (the first import creates the
        # computer and its ports; the measured ones update them).
        if "local-import" in processes:
            post_all(ports["local-import"], bodies)
        for _ in range(args.repeats):
            for name in commands:
                results[name].append(measure(name, ports[name], processes[name], bodies_file, args))
        for name in ("relay-accept", "local-import"):
            if name in processes:
                stop(processes.pop(name))
        forwarded = [] if args.no_forward else forward_phase(env, database_url, ports["relay-accept"], bodies,
                                                             args.repeats, args.forward_concurrency)
    finally:
        shut_down(processes.values(), mariadb, database_url)

    print_table(results, args.connections, args.repeats)
    if not forwarded:
        return
    print()
    print(f"| forwarder (concurrency {args.forward_concurrency}) | documents/s [min-max] | CPU µs/document "
          "forwarder / MariaDB |")
    print("|---|---|---|")
    pace = [r["per_second"] for r in forwarded]
    print(f"| fast upstream | {statistics.median(pace):.0f} [{min(pace):.0f}-{max(pace):.0f}] | "
          f"{statistics.median(r['relay_cpu_us'] for r in forwarded):.0f} / "
          f"{statistics.median(r['db_cpu_us'] for r in forwarded):.0f} |")


if __name__ == "__main__":
    main()
