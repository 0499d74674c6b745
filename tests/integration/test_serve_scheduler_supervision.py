"""``fusion-bridge serve`` keeps its scheduler child running: ``kill -9`` of the child is logged
and a new one runs within 10 s (before, it was never restarted and nothing was logged, so
preparation, time-outs, retention and push stopped while agents were still answered)."""

from __future__ import annotations

import os
import re
import signal
import time

from tests.helpers.serve_process import running_serve

SCHEDULER = "fusion_bridge prepare"
RESTART_WITHIN = 10


def wait_for(condition, seconds: float, what: str, serve):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} not within {seconds} s:\n{serve.log_tail()}"
        time.sleep(0.1)
    return found


def test_killed_scheduler_child_is_restarted_and_logged(tmp_path):
    with running_serve(tmp_path) as serve:
        [first] = wait_for(lambda: serve.children(SCHEDULER), 30, "the scheduler child", serve)
        wait_for(lambda: "scheduler: a pass every" in serve.log_text(), 30, "the scheduler's start", serve)
        os.kill(first, signal.SIGKILL)
        killed = time.monotonic()
        [second] = wait_for(lambda: [pid for pid in serve.children(SCHEDULER) if pid != first],
                            RESTART_WITHIN, "a new scheduler child", serve)
        assert time.monotonic() - killed < RESTART_WITHIN
        log = wait_for(lambda: (text := serve.log_text()).count("scheduler: a pass every") >= 2 and text, 30,
                       "the new scheduler's first pass", serve)
        assert re.search(rf"ERROR fusion_bridge.serve: scheduler \(pid {first}\) was killed by SIGKILL after "
                         r"\d+ s; starting a new one in 1 s", log), serve.log_tail()
        assert f"WARNING fusion_bridge.serve: scheduler restarted (pid {second})" in log, serve.log_tail()
    # Stopping serve stops the child too.
    assert not os.path.exists(f"/proc/{second}") or "Z" in open(f"/proc/{second}/stat").read().split()[2]
