"""serve's supervision of its scheduler child (fusion_bridge/supervision.py), with real child
processes: a dead child is logged and started again, sooner after a long life than in a crash
loop, and never again once stopped."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time

from fusion_bridge.scheduler import SchedulerProcess
from fusion_bridge.supervision import SupervisedChild


def python_child(code: str) -> SchedulerProcess:
    return SchedulerProcess(subprocess.Popen([sys.executable, "-c", code]), os.getpid())


def supervise(child: SupervisedChild, until, timeout: float = 20) -> None:
    """What the arbiter does once a loop, quicker."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the supervised child did not get there in time"
        child.reap()
        child.tend()
        time.sleep(0.01)


def logged_delays(caplog) -> list[float]:
    return [float(m.group(1)) for r in caplog.records
            if (m := re.search(r"starting a new one in ([0-9.]+) s", r.getMessage()))]


def test_restarts_back_off_in_a_crash_loop_and_reset_after_a_stable_run(caplog):
    caplog.set_level(logging.INFO, logger="fusion_bridge.serve")
    # Five children that fail at once, one that lives past `stable_after`, then failing again.
    codes = ["import sys; sys.exit(3)"] * 5 + ["import time; time.sleep(0.6)"] + ["import sys; sys.exit(3)"] * 2
    child = SupervisedChild("test child", lambda: python_child(codes[child.starts]), first_delay=0.05,
                            max_delay=0.4, stable_after=0.5)
    supervise(child, lambda: child.starts == len(codes) and child.process is None)
    assert logged_delays(caplog) == [0.05, 0.1, 0.2, 0.4, 0.4, 0.05, 0.1, 0.2]
    messages = [r.getMessage() for r in caplog.records]
    assert re.match(r"test child started \(pid \d+\)$", messages[0])
    assert re.match(r"test child \(pid \d+\) exited with status 3 after 0 s; starting a new one in 0.05 s$",
                    messages[1])
    assert sum(bool(re.match(r"test child restarted \(pid \d+\)$", m)) for m in messages) == len(codes) - 1


def test_a_killed_child_is_named_by_its_signal_and_a_stopped_one_stays_stopped(caplog):
    caplog.set_level(logging.INFO, logger="fusion_bridge.serve")
    child = SupervisedChild("test child", lambda: python_child("import time; time.sleep(60)"), first_delay=0.05)
    supervise(child, lambda: child.process is not None)
    first = child.process.popen
    first.kill()
    supervise(child, lambda: child.process is not None and child.process.popen is not first)
    assert any(f"test child (pid {first.pid}) was killed by SIGKILL" in r.getMessage() for r in caplog.records)
    second = child.process.popen
    child.stop()
    assert second.poll() is not None  # stopped, not left behind
    for _ in range(20):
        child.reap()
        child.tend()
        time.sleep(0.01)
    assert child.process is None and child.starts == 2
