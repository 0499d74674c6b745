"""The scheduler's heartbeat as /readyz reads it: gone, frozen, stuck in a pass, or fine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from fusion_bridge.ops.health import HEARTBEAT_FILE, SERVE_FILE, Heartbeat, Readiness, read_heartbeat

STALE = 1800


def write(run_dir, pid: int, state: str, since: float, touched: float) -> None:
    path = run_dir / HEARTBEAT_FILE
    path.write_text(json.dumps({"pid": pid, "state": state, "since": since}))
    os.utime(path, (touched, touched))


def test_what_the_heartbeat_says(tmp_path):
    now = time.time()
    assert read_heartbeat(tmp_path, now, STALE) == {"ok": None, "problem": "no heartbeat yet"}
    write(tmp_path, os.getpid(), "waiting", now - 5000, now - 3)  # waiting long between passes: fine
    assert read_heartbeat(tmp_path, now, STALE)["ok"] is True
    write(tmp_path, os.getpid(), "pass", now - 600, now - 3)  # a long push: fine
    assert read_heartbeat(tmp_path, now, STALE)["ok"] is True
    write(tmp_path, os.getpid(), "pass", now - STALE - 1, now - 3)
    stuck = read_heartbeat(tmp_path, now, STALE)
    assert stuck["ok"] is False and stuck["problem"].startswith("a scheduler pass has been running for 1801 s")
    write(tmp_path, os.getpid(), "waiting", now - 100, now - 90)
    frozen = read_heartbeat(tmp_path, now, STALE)
    assert frozen["ok"] is False and "stopped or frozen" in frozen["problem"]
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    write(tmp_path, int(ended.stdout), "waiting", now - 1, now - 1)
    assert read_heartbeat(tmp_path, now, STALE)["problem"] == f"scheduler process {int(ended.stdout)} is gone"
    (tmp_path / HEARTBEAT_FILE).write_text("{not json")
    assert read_heartbeat(tmp_path, now, STALE)["ok"] is False


def test_the_writer_rewrites_on_a_new_state_and_ticks_in_between(tmp_path, monkeypatch):
    monkeypatch.setattr(Heartbeat, "TICK", 0.05)
    heartbeat = Heartbeat(tmp_path / HEARTBEAT_FILE)
    heartbeat.beat("pass")
    first = json.loads((tmp_path / HEARTBEAT_FILE).read_text())
    assert first["pid"] == os.getpid() and first["state"] == "pass"
    heartbeat.beat("pass")  # the same state: the file is not rewritten
    assert json.loads((tmp_path / HEARTBEAT_FILE).read_text())["since"] == first["since"]
    os.utime(tmp_path / HEARTBEAT_FILE, (1, 1))
    heartbeat.start_ticking()
    try:
        deadline = time.monotonic() + 5
        while (tmp_path / HEARTBEAT_FILE).stat().st_mtime < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        heartbeat.stop_ticking()
    assert (tmp_path / HEARTBEAT_FILE).stat().st_mtime > time.time() - 5
    heartbeat.beat("waiting")
    assert json.loads((tmp_path / HEARTBEAT_FILE).read_text())["state"] == "waiting"


class NoServices:
    autocommit_engine = engine = None


def test_a_scheduler_that_never_beats_is_a_problem_after_the_grace_period(tmp_path):
    started = time.time()
    (tmp_path / SERVE_FILE).write_text(json.dumps({"pid": os.getpid(), "started": started, "scheduler": True}))
    clock = [started + 30]
    readiness = Readiness(NoServices(), STALE, environ={"FUSION_BRIDGE_RUN_DIR": str(tmp_path)},
                          clock=lambda: clock[0])
    assert readiness._scheduler()["ok"] is None
    clock[0] = started + 121
    assert readiness._scheduler() == {"ok": False, "problem": "no heartbeat since serve started 121 s ago"}
