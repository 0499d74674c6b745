"""Log lines that repeat, at most once per kind and interval, with how many were left out.

During a database outage every request fails the same way, and a refused agent keeps coming
back: one line per failure and request (1.1 MB in 40 s) buries everything else. The first
failure of a kind is logged at once; the others within the interval are counted, and the next
line of that kind says how many there were.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Callable, Hashable

DEFAULT_INTERVAL = 10.0

_instances: "weakref.WeakSet[ThrottledLog]" = weakref.WeakSet()


class ThrottledLog:
    MAX_KINDS = 1000  # kinds remembered at most (a flood of distinct kinds must not grow memory)

    def __init__(self, interval: float = DEFAULT_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        # kind -> [time of the last line logged, occurrences left out since]
        self._kinds: dict[Hashable, list] = {}
        _instances.add(self)

    def log(self, logger: logging.Logger, level: int, kind: Hashable, message: str, *args) -> bool:
        """Log ``message % args`` on ``logger`` unless a line of ``kind`` was logged less than
        ``interval`` seconds ago (then count it). Returns whether it was logged."""
        if not logger.isEnabledFor(level):
            return False
        now = self._clock()
        with self._lock:
            entry = self._kinds.get(kind)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return False
            if entry is None and len(self._kinds) >= self.MAX_KINDS:
                self._forget_old(now)
            self._kinds[kind] = [now, 0]
        if entry is not None and entry[1]:
            message += " (and %d more like it in the last %.0f s)"
            args = (*args, entry[1], now - entry[0])
        logger.log(level, message, *args)
        return True

    def reset(self, interval: float) -> None:
        with self._lock:
            self.interval = interval
            self._kinds.clear()

    def _forget_old(self, now: float) -> None:
        for kind in [k for k, (logged, _) in self._kinds.items() if now - logged >= self.interval]:
            del self._kinds[kind]
        while len(self._kinds) >= self.MAX_KINDS:
            del self._kinds[next(iter(self._kinds))]


def configure(interval: float) -> None:
    """Set the interval of every throttled log of the process (the app's ``LOG_INTERVAL``; 0
    logs every line), forgetting what was logged so far."""
    for instance in list(_instances):
        instance.reset(interval)
