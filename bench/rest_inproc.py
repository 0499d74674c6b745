"""In-process cost of the idle REST calls through the WSGI app (no HTTP server, no load generator).

An agent run with nothing to do asks getConfig three times (task[Deploy], task[Collect],
task[ESX]) and, depending on the agent, the getJobs of b/deploy, b/collect and b/esx. Each kind
is timed separately over distinct known agents with no runs.

Usage: python bench/rest_inproc.py [--database URL] [--agents 500] [--requests 3000] [--profile KIND]
KIND: getConfig, deploy, collect or esx. Without --database a fresh MariaDB database is made (and
dropped) on 127.0.0.1:3306.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

import schema  # noqa: E402
from fusion_bridge.app import create_app  # noqa: E402
from fusion_bridge.adapters.db import make_engine  # noqa: E402
from bench.inproc import bench_database, call_app, cpu_now, wsgi_environ  # noqa: E402

DEVICE = "restbench%05d-2026-11-25-10-00-00"
KINDS = {
    "getConfig": lambda device, i: ("/plugins/fusioninventory/",
                                    f"action=getConfig&machineid={device}&task%5B{('Deploy', 'Collect', 'ESX')[i % 3]}%5D=2.6"),
    "deploy": lambda device, i: ("/plugins/fusioninventory/b/deploy/", f"action=getJobs&machineid={device}&version=2.8"),
    "collect": lambda device, i: ("/plugins/fusioninventory/b/collect/", f"action=getJobs&machineid={device}"),
    "esx": lambda device, i: ("/plugins/fusioninventory/b/esx/", f"action=getJobs&machineid={device}"),
}


def call(app, path: str, query: str) -> bytes:
    return call_app(app, wsgi_environ("GET", path, query, HTTP_HOST="127.0.0.1:8080"))


def measure(app, kind: str, agents: int, requests: int, profiler: cProfile.Profile | None) -> tuple[float, float]:
    calls = [KINDS[kind](DEVICE % (i % agents), i) for i in range(requests)]
    for path, query in calls[:200]:
        call(app, path, query)  # warm-up
    started_cpu, started = cpu_now(), time.perf_counter()
    if profiler:
        profiler.enable()
    for path, query in calls:
        call(app, path, query)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - started, cpu_now() - started_cpu
    return wall / requests * 1e6, cpu / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database")
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", choices=sorted(KINDS))
    args = parser.parse_args()
    with bench_database(args.database, "fb_rest_inproc") as url:
        engine = make_engine(url)
        schema.init_database(engine)
        with engine.begin() as conn:
            conn.execute(insert(schema.agents), [
                {"name": f"restbench{i:05d}", "device_id": DEVICE % i, "entities_id": 0} for i in range(args.agents)])
        engine.dispose()
        app = create_app({"DATABASE_URL": url})
        profiler = cProfile.Profile() if args.profile else None
        for kind in ([args.profile] if args.profile else KINDS):
            wall, cpu = measure(app, kind, args.agents, args.requests, profiler)
            print(f"{kind:10s} idle: {wall:6.0f} µs wall, {cpu:6.0f} µs client CPU per call", flush=True)
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
