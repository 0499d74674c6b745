"""Preparation of a 10,000-agent pool splitting a /16 range, on MariaDB.

One networkdiscovery job on 10.50.0.0-10.50.255.255 (65,536 addresses) with a dynamic pool
(``--pool module``: every agent allowed to run NETWORKDISCOVERY; ``subnet``: every agent whose
last contact address is in the range) and balancing on: the first pass cuts the range into
10,000 slices of 6 or 7 addresses, one run per agent. The second pass must create nothing
(every slice is live). Then ``--fail`` slices fail and a third pass re-prepares them on other
agents of the pool.

Rows go in with bulk inserts; the passes are timed. Runs on a fresh database of the test
MariaDB (127.0.0.1:3306 root, or FUSION_BRIDGE_TEST_MYSQL_URL), dropped at the end.

Usage: python bench/pool.py [--agents 10000] [--pool module|subnet] [--fail 100] [--sqlite]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, update  # noqa: E402

import schema  # noqa: E402
from bench.databases import on_each_database  # noqa: E402
from fusion_bridge.adapters.db import make_engine  # noqa: E402
from fusion_bridge.services.scheduling.preparation import prepare_runs  # noqa: E402
from fusion_bridge.services.admin.task_settings import set_job_settings  # noqa: E402
from schema.constants import ItemType, Method, Module, TaskjobState as State  # noqa: E402

RANGE = ("10.50.0.0", "10.50.255.255")


def populate(engine, agents: int, pool: str) -> int:
    """Agents (seen at spread dates, with a contact address in the range), the range, the task
    and its pooled, balanced job; returns the job id."""
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as conn:
        conn.execute(insert(schema.agents), [
            {"name": f"pool{i:05d}", "device_id": f"pool{i:05d}-2026-11-25-10-00-00", "entities_id": 0,
             "last_contact": now - timedelta(seconds=i)} for i in range(agents)])
        agent_ids = list(conn.execute(select(schema.agents.c.id).order_by(schema.agents.c.id)).scalars())
        conn.execute(insert(schema.bridge_agentaddresses), [
            {"plugin_fusioninventory_agents_id": a, "address": f"10.50.{i // 250}.{i % 250 + 1}", "date": now}
            for i, a in enumerate(agent_ids)])
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == Module.NETWORK_DISCOVERY)
                     .values(is_active=1, exceptions="[]"))
        rng = conn.execute(insert(schema.ipranges).values(name="campus /16", entities_id=0, ip_start=RANGE[0],
                                                          ip_end=RANGE[1])).inserted_primary_key[0]
        task = conn.execute(insert(schema.tasks).values(name="bench pool", is_active=1, entities_id=0,
                                                        reprepare_if_successful=1)).inserted_primary_key[0]
        job = conn.execute(insert(schema.taskjobs).values(
            plugin_fusioninventory_tasks_id=task, name="discover", method=Method.NETWORK_DISCOVERY,
            targets=json.dumps([{ItemType.IP_RANGE: str(rng)}]), actors="[]")).inserted_primary_key[0]
    set_job_settings(engine, job, {"pool": pool, "balance": 1, "slice_retries": 2})
    return job


def timed_pass(engine, label: str) -> None:
    started = time.perf_counter()
    report = prepare_runs(engine, datetime.now())
    elapsed = time.perf_counter() - started
    assert not report.errors and not any(t.error for t in report.tasks.values()), report.lines()
    rate = f", {report.prepared / elapsed:,.0f} runs/s" if report.prepared else ""
    print(f"{label}: {report.prepared:,} run(s) prepared, {report.skipped:,} live, {elapsed:.2f} s{rate}")


def run(url: str, agents: int, pool: str, failures: int) -> None:
    engine = make_engine(url)
    try:
        schema.init_database(engine)
        started = time.perf_counter()
        job = populate(engine, agents, pool)
        print(f"setup: {agents:,} agents, pool={pool}, one /16 range ({time.perf_counter() - started:.1f} s)")
        timed_pass(engine, "first pass (split)")
        timed_pass(engine, "second pass (idempotent)")
        runs = schema.taskjobstates
        with engine.begin() as conn:
            victims = list(conn.execute(select(runs.c.id).where(runs.c.plugin_fusioninventory_taskjobs_id == job)
                                        .order_by(runs.c.id).limit(failures)).scalars())
            conn.execute(update(runs).where(runs.c.id.in_(victims)).values(state=int(State.IN_ERROR)))
        timed_pass(engine, f"third pass ({len(victims)} failed slices re-run)")
        with engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(runs)).scalar()
        print(f"rows: {total:,} runs")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--pool", choices=["module", "subnet"], default="module")
    parser.add_argument("--fail", type=int, default=100, help="slices failed before the third pass")
    parser.add_argument("--sqlite", action="store_true", help="also run it on an SQLite file")
    args = parser.parse_args()

    on_each_database(lambda url: run(url, args.agents, args.pool, args.fail), "fb_bench_pool", args.sqlite)


if __name__ == "__main__":
    main()
