"""What counting costs a PROLOG: metrics on against metrics off (FUSION_BRIDGE_METRICS=0).

Two measures, because the development machine is shared and noisy:

  micro   in-process, no server and no database: the outermost WSGI layer (fusion_bridge/ops/
          wsgi.py: request id, counter, histogram, kind) around a constant answer, in
          multiprocess mode as under serve, metrics on and off, against the bare answer.
          Best of several rounds: µs per request.
  serve   bench/prolog.py's set-up (MariaDB, wrk posting zlib PROLOGs of 1,000 known agents,
          a new connection per request) against two `fusion-bridge serve` of this checkout,
          one with metrics and one without, plus optionally a baseline checkout
          (--baseline DIR: e.g. the main branch, without this layer). Runs alternate between
          the servers in every repeat; medians of req/s and of the servers' CPU µs per request.

  inproc  a whole PROLOG of a known agent through the app in this process, on MariaDB (as
          bench/inproc.py), metrics on and off in alternating batches: the process's CPU
          µs per request, medians of the batches.

Usage: python bench/ops_overhead.py [--micro-only] [--batches 20 --batch-size 1000]
                                    [--levels 1,8] [--repeats 5 (0: no serve runs)] [--duration 8]
                                    [--baseline /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inproc import PROLOG  # noqa: E402
from bench.prolog import (  # noqa: E402
    free_port, measured_run, register_agents, run_wrk, shut_down, start, write_bodies)


def micro(rounds: int = 7, requests: int = 20000) -> dict[str, float]:
    """µs per request of the ops layer, best of ``rounds``."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="fb-ops-bench-")
    from fusion_bridge.ops import metrics
    from fusion_bridge.ops.settings import OpsSettings
    from fusion_bridge.ops.wsgi import ObservedApp, set_kind

    body = [b"x" * 94]

    def answer(environ, start_response):
        set_kind(environ, "PROLOG", "bench-2026-11-25-10-00-00")  # as the XML endpoint does
        start_response("200 OK", [("Content-Type", "application/x-compress-zlib"), ("Content-Length", "94")])
        return body

    class Ready:
        def check(self):
            return True, {}

    settings = OpsSettings()
    apps = {
        "bare": answer,
        "metrics off": ObservedApp(answer, metrics.Off(), settings, Ready()),
        "metrics on": ObservedApp(answer, metrics.activate(), settings, Ready()),
    }
    template = {"REQUEST_METHOD": "POST", "PATH_INFO": "/plugins/fusioninventory/", "QUERY_STRING": "",
                "REMOTE_ADDR": "127.0.0.1", "SERVER_PORT": "8080", "wsgi.input": io.BytesIO(b"")}

    def start_response(status, headers, exc_info=None):
        return None

    best = {name: float("inf") for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            started = time.perf_counter()
            for _ in range(requests):
                app(dict(template), start_response)
            best[name] = min(best[name], (time.perf_counter() - started) / requests * 1e6)
    return best


def inproc(args) -> dict[str, list[float]]:
    """CPU µs per PROLOG of a known agent through the whole app in this process (MariaDB),
    metrics on and off, in alternating batches; per batch, so that medians can be taken."""
    from bench.inproc import call, cpu_now
    from tests.helpers.mariadb import MariaDBServer

    import schema
    from fusion_bridge.adapters.db import make_engine
    from fusion_bridge.app import create_app

    server = MariaDBServer()
    url = server.create_database("fb_opsinproc")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="fb-ops-inproc-")
    try:
        engine = make_engine(url)
        schema.init_database(engine)
        engine.dispose()
        apps = {}
        for name, switch in (("metrics on", "1"), ("metrics off", "0")):
            os.environ["FUSION_BRIDGE_METRICS"] = switch
            apps[name] = create_app({"DATABASE_URL": url})
        os.environ.pop("FUSION_BRIDGE_METRICS")
        bodies = [zlib.compress(PROLOG % (b"opsinproc%05d-2026-11-25-10-00-00" % i)) for i in range(args.agents)]
        for body in bodies:
            call(apps["metrics on"], body)  # register the agents
        per_batch: dict[str, list[float]] = {name: [] for name in apps}
        for batch in range(args.batches):
            for name in (list(apps) if batch % 2 == 0 else list(apps)[::-1]):
                started = cpu_now()
                for i in range(args.batch_size):
                    call(apps[name], bodies[i % len(bodies)])
                per_batch[name].append((cpu_now() - started) / args.batch_size * 1e6)
        for app in apps.values():
            app.extensions["fusion_bridge"].dispose()
        return per_batch
    finally:
        server.drop_database(url)
        server.stop()


