"""Task preparation on MariaDB: 20,000 agents x 5 IP ranges = 100,000 runs in one pass.

The plugin prepares at most 500 runs per one-minute cron pass, so it needs 200 minutes for
this; the aim here is one pass under 10 s. A second pass over the same task must create
nothing (every (job, target, agent) already has its live run) and be quick.

The 20,000 agents are the job's actors through a deploy group of their 20,000 computers
(``--actors static``, the default, or ``dynamic`` through the group's ``computers_id_cache``).
They cannot be listed one by one: ``taskjobs.actors`` is a TEXT column (64 KiB), which holds
about 1,700 ``{"PluginFusioninventoryAgent":"12345"}`` entries (``--actors agents`` uses as
many as fit).

Runs on a fresh database of the test MariaDB (127.0.0.1:3306 root, or
FUSION_BRIDGE_TEST_MYSQL_URL), dropped at the end.

Usage: python bench/prepare.py [--agents 20000] [--targets 5] [--actors static|dynamic|agents] [--sqlite]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

import schema  # noqa: E402
from bench.databases import on_each_database  # noqa: E402
from fusion_bridge.adapters.db import make_engine  # noqa: E402
from fusion_bridge.services.scheduling.preparation import prepare_runs  # noqa: E402
from schema.constants import ItemType, Method  # noqa: E402
from schema.plugin_deploy import (  # noqa: E402
    deploygroups,
    deploygroups_dynamicdatas,
    deploygroups_staticdatas,
)

TEXT_BYTES = 65_535


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def populate(engine, agents: int, targets: int, actors: str) -> int:
    """The agents (each with its computer), the IP ranges and the task; returns the number of
    agents the job's actors stand for."""
    with engine.begin() as conn:
        computers = schema.glpi_computers
        conn.execute(insert(computers), [{"name": f"pc{i:05d}", "entities_id": 0} for i in range(agents)])
        computer_ids = list(conn.execute(select(computers.c.id).order_by(computers.c.id)).scalars())
        conn.execute(insert(schema.agents), [
            {"name": f"bench{i:05d}", "device_id": f"bench{i:05d}-2026-11-25-10-00-00", "entities_id": 0,
             "computers_id": computer_id}
            for i, computer_id in enumerate(computer_ids)
        ])
        agent_ids = list(conn.execute(select(schema.agents.c.id).order_by(schema.agents.c.id)).scalars())
        range_ids = [
            conn.execute(insert(schema.ipranges).values(name=f"lan{i}", entities_id=0, ip_start=f"10.{i}.0.1",
                                                        ip_end=f"10.{i}.0.254")).inserted_primary_key[0]
            for i in range(targets)
        ]
        if actors == "agents":
            listed = [{ItemType.AGENT: str(a)} for a in agent_ids]
            while len(compact(listed).encode()) > TEXT_BYTES:
                listed = listed[:len(listed) * 9 // 10]
            actor_json, actor_count = compact(listed), len(listed)
        else:
            group = conn.execute(insert(deploygroups).values(name="all bench computers", type=actors.upper())
                                 ).inserted_primary_key[0]
            if actors == "static":
                conn.execute(insert(deploygroups_staticdatas), [
                    {"plugin_fusioninventory_deploygroups_id": group, "itemtype": "Computer", "items_id": c}
                    for c in computer_ids])
            else:
                conn.execute(insert(deploygroups_dynamicdatas).values(
                    plugin_fusioninventory_deploygroups_id=group, fields_array="a:0:{}", can_update_group=1,
                    computers_id_cache=compact({str(c): str(c) for c in computer_ids})))
            actor_json, actor_count = compact([{ItemType.DEPLOY_GROUP: str(group)}]), agents
        task = conn.execute(insert(schema.tasks).values(name="bench discovery", is_active=1, entities_id=0,
                                                        reprepare_if_successful=1)).inserted_primary_key[0]
        conn.execute(insert(schema.taskjobs).values(
            plugin_fusioninventory_tasks_id=task, name="discover", method=Method.NETWORK_DISCOVERY,
            targets=compact([{ItemType.IP_RANGE: str(r)} for r in range_ids]), actors=actor_json,
        ))
    return actor_count


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def run(url: str, agents: int, targets: int, actors: str) -> None:
    engine = make_engine(url)
    try:
        schema.init_database(engine)
        started = time.perf_counter()
        actor_count = populate(engine, agents, targets, actors)
        print(f"setup: {agents:,} agents; one networkdiscovery job, {targets} IP ranges, actors: "
              f"{actor_count:,} agents as {actors} ({time.perf_counter() - started:.1f} s)")
        for label in ("first pass", "second pass"):
            started = time.perf_counter()
            report = prepare_runs(engine, datetime.now())
            elapsed = time.perf_counter() - started
            rate = f", {report.prepared / elapsed:,.0f} runs/s" if report.prepared else ""
            print(f"{label}: {report.prepared:,} run(s) prepared, {report.skipped:,} already live, "
                  f"{elapsed:.2f} s{rate}")
        runs, logs = count(engine, schema.taskjobstates), count(engine, schema.taskjoblogs)
        print(f"rows: {runs:,} runs, {logs:,} logs")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=20_000)
    parser.add_argument("--targets", type=int, default=5)
    parser.add_argument("--actors", choices=["static", "dynamic", "agents"], default="static",
                        help="the job's actors: a static or dynamic deploy group, or agents one by one")
    parser.add_argument("--sqlite", action="store_true", help="also run it on an SQLite file")
    args = parser.parse_args()

    on_each_database(lambda url: run(url, args.agents, args.targets, args.actors), "fb_bench_prepare", args.sqlite)


if __name__ == "__main__":
    main()
