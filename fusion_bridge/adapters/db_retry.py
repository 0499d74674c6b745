"""Running a unit of work again when the database rolled it back for a passing reason.

InnoDB picks a victim among transactions that wait for each other (deadlock) or gives up a lock
wait; Galera aborts a transaction that lost certification; after a database restart every pooled
connection is dead, and SQLAlchemy then discards the whole pool on the first error. In each case
the database has rolled the transaction back and a second attempt usually passes, so the
request is run again (a bounded number of times, after a short random pause so that the
transactions that collided do not collide again) before anything is answered.

The unit retried is what one request does: every service call an entry point makes opens its
own transactions, and each of them either commits idempotent changes (the agent's contact) or is
the last; a transaction that failed wrote nothing. Retrying therefore never writes twice. A
request that consumes a stream (an upload) cannot be replayed: mark its view ``single_attempt``.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout

from fusion_bridge.adapters.db import NamedLockTimeout
from fusion_bridge.adapters.db_errors import classify

log = logging.getLogger(__name__)

T = TypeVar("T")

# What the entry points catch as "the database failed": answered 503 with the kind.
DATABASE_ERRORS = (DBAPIError, NamedLockTimeout, PoolTimeout)


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2  # attempts after the first
    # No new attempt starts later than this after the first began: a lock wait that timed out
    # already took innodb_lock_wait_timeout, and the client must get its answer in seconds.
    budget: float = 4.0
    pause: tuple[float, float] = (0.005, 0.05)  # random pause before attempt n: n x [low, high] s


NO_RETRY = RetryPolicy(retries=0)


def retrying(call: Callable[..., T], *args, policy: RetryPolicy = RetryPolicy(), **kwargs) -> T:
    """``call(*args, **kwargs)``, run again after a retryable database failure (see module doc)."""
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return call(*args, **kwargs)
        except DATABASE_ERRORS as error:
            attempt += 1
            failure = classify(error)
            if not failure.retryable or attempt > policy.retries or time.monotonic() - started >= policy.budget:
                raise
            log.debug("%s, attempt %d of %d: running the request again", failure, attempt, policy.retries + 1)
            time.sleep(random.uniform(*policy.pause) * attempt)


def single_attempt(view: Callable[..., T]) -> Callable[..., T]:
    """Mark a view that cannot be run twice (it consumes the request's stream)."""
    view.single_attempt = True  # type: ignore[attr-defined]
    return view


def is_single_attempt(view: Callable) -> bool:
    return bool(getattr(view, "single_attempt", False))
