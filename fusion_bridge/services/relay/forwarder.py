"""The forwarder: posts queued INVENTORYs to the upstream, oldest first, at the pace it can take.

``relay_concurrency`` threads, each sending one document at a time, so the upstream never sees
more requests from this instance than that; an optional rate (documents per minute, shared by
the threads); when the upstream is unwell (no connection, 429, 5xx, time-outs) every thread
pauses — exponential back-off with jitter, or the upstream's ``Retry-After`` — instead of
cycling through the queue. What each answer means: ``domain/relay_policy.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from fusion_bridge.adapters.upstream_http import UpstreamClient
from fusion_bridge.domain.relay_policy import DELIVERED, TokenBucket, Verdict, backoff, classify
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.relay import queue
from fusion_bridge.services.relay.settings import RelaySettings

log = logging.getLogger("fusion_bridge.relay")

FINISH_TRIES = 3
DATABASE_PAUSE = 2.0


class Forwarder:
    def __init__(self, engine: Engine, settings: RelaySettings, clock: Callable[[], datetime] = local_now,
                 client_factory: Callable[[], UpstreamClient] | None = None):
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self._client_factory = client_factory or (lambda: UpstreamClient(settings.upstream))
        self._bucket = TokenBucket(settings.rate_per_minute, burst=1.0)
        self._lock = threading.Lock()
        self._unwell_streak = 0  # upstream failures in a row (any thread)
        self._paused_until = 0.0  # time.monotonic()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.delivered = 0

    # --- one document ------------------------------------------------------------------------

    def forward_one(self, client: UpstreamClient) -> str | None:
        """Claim, send and record one document; its outcome, or None when none was due."""
        document = queue.claim(self.engine, self.clock(), self.settings.claim_seconds)
        if document is None:
            return None
        answer = client.post(document.body, document.content_type, document.user_agent, document.remote_addr)
        verdict = classify(answer)
        retry_in = backoff(document.attempts, self.settings.backoff_base, self.settings.backoff_cap)
        outcome = self._finish(document, verdict, answer.latency, retry_in)
        self._after(document, verdict, outcome)
        return outcome

    def _finish(self, document: queue.Claimed, verdict: Verdict, latency: float, retry_in: float) -> str:
        for attempt in range(1, FINISH_TRIES + 1):
            try:
                return queue.finish(self.engine, document, verdict, self.clock(), latency, retry_in,
                                    self.settings.max_attempts)
            except DBAPIError as error:
                # Unrecorded, the claim runs out and the document is sent again: try a bit harder.
                if attempt == FINISH_TRIES:
                    raise
                log.warning("relay: recording document %d failed (%s), again", document.id, error.orig or error)
                self._stop.wait(0.2 * attempt)
        raise AssertionError("unreachable")

    def _after(self, document: queue.Claimed, verdict: Verdict, outcome: str) -> None:
        if verdict.kind == DELIVERED:
            with self._lock:
                self._unwell_streak = 0
                self.delivered += 1
            return
        what = f"document {document.id} of {document.device_id}"
        if verdict.upstream_unwell:
            with self._lock:
                self._unwell_streak += 1
                pause = verdict.retry_after if verdict.retry_after is not None else backoff(
                    self._unwell_streak, self.settings.backoff_base, self.settings.backoff_cap)
                self._paused_until = max(self._paused_until, time.monotonic() + pause)
            log.warning("relay: %s not delivered (%s), upstream %s; pausing %.1f s", what, verdict.reason,
                        self.settings.upstream.display, pause)
        elif outcome == queue.DEAD_LETTER:
            log.error("relay: %s refused %d times, now dead-letter (fusion-bridge relay list --dead): %s",
                      what, self.settings.max_attempts, verdict.reason)
        else:
            log.warning("relay: %s refused by the upstream, will retry: %s", what, verdict.reason)

    def pause_left(self) -> float:
        with self._lock:
            return max(0.0, self._paused_until - time.monotonic())

    # --- threads -----------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._threads = [threading.Thread(target=self._work, name=f"relay-{n + 1}", daemon=True)
                         for n in range(self.settings.concurrency)]
        for thread in self._threads:
            thread.start()

    def stop(self, grace: float = 10.0) -> None:
        """Stop taking documents; wait up to ``grace`` seconds for the ones in flight (those
        still unanswered then keep their claim, which expires: they are sent again later)."""
        self._stop.set()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def run(self, should_stop: Callable[[], bool] = lambda: False, check_every: float = 1.0) -> None:
        log.info("relay: forwarding inventories to %s, %d at a time%s", self.settings.upstream.display,
                 self.settings.concurrency,
                 f", at most {self.settings.rate_per_minute:g} a minute" if self.settings.rate_per_minute else "")
        self.start()
        try:
            while not self._stop.is_set() and not should_stop():
                self._stop.wait(check_every)
        finally:
            self.stop()

    def _work(self) -> None:
        client = self._client_factory()
        try:
            while not self._stop.is_set():
                pause = self.pause_left()
                if pause > 0:
                    self._stop.wait(pause)
                    continue
                wait = self._bucket.reserve()
                if wait > 0 and self._stop.wait(wait):
                    break
                try:
                    outcome = self.forward_one(client)
                except DBAPIError as error:
                    log.error("relay: database error: %s", error.orig or error)
                    self._bucket.cancel()
                    self._stop.wait(DATABASE_PAUSE)
                    continue
                except Exception:
                    log.exception("relay: unexpected error")
                    self._bucket.cancel()
                    self._stop.wait(DATABASE_PAUSE)
                    continue
                if outcome is None:
                    self._bucket.cancel()
                    self._stop.wait(self.settings.poll_seconds)
        finally:
            client.close()
