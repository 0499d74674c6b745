"""PROLOG throughput of `fusion-bridge serve` on MariaDB, next to bare gunicorn (the ceiling).

Each level runs wrk with N connections posting zlib PROLOGs of many distinct device ids
(the real agent's request layout), against:
  bare-wsgi   gunicorn, raw WSGI callable answering a constant body
  bare-flask  gunicorn, Flask view answering a constant body
  bridge      fusion-bridge serve on a fresh MariaDB database (agents already known)
Levels and servers are interleaved so drift hits every one alike; the median of the
repeats is reported. All traffic stays on 127.0.0.1.

Usage: python bench/prolog.py [--agents 1000] [--duration 10] [--levels 1,8,32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.mariadb import MariaDBServer  # noqa: E402

TEMPLATE = ROOT / "fixtures" / "cases" / "prolog_zlib_send" / "01-PROLOG" / "request.xml"
FALLBACK_TEMPLATE = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>@@DEVICEID@@</DEVICEID>\n'
                     b"  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n")


def prolog_template() -> bytes:
    if TEMPLATE.exists():
        xml = TEMPLATE.read_bytes()
        start, end = xml.index(b"<DEVICEID>") + 10, xml.index(b"</DEVICEID>")
        return xml[:start] + b"@@DEVICEID@@" + xml[end:]
    return FALLBACK_TEMPLATE


def write_bodies(path: Path, count: int) -> list[bytes]:
    template = prolog_template()
    bodies = [zlib.compress(template.replace(b"@@DEVICEID@@", b"bench%05d-2026-11-25-10-00-00" % i)) for i in range(count)]
    with path.open("wb") as out:
        for body in bodies:
            out.write(b"%08d" % len(body) + body)
    return bodies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


def start(command: list[str], port: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    wait_for(port, process)
    return process


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def shut_down(processes: Iterable[subprocess.Popen], mariadb: MariaDBServer, database_url: str) -> None:
    """Stop the servers, drop the bench's database and stop the MariaDB server."""
    for process in processes:
        stop(process)
    mariadb.drop_database(database_url)
    mariadb.stop()


def cpu_seconds(group: int | None = None, name: str | None = None) -> float:
    """CPU time of the processes in process group ``group`` (or named ``name``)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        command, _, rest = text.rpartition(")")
        fields = rest.split()
        if (group is not None and int(fields[2]) == group) or (name is not None and command.endswith("(" + name)):
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def wrk_json(port: int, connections: int, duration: int, script: str, path: str, env: dict) -> dict:
    """One wrk run with a script of bench/ that prints its summary as JSON on its last line, with
    ``rps`` and ``errors`` (of all kinds) added; ``env`` adds to this process's environment (the
    script's inputs)."""
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
         "-s", str(ROOT / "bench" / script), f"http://127.0.0.1:{port}{path}"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = result["status_errors"] + result["read_errors"] + result["connect_errors"]
    return result


def run_wrk(port: int, connections: int, duration: int, bodies_file: Path, random_start: bool = True) -> dict:
    return wrk_json(port, connections, duration, "wrk_post.lua", "/plugins/fusioninventory/",
                    {"BODIES_FILE": str(bodies_file), "RANDOM_START": "1" if random_start else "0"})


def measured_run(run: Callable[[int], dict], duration: int, process: subprocess.Popen, warm_up: int = 2) -> dict:
    """``run(seconds)`` for ``warm_up`` seconds (not recorded; 0: none, when a run uses up what it
    sends, such as first contacts), then for ``duration`` with the CPU time per request of
    ``process``'s group (``server_cpu_us``) and of MariaDB (``db_cpu_us``)."""
    if warm_up:
        run(warm_up)
    server_cpu, db_cpu = cpu_seconds(group=process.pid), cpu_seconds(name="mariadbd")
    result = run(duration)
    requests = max(result["requests"], 1)
    result["server_cpu_us"] = (cpu_seconds(group=process.pid) - server_cpu) / requests * 1e6
    result["db_cpu_us"] = (cpu_seconds(name="mariadbd") - db_cpu) / requests * 1e6
    return result


