"""One log line per kind of failure and interval, with a count of those left out (issue 10, item 9)."""

from __future__ import annotations

import logging

from fusion_bridge.throttled_log import ThrottledLog


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_one_line_per_kind_and_interval_then_the_count(caplog):
    clock = Clock()
    throttle = ThrottledLog(interval=10, clock=clock)
    logger = logging.getLogger("test.throttle")
    with caplog.at_level(logging.INFO, logger="test.throttle"):
        logged = [throttle.log(logger, logging.ERROR, "deadlock", "failed: %s", "deadlock") for _ in range(1000)]
        throttle.log(logger, logging.ERROR, "unreachable", "failed: %s", "unreachable")
        clock.now += 10
        throttle.log(logger, logging.ERROR, "deadlock", "failed: %s", "deadlock")
        throttle.log(logger, logging.ERROR, "deadlock", "failed: %s", "deadlock")
    assert logged.count(True) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "failed: deadlock", "failed: unreachable", "failed: deadlock (and 999 more like it in the last 10 s)"]


def test_interval_zero_logs_every_line(caplog):
    throttle = ThrottledLog(interval=0, clock=Clock())
    logger = logging.getLogger("test.throttle")
    with caplog.at_level(logging.INFO, logger="test.throttle"):
        for _ in range(3):
            throttle.log(logger, logging.WARNING, "refused", "refused")
    assert len(caplog.records) == 3


def test_many_kinds_do_not_grow_memory():
    clock = Clock()
    throttle = ThrottledLog(interval=10, clock=clock)
    logger = logging.getLogger("test.throttle.quiet")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for kind in range(5 * ThrottledLog.MAX_KINDS):
        throttle.log(logger, logging.INFO, kind, "x")
    assert len(throttle._kinds) <= ThrottledLog.MAX_KINDS
