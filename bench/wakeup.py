"""Wake-up throughput: N simulated agents on loopback listeners, probed (/status) and woken (/now).

Usage: python bench/wakeup.py [--agents 10000] [--concurrency 50] [--ports 20] [--delay 0]
                              [--busy] [--push] [--database URL]
The agents' HTTP servers are emulated (tests/helpers/agent_emulator.py AgentEmulator: one selector loop
over ``--ports`` listening sockets, answering after ``--delay`` seconds) in a separate process,
so the emulator does not share the interpreter lock with the wake-up. Without --database an
SQLite file in a temporary folder holds the agents, their addresses and the wake-up history.
Prints agents probed (/status) and woken (/now) per second (recording included) and the largest
number of connections in flight, as counted by wake_agents and by the listeners. ``--busy``:
every agent answers ``running task``, so only probes are made. ``--push``: the agents get one
Prepared run each of a push task, and one ``push_pass`` claims, wakes and records them all
(with the runs' history lines and ``pushed_at``).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
import multiprocessing
import sys
import tempfile
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import schema  # noqa: E402
from fusion_bridge.adapters.db import make_engine  # noqa: E402
from fusion_bridge.services.push.push_pass import push_pass  # noqa: E402
from fusion_bridge.services.push.wakeup import WakeReport, wake_agents  # noqa: E402
from tests.helpers.agent_emulator import AgentEmulator, Behaviour  # noqa: E402
from tests.helpers.inventory_rows import add_agents_with_addresses  # noqa: E402


def emulate(ports: int, delay: float, status: str, pipe) -> None:
    with AgentEmulator(ports=ports, behaviour=Behaviour(status=status, delay=delay)) as emulator:
        pipe.send(emulator.ports)
        pipe.recv()  # until the wake-up is over
        pipe.send({"max_open": emulator.max_open, "status": emulator.count("/status"),
                   "now": emulator.count("/now")})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--ports", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each answer waits")
    parser.add_argument("--busy", action="store_true", help="agents answer 'running task': probes only")
    parser.add_argument("--push", action="store_true", help="through push_pass, one run per agent")
    parser.add_argument("--database")
    args = parser.parse_args()
    tmp = None
    url = args.database
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="fb-wakeup-bench-")
        url = f"sqlite:///{tmp.name}/bench.sqlite"
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    emulator = multiprocessing.get_context("fork").Process(target=emulate,
                                                           args=(args.ports, args.delay,
                                                                 "running task X" if args.busy else "waiting",
                                                                 theirs))
    emulator.start()
    try:
        ports = ours.recv()
        engine = make_engine(url)
        schema.init_database(engine)
        add_agents_with_addresses(engine, {i: ("127.0.0.1", ports[i % len(ports)])
                                           for i in range(1, args.agents + 1)})
        if args.push:
            add_push_runs(engine, args.agents)
            pushed = push_pass(engine, concurrency=args.concurrency)
            report = WakeReport(elapsed=pushed.seconds, max_in_flight=pushed.max_in_flight)
            counts = pushed.outcomes
        else:
            report = wake_agents(engine, range(1, args.agents + 1), concurrency=args.concurrency)
            counts = report.counts()
        ours.send("done")
        seen = ours.recv()
        engine.dispose()
    finally:
        emulator.join(10)
        if emulator.is_alive():
            emulator.terminate()
        if tmp is not None:
            tmp.cleanup()
    expected = "busy" if args.busy else "woken"
    assert counts[expected] == args.agents, counts
    assert seen["status"] == args.agents and seen["now"] == (0 if args.busy else args.agents), seen
    woken = counts["woken"]
    print(f"{'push_pass' if args.push else 'wake_agents'}: {args.agents} agents probed, {woken} woken in "
          f"{report.elapsed:.2f} s: {args.agents / report.elapsed:.0f} probed/s, "
          f"{woken / report.elapsed:.0f} woken/s (history recorded) with concurrency "
          f"{args.concurrency}; max in flight {report.max_in_flight} (client), "
          f"{seen['max_open']} (listeners); "
          f"{len(ports)} listener ports, answer delay {args.delay:g} s, {make_engine(url).dialect.name}")


def add_push_runs(engine, agents: int) -> None:
    """One push task (started an hour ago), one Wake-on-LAN job, one Prepared run per agent."""
    started = datetime.now() - timedelta(hours=1)
    with engine.begin() as conn:
        conn.execute(insert(schema.tasks).values(id=1, entities_id=0, name="bench push", is_active=1,
                                                 datetime_start=started))
        conn.execute(insert(schema.bridge_tasks).values(plugin_fusioninventory_tasks_id=1,
                                                        communication="push"))
        conn.execute(insert(schema.taskjobs).values(id=1, plugin_fusioninventory_tasks_id=1, entities_id=0,
                                                    name="wake", method="wakeonlan", targets="[]",
                                                    actors="[]"))
        rows = [{"plugin_fusioninventory_taskjobs_id": 1, "items_id": i, "itemtype": "Computer", "state": 0,
                 "plugin_fusioninventory_agents_id": i, "uniqid": f"bench{i}"} for i in range(1, agents + 1)]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(schema.taskjobstates), rows[start:start + 5000])


if __name__ == "__main__":
    main()