def register_agents(port: int, bodies: list[bytes]) -> None:
    for body in bodies:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/plugins/fusioninventory/", data=body,
                                         headers={"Content-Type": "application/x-compress-zlib"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 200 and response.read()[:2] == b"\x78\x9c"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--levels", default="1,8,32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2 * os.cpu_count() + 1)
    parser.add_argument("--output", type=Path, help="write the raw results as JSON here")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    mariadb = MariaDBServer()
    database_url = mariadb.create_database("fb_bench")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FUSION_BRIDGE_DATABASE_URL": database_url}
    workdir = Path(tempfile.mkdtemp(prefix="fb-bench-"))
    bodies_file = workdir / "prologs.bin"
    bodies = write_bodies(bodies_file, args.agents)
    ports = {name: free_port() for name in ("bare-wsgi", "bare-flask", "bridge")}
    gunicorn = [sys.executable, "-m", "gunicorn", "-k", "sync", "-w", str(args.workers), "--log-level", "warning",
                "--no-control-socket"]
    commands = {
        "bare-wsgi": gunicorn + ["-b", f"127.0.0.1:{ports['bare-wsgi']}", "bench.bare_app:wsgi"],
        "bare-flask": gunicorn + ["-b", f"127.0.0.1:{ports['bare-flask']}", "bench.bare_app:flask_app"],
        "bridge": [sys.executable, "-m", "fusion_bridge", "serve", "--bind", f"127.0.0.1:{ports['bridge']}",
                   "--workers", str(args.workers)],
    }
    subprocess.run([sys.executable, "-m", "fusion_bridge", "db", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    processes = {}
    results: dict[str, dict[int, list[dict]]] = {name: {level: [] for level in levels} for name in commands}
    try:
        for name, command in commands.items():
            processes[name] = start(command, ports[name], env)
        register_agents(ports["bridge"], bodies)
        for repeat in range(args.repeats):
            for level in levels:
                for name in commands:
                    result = measured_run(lambda seconds: run_wrk(ports[name], level, seconds, bodies_file),
                                          args.duration, processes[name])
                    results[name][level].append(result)
                    print(f"repeat {repeat + 1} c={level:<4d} {name:10s} {result['rps']:8.0f} req/s  "
                          f"p50 {result['p50_us'] / 1000:6.1f} ms  p99 {result['p99_us'] / 1000:6.1f} ms  "
                          f"errors {result['errors']}  "
                          f"CPU µs/req server {result['server_cpu_us']:.0f} db {result['db_cpu_us']:.0f}",
                          flush=True)
    finally:
        shut_down(processes.values(), mariadb, database_url)

    print()
    print(f"| concurrency | server | req/s (median of {args.repeats}) [min-max] | p50 ms | p99 ms | "
          "CPU µs/req server / MariaDB | vs bare-wsgi | vs bare-flask |")
    print("|---|---|---|---|---|---|---|---|")
    for level in levels:
        medians = {name: statistics.median(r["rps"] for r in results[name][level]) for name in commands}
        for name in commands:
            runs = results[name][level]
            rps = [r["rps"] for r in runs]
            p50 = statistics.median(r["p50_us"] for r in runs) / 1000
            p99 = statistics.median(r["p99_us"] for r in runs) / 1000
            server_cpu = statistics.median(r["server_cpu_us"] for r in runs)
            db_cpu = statistics.median(r["db_cpu_us"] for r in runs)
            print(f"| {level} | {name} | {medians[name]:.0f} [{min(rps):.0f}-{max(rps):.0f}] | {p50:.1f} | {p99:.1f} "
                  f"| {server_cpu:.0f} / {db_cpu:.0f} "
                  f"| {medians[name] / medians['bare-wsgi']:.0%} | {medians[name] / medians['bare-flask']:.0%} |")
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
