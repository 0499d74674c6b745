"""Wake-up throughput: N simulated agents on loopback listeners, probed (/status) and woken (/now).

Usage: python bench/wakeup.py [--agents 10000] [--concurrency 50] [--ports 20] [--delay 0]
                              [--database URL]
The agents' HTTP servers are emulated (tests/test_wakeup.py AgentEmulator: one selector loop
over ``--ports`` listening sockets, answering after ``--delay`` seconds) in a separate process,
so the emulator does not share the interpreter lock with the wake-up. Without --database an
SQLite file in a temporary folder holds the agents, their addresses and the wake-up history.
Prints agents per second (probe + wake + recording) and the largest number of connections in
flight, as counted by wake_agents and by the listeners.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import schema  # noqa: E402
from fusion_bridge.db import make_engine  # noqa: E402
from fusion_bridge.services.wakeup import wake_agents  # noqa: E402
from tests.test_wakeup import AgentEmulator, Behaviour, add_agents_with_addresses  # noqa: E402


def emulate(ports: int, delay: float, pipe) -> None:
    with AgentEmulator(ports=ports, behaviour=Behaviour(delay=delay)) as emulator:
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
    parser.add_argument("--database")
    args = parser.parse_args()
    tmp = None
    url = args.database
    if url is None:
        tmp = tempfile.TemporaryDirectory(prefix="fb-wakeup-bench-")
        url = f"sqlite:///{tmp.name}/bench.sqlite"
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    emulator = multiprocessing.get_context("fork").Process(target=emulate,
                                                           args=(args.ports, args.delay, theirs))
    emulator.start()
    try:
        ports = ours.recv()
        engine = make_engine(url)
        schema.init_database(engine)
        add_agents_with_addresses(engine, {i: ("127.0.0.1", ports[i % len(ports)])
                                           for i in range(1, args.agents + 1)})
        report = wake_agents(engine, range(1, args.agents + 1), concurrency=args.concurrency)
        ours.send("done")
        seen = ours.recv()
        engine.dispose()
    finally:
        emulator.join(10)
        if emulator.is_alive():
            emulator.terminate()
        if tmp is not None:
            tmp.cleanup()
    counts = report.counts()
    assert counts["woken"] == args.agents, counts
    assert seen["status"] == seen["now"] == args.agents, seen
    print(f"{args.agents} agents probed and woken in {report.elapsed:.2f} s: "
          f"{args.agents / report.elapsed:.0f} agents/s (2 requests each, history recorded) with concurrency "
          f"{args.concurrency}; max in flight {report.max_in_flight} (client), "
          f"{seen['max_open']} (listeners); "
          f"{len(ports)} listener ports, answer delay {args.delay:g} s, {make_engine(url).dialect.name}")


if __name__ == "__main__":
    main()
