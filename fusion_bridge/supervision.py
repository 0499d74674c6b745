"""Keeping ``serve``'s scheduler child alive.

The scheduler runs in a child process of ``serve`` (fusion_bridge/scheduler.py). If it dies
(killed, out of memory, a bug) the agents are still answered but nothing is prepared, timed
out, kept or pushed any more, so gunicorn's arbiter, which already watches its workers, watches
it too (``BridgeArbiter``): a dead child is logged with how it ended and started again, after
``first_delay`` seconds, doubling up to ``max_delay`` while it keeps dying within
``stable_after`` seconds of its start (a crash loop must not spin).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Callable, Protocol

from gunicorn.arbiter import Arbiter

log = logging.getLogger("fusion_bridge.serve")


class ChildProcess(Protocol):
    popen: object  # subprocess.Popen

    def stop(self, timeout: float = 10) -> None: ...


class SupervisedChild:
    def __init__(self, name: str, start: Callable[[], ChildProcess], *, first_delay: float = 1.0,
                 max_delay: float = 60.0, stable_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.name = name
        self._start = start
        self._first_delay, self._max_delay, self._stable_after = first_delay, max_delay, stable_after
        self._clock = clock
        self.process: ChildProcess | None = None
        self._started_at = 0.0
        self._delay = 0.0  # the last restart delay (0: none yet)
        self._next_start: float | None = clock()  # None: stopped for good
        self.starts = 0
        self._owner = os.getpid()  # gunicorn's workers are forks of the arbiter, sharing this object

    def tend(self) -> None:
        """Start the child when it is not running and its (re)start is due."""
        if self.process is not None or self._next_start is None or self._clock() < self._next_start:
            return
        try:
            self.process = self._start()
        except OSError:
            log.exception("%s could not be started", self.name)
            self._schedule_restart(ran=0.0)
            return
        self._started_at = self._clock()
        self.starts += 1
        pid = self.process.popen.pid
        if self.starts == 1:
            log.info("%s started (pid %d)", self.name, pid)
        else:
            log.warning("%s restarted (pid %d)", self.name, pid)

    def reap(self) -> None:
        """Collect the child if it ended; log how, and plan its restart."""
        if self.process is None or self.process.popen.poll() is None:
            return
        popen, self.process = self.process.popen, None
        ran = self._clock() - self._started_at
        delay = self._schedule_restart(ran)
        log.error("%s (pid %d) %s after %.0f s; starting a new one in %g s",
                  self.name, popen.pid, _how_it_ended(popen.returncode), ran, delay)

    def _schedule_restart(self, ran: float) -> float:
        if ran >= self._stable_after or not self._delay:
            self._delay = self._first_delay
        else:
            self._delay = min(self._delay * 2, self._max_delay)
        self._next_start = self._clock() + self._delay
        return self._delay

    def stop(self) -> None:
        if os.getpid() != self._owner:
            return
        self._next_start = None
        if self.process is not None:
            self.process.stop()
            self.process = None


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


class BridgeArbiter(Arbiter):
    """gunicorn's arbiter, also keeping ``children`` running. Its own reaping collects every
    child (``waitpid(-1)``), so the supervised ones are looked at first."""

    def __init__(self, app, children: list[SupervisedChild]):
        self.children = children
        super().__init__(app)

    def manage_workers(self) -> None:
        super().manage_workers()
        for child in self.children:
            child.tend()

    def reap_workers(self) -> None:
        for child in self.children:
            child.reap()
        super().reap_workers()

    def stop(self, graceful: bool = True) -> None:
        for child in self.children:
            child.stop()
        super().stop(graceful)
