"""First-contact PROLOG throughput of `fusion-bridge serve` on MariaDB, next to known agents.

A first contact is the PROLOG of a DEVICEID the database does not know: the bridge creates the
agent (under a named lock per DEVICEID, in a READ COMMITTED transaction). Each level runs wrk
with N connections posting zlib PROLOGs (the real agent's request layout) of DEVICEIDs never
seen, each body once, against:
  bare-wsgi   gunicorn, raw WSGI callable answering a constant body (the ceiling)
  first       fusion-bridge serve, every PROLOG a new agent
  known       fusion-bridge serve, the same PROLOGs again (agents known now)
Every request must be answered 200; a run that posted a body twice (more requests than
bodies) is reported. Levels and repeats are interleaved; the median is reported.
All traffic stays on 127.0.0.1.

Usage: python bench/first_contact.py [--duration 5] [--levels 8,32] [--repeats 3] [--bodies 30000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.prolog import free_port, measured_run, prolog_template, run_wrk, start, stop  # noqa: E402
from tests.helpers.mariadb import MariaDBServer  # noqa: E402


def write_bodies(path: Path, prefix: str, count: int) -> None:
    template = prolog_template()
    with path.open("wb") as out:
        for index in range(count):
            device_id = b"%s%06d-2026-11-25-10-00-00" % (prefix.encode(), index)
            body = zlib.compress(template.replace(b"@@DEVICEID@@", device_id))
            out.write(b"%08d" % len(body) + body)


def first_bodies(source: Path, target: Path, count: int) -> None:
    """The first ``count`` bodies of ``source``: the agents the first-contact run created (wrk
    posts the bodies in turn), for the known-agent run to cycle through."""
    data = source.read_bytes()
    position = 0
    for _ in range(count):
        position += 8 + int(data[position:position + 8])
    target.write_bytes(data[:position])


def measure(name: str, port: int, process: subprocess.Popen, level: int, duration: int, bodies_file: Path) -> dict:
    # No warm-up: it would use up the first contacts the run is about.
    result = measured_run(lambda seconds: run_wrk(port, level, seconds, bodies_file, random_start=False),
                          duration, process, warm_up=0)
    result["errors"] += result["timeouts"]
    print(f"c={level:<4d} {name:10s} {result['rps']:8.0f} req/s  p50 {result['p50_us'] / 1000:6.1f} ms  "
          f"p99 {result['p99_us'] / 1000:6.1f} ms  errors {result['errors']}  "
          f"CPU µs/req server {result['server_cpu_us']:.0f} db {result['db_cpu_us']:.0f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--levels", default="8,32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bodies", type=int, default=30000, help="distinct DEVICEIDs per run (> requests)")
    parser.add_argument("--workers", type=int, default=2 * os.cpu_count() + 1)
    parser.add_argument("--output", type=Path, help="write the raw results as JSON here")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    mariadb = MariaDBServer()
    database_url = mariadb.create_database("fb_bench")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FUSION_BRIDGE_DATABASE_URL": database_url}
    workdir = Path(tempfile.mkdtemp(prefix="fb-bench-"))
    ports = {"bare-wsgi": free_port(), "bridge": free_port()}
    gunicorn = [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(args.workers), "--log-level", "warning",
                "--no-control-socket"]
    commands = {
        "bare-wsgi": gunicorn + ["-b", f"127.0.0.1:{ports['bare-wsgi']}", "bench.bare_app:wsgi"],
        "bridge": [sys.executable, "-m", "fusion_bridge", "serve", "--no-scheduler",
                   "--bind", f"127.0.0.1:{ports['bridge']}", "--workers", str(args.workers)],
    }
    subprocess.run([sys.executable, "-m", "fusion_bridge", "db", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    processes = {}
    names = ("bare-wsgi", "first", "known")
    results: dict[str, dict[int, list[dict]]] = {name: {level: [] for level in levels} for name in names}
    reused = []
    try:
        for name, command in commands.items():
            processes[name] = start(command, ports[name], env)
        bridge = processes["bridge"]
        for repeat in range(args.repeats):
            for level in levels:
                bodies_file = workdir / f"prologs-{repeat}-{level}.bin"
                write_bodies(bodies_file, f"r{repeat}c{level}-", args.bodies)
                print(f"repeat {repeat + 1}", end=" ")
                results["bare-wsgi"][level].append(
                    measure("bare-wsgi", ports["bare-wsgi"], processes["bare-wsgi"], level, args.duration,
                            bodies_file))
                print(f"repeat {repeat + 1}", end=" ")
                first = measure("first", ports["bridge"], bridge, level, args.duration, bodies_file)
                results["first"][level].append(first)
                if first["requests"] > args.bodies:
                    reused.append((repeat, level))
                known_file = workdir / f"known-{repeat}-{level}.bin"
                first_bodies(bodies_file, known_file, min(first["requests"], args.bodies))
                print(f"repeat {repeat + 1}", end=" ")
                results["known"][level].append(
                    measure("known", ports["bridge"], bridge, level, args.duration, known_file))
    finally:
        for process in processes.values():
            stop(process)
        mariadb.drop_database(database_url)
        mariadb.stop()

    print()
    print(f"| concurrency | server | PROLOG/s (median of {args.repeats}) [min-max] | p50 ms | p99 ms | "
          "CPU µs/req server / MariaDB | errors | vs known | vs bare-wsgi |")
    print("|---|---|---|---|---|---|---|---|---|")
    for level in levels:
        medians = {name: statistics.median(r["rps"] for r in results[name][level]) for name in names}
        for name in names:
            runs = results[name][level]
            rps = [r["rps"] for r in runs]
            print(f"| {level} | {name} | {medians[name]:.0f} [{min(rps):.0f}-{max(rps):.0f}] "
                  f"| {statistics.median(r['p50_us'] for r in runs) / 1000:.1f} "
                  f"| {statistics.median(r['p99_us'] for r in runs) / 1000:.1f} "
                  f"| {statistics.median(r['server_cpu_us'] for r in runs):.0f} / "
                  f"{statistics.median(r['db_cpu_us'] for r in runs):.0f} "
                  f"| {sum(r['errors'] for r in runs)} "
                  f"| {medians[name] / medians['known']:.0%} | {medians[name] / medians['bare-wsgi']:.0%} |")
    if reused:
        print(f"\nwarning: runs {reused} posted more requests than bodies: raise --bodies")
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
