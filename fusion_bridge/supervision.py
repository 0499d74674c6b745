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
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Protocol, Sequence

from gunicorn.arbiter import Arbiter

log = logging.getLogger("fusion_bridge.serve")


class ChildProcess(Protocol):
    popen: object  # subprocess.Popen

    def stop(self, timeout: float = 10) -> None: ...


@dataclass
class CommandChild:
    """A ``fusion-bridge`` sub-command run as a child of ``serve`` (the scheduler, the relay
    forwarder).

    A fresh interpreter rather than a ``multiprocessing`` fork: gunicorn forks its workers from
    the same parent, and they would inherit the child's ``multiprocessing`` bookkeeping (whose
    exit hook then fails in every worker). Secrets (the database URL, an upstream with
    credentials) go through the environment, not the command line, so ``ps`` does not show them.
    """

    popen: subprocess.Popen
    owner: int  # pid of the process that started it: gunicorn workers share serve's stack
    stop_timeout: float = 10  # seconds ``stop`` waits for it to end, after SIGTERM then SIGKILL

    def stop(self, timeout: float | None = None) -> None:
        if os.getpid() != self.owner or self.popen.poll() is not None:
            return
        timeout = self.stop_timeout if timeout is None else timeout
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)


def start_command(arguments: Sequence[str], environment: Mapping[str, str], *, stop_timeout: float = 10,
                  environ: Mapping[str, str] | None = None) -> CommandChild:
    """``python -m fusion_bridge <arguments>`` with ``environ`` (this process's by default)
    plus ``environment``, running the same code as this process, installed or not."""
    env = dict(os.environ if environ is None else environ)
    env.update(environment)
    source = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    popen = subprocess.Popen([sys.executable, "-m", "fusion_bridge", *arguments], env=env,
                             stdin=subprocess.DEVNULL)
    return CommandChild(popen, os.getpid(), stop_timeout)


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