def serve_bench(args) -> None:
    from tests.helpers.mariadb import MariaDBServer

    mariadb = MariaDBServer()
    database_url = mariadb.create_database("fb_opsbench")
    base_env = {**os.environ, "FUSION_BRIDGE_DATABASE_URL": database_url}
    base_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    workdir = Path(tempfile.mkdtemp(prefix="fb-opsbench-"))
    bodies_file = workdir / "prologs.bin"
    bodies = write_bodies(bodies_file, args.agents)
    servers = {"metrics-on": (ROOT, {"FUSION_BRIDGE_METRICS": "1"}),
               "metrics-off": (ROOT, {"FUSION_BRIDGE_METRICS": "0"})}
    if args.baseline:
        servers = {"baseline": (Path(args.baseline).resolve(), {}), **servers}
    ports = {name: free_port() for name in servers}
    subprocess.run([sys.executable, "-m", "fusion_bridge", "db", "init"], cwd=ROOT,
                   env={**base_env, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True)
    processes = {}
    results: dict[str, dict[int, list[dict]]] = {name: {level: [] for level in args.levels} for name in servers}
    try:
        for name, (checkout, extra) in servers.items():
            env = {**base_env, **extra, "PYTHONPATH": str(checkout)}
            command = [sys.executable, "-m", "fusion_bridge", "serve", "--bind", f"127.0.0.1:{ports[name]}",
                       "--workers", str(args.workers)]
            processes[name] = start(command, ports[name], env)
        register_agents(ports[next(iter(servers))], bodies)
        order = list(servers)
        for repeat in range(args.repeats):
            for level in args.levels:
                # Alternate which server goes first, so that drift does not favour one.
                for name in (order if repeat % 2 == 0 else order[::-1]):
                    result = measured_run(lambda seconds: run_wrk(ports[name], level, seconds, bodies_file),
                                          args.duration, processes[name])
                    results[name][level].append(result)
                    print(f"repeat {repeat + 1} c={level:<3d} {name:12s} {result['rps']:7.0f} req/s  "
                          f"p99 {result['p99_us'] / 1000:5.1f} ms  CPU µs/req server {result['server_cpu_us']:4.0f}  "
                          f"errors {result['errors']}",
                          flush=True)
    finally:
        shut_down(processes.values(), mariadb, database_url)
    print()
    print(f"| concurrency | server | req/s (median of {args.repeats}) [min-max] | p99 ms "
          "| server CPU µs/req (median) | req/s vs metrics off | CPU vs metrics off |")
    print("|---|---|---|---|---|---|---|")
    for level in args.levels:
        rps = {n: statistics.median(r["rps"] for r in results[n][level]) for n in servers}
        cpu = {n: statistics.median(r["server_cpu_us"] for r in results[n][level]) for n in servers}
        for name in servers:
            runs = results[name][level]
            p99 = statistics.median(r["p99_us"] for r in runs) / 1000
            low, high = min(r["rps"] for r in runs), max(r["rps"] for r in runs)
            print(f"| {level} | {name} | {rps[name]:.0f} [{low:.0f}-{high:.0f}] | {p99:.1f} | {cpu[name]:.0f} "
                  f"| {rps[name] / rps['metrics-off']:.1%} | {cpu[name] / cpu['metrics-off']:.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--micro-only", action="store_true")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--levels", default="1,8", type=lambda text: [int(x) for x in text.split(",")])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2 * os.cpu_count() + 1)
    parser.add_argument("--batches", type=int, default=20, help="in-process batches per setting (0: none)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--baseline", help="another checkout to serve as well (e.g. without the ops layer)")
    args = parser.parse_args()
    best = micro()
    print("in-process, µs per request (best of 7 rounds of 20,000):")
    for name, value in best.items():
        print(f"  {name:12s} {value:6.2f}" + (f"  (+{value - best['bare']:.2f})" if name != "bare" else ""))
    if args.micro_only:
        return
    if args.batches:
        per_batch = inproc(args)
        on, off = (statistics.median(per_batch[name]) for name in ("metrics on", "metrics off"))
        print(f"in-process PROLOG with MariaDB, CPU µs per request (median of {args.batches} alternating "
              f"batches of {args.batch_size}): metrics on {on:.0f}, off {off:.0f}: {on / off:.1%}")
        print("  on:  " + " ".join(f"{v:.0f}" for v in per_batch["metrics on"]))
        print("  off: " + " ".join(f"{v:.0f}" for v in per_batch["metrics off"]))
    if args.repeats:
        serve_bench(args)


if __name__ == "__main__":
    main()
