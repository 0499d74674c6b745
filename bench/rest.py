"""REST task traffic of `fusion-bridge serve` on MariaDB, measured with wrk (all on 127.0.0.1).

Two loads, each a few seconds:
  idle     what every agent run costs when there is nothing to do: the three getConfig calls
           (task[Deploy], task[Collect], task[ESX]) and Deploy getJobs, for many distinct
           known agents (one "agent run" = those 4 requests)
  parts    Deploy getFilePart of the parts of one file (random bytes, 1 MiB parts) by the agent
           its deploy job was handed to: ownership check, then the part streamed from disk

Usage: python bench/rest.py [--agents 1000] [--file-mib 16] [--duration 10] [--connections 8]
       [--workers N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

import schema  # noqa: E402
from bench.prolog import free_port, measured_run, shut_down, start, wrk_json  # noqa: E402
from fusion_bridge.adapters.db import make_engine  # noqa: E402
from fusion_bridge.adapters.deploy_repository import FileRepository  # noqa: E402
from fusion_bridge.domain.text import php_json  # noqa: E402
from schema.constants import ItemType, Method, TaskjobState as State  # noqa: E402
from tests.helpers.mariadb import MariaDBServer  # noqa: E402

DEPLOY_AGENT = "bench-deploy-2026-11-25-10-00-00"


def idle_paths(agents: int) -> list[str]:
    paths = []
    for i in range(agents):
        device = f"bench{i:05d}-2026-11-25-10-00-00"
        for task, version in (("Deploy", "2.8"), ("Collect", "2.6"), ("ESX", "2.6")):
            paths.append(f"/plugins/fusioninventory/?action=getConfig&machineid={device}&task%5B{task}%5D={version}")
        paths.append(f"/plugins/fusioninventory/b/deploy/?action=getJobs&machineid={device}&version=2.8")
    return paths


def seed(database_url: str, agents: int, repository: FileRepository, file_mib: int, workdir: Path) -> list[str]:
    """Idle agents, and one agent with a handed-out deploy run of a file; the part paths."""
    engine = make_engine(database_url)
    source = workdir / "payload.bin"
    with source.open("wb") as out:
        for _ in range(file_mib):
            out.write(os.urandom(1024 * 1024))
    stored = repository.add_file(engine, source, "payload.bin")
    package = {"jobs": {"checks": [], "associatedFiles": [stored.sha512], "actions": [], "userinteractions": []},
               "associatedFiles": {stored.sha512: {"name": "payload.bin", "p2p": 0, "p2p-retention-duration": 0,
                                                   "uncompress": 0}}}
    with engine.begin() as conn:
        conn.execute(insert(schema.agents), [
            {"id": i + 1, "name": f"bench{i:05d}", "device_id": f"bench{i:05d}-2026-11-25-10-00-00", "entities_id": 0}
            for i in range(agents)])
        deploy_agent = agents + 1
        conn.execute(insert(schema.agents).values(id=deploy_agent, name="bench-deploy", device_id=DEPLOY_AGENT,
                                                  entities_id=0))
        conn.execute(insert(schema.deploypackages).values(id=1, name="bench", entities_id=0, json=php_json(package)))
        conn.execute(insert(schema.tasks).values(id=1, entities_id=0, name="bench", is_active=1))
        conn.execute(insert(schema.taskjobs).values(
            id=1, plugin_fusioninventory_tasks_id=1, entities_id=0, name="deploy", method=Method.DEPLOY,
            targets='[{"PluginFusioninventoryDeployPackage":"1"}]',
            actors=f'[{{"PluginFusioninventoryAgent":"{deploy_agent}"}}]'))
        conn.execute(insert(schema.taskjobstates).values(
            id=1, plugin_fusioninventory_taskjobs_id=1, items_id=1, itemtype=ItemType.DEPLOY_PACKAGE,
            state=int(State.SERVER_HAS_SENT_DATA), plugin_fusioninventory_agents_id=deploy_agent, uniqid="bench"))
    engine.dispose()
    return [f"/plugins/fusioninventory/b/deploy/?action=getFilePart&machineid={DEPLOY_AGENT}"
            f"&file=/{part[0]}/{part[:2]}/{part}" for part in stored.parts]


def run_wrk(port: int, connections: int, duration: int, paths_file: Path) -> dict:
    return wrk_json(port, connections, duration, "wrk_get.lua", "/", {"PATHS_FILE": str(paths_file)})


def measure(name: str, port: int, process, connections: int, duration: int, paths_file: Path) -> dict:
    result = measured_run(lambda seconds: run_wrk(port, connections, seconds, paths_file), duration, process)
    print(f"{name:6s} c={connections:<3d} {result['rps']:8.0f} req/s  p50 {result['p50_us'] / 1000:6.1f} ms  "
          f"p99 {result['p99_us'] / 1000:6.1f} ms  errors {result['errors']}  CPU µs/req server "
          f"{result['server_cpu_us']:.0f} db {result['db_cpu_us']:.0f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--file-mib", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2 * os.cpu_count() + 1)
    args = parser.parse_args()

    mariadb = MariaDBServer()
    database_url = mariadb.create_database("fb_bench_rest")
    workdir = Path(tempfile.mkdtemp(prefix="fb-bench-rest-"))
    repository = FileRepository(workdir / "repository")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FUSION_BRIDGE_DATABASE_URL": database_url,
           "FUSION_BRIDGE_DEPLOY_REPOSITORY": str(repository.root)}
    subprocess.run([sys.executable, "-m", "fusion_bridge", "db", "init"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    part_paths = seed(database_url, args.agents, repository, args.file_mib, workdir)
    (workdir / "idle.txt").write_text("\n".join(idle_paths(args.agents)) + "\n")
    (workdir / "parts.txt").write_text("\n".join(part_paths) + "\n")
    port = free_port()
    process = None
    try:
        process = start([sys.executable, "-m", "fusion_bridge", "serve", "--bind", f"127.0.0.1:{port}",
                         "--workers", str(args.workers)], port, env)
        idle = measure("idle", port, process, args.connections, args.duration, workdir / "idle.txt")
        parts = measure("parts", port, process, args.connections, args.duration, workdir / "parts.txt")
    finally:
        shut_down([process] if process is not None else [], mariadb, database_url)

    mib = parts["bytes"] / (parts["duration_us"] / 1e6) / (1024 * 1024)
    print()
    print("| load | c | req/s | p50 ms | p99 ms | errors | CPU µs/req server / MariaDB | |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| idle agent run (3 getConfig + getJobs) | {args.connections} | {idle['rps']:.0f} | "
          f"{idle['p50_us'] / 1000:.1f} | {idle['p99_us'] / 1000:.1f} | {idle['errors']} | "
          f"{idle['server_cpu_us']:.0f} / {idle['db_cpu_us']:.0f} | {idle['rps'] / 4:.0f} agent runs/s |")
    print(f"| getFilePart (1 MiB parts) | {args.connections} | {parts['rps']:.0f} | {parts['p50_us'] / 1000:.1f} | "
          f"{parts['p99_us'] / 1000:.1f} | {parts['errors']} | {parts['server_cpu_us']:.0f} / "
          f"{parts['db_cpu_us']:.0f} | {mib:.0f} MiB/s |")


if __name__ == "__main__":
    main()
