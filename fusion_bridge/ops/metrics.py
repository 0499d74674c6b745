"""Prometheus metrics: what every process of one ``serve`` counts, and what ``/metrics`` reads
from the database when scraped.

Counting. Code anywhere calls ``metrics.current.<event>(...)``. In a process where metrics
were not activated (every CLI command, ``FUSION_BRIDGE_METRICS=0``) ``current`` is ``Off``,
whose methods do nothing and which never imports ``prometheus_client``. ``activate()`` (done by
``create_app`` in each gunicorn worker, and by ``serve``'s scheduler child) makes it a
``Recorder``. Under ``serve`` the environment names a directory (``PROMETHEUS_MULTIPROC_DIR``,
set up by ``ops.runtime`` before anything forks) where each process keeps its values in a
memory-mapped file, so that ``/metrics``, answered by whichever worker, adds up every worker
and the scheduler child; without it (a test client, your own single-process server) the values
are the process's own.

The hot path pays one dict lookup, one counter increment and one histogram observation per
request (``Recorder.request``): label children are made once per (kind, status) and kept.
Labels are bounded sets: request kinds are the bridge's own names (``ops.wsgi``), statuses
HTTP codes, refusal reasons and database errors the class names of what was raised — never
text from a request.

At scrape time (``DatabaseGauges``): agents seen in the last hour and day, runs by state, and
whether the database answered, computed by one worker from the database and cached for
``FUSION_BRIDGE_METRICS_DB_TTL`` seconds, so scrapes cost the database little and requests
nothing.

Other parts add theirs here: an event method on ``Off`` (doing nothing) and ``Recorder``
(counting), and scrape-time collectors through ``register_scrape_collector`` — the inventory
relay's queue depth, oldest document age, deliveries and failures go there.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from datetime import timedelta
from typing import Callable, Iterable, Mapping

from sqlalchemy import case, func, select

import schema
from fusion_bridge import __version__
from fusion_bridge.domain.text import local_now
from schema.constants import TaskjobState

# Few buckets: each is one more value to write per observation and to add up at each scrape.
REQUEST_BUCKETS = (0.005, 0.025, 0.1, 0.5, 2.5)
SCHEDULER_BUCKETS = (0.1, 1.0, 10.0, 60.0, 300.0)
PREFIX = "fusion_bridge_"
log = logging.getLogger("fusion_bridge.metrics")


def snake(name: str) -> str:
    """``NotHandedOut`` -> ``not_handed_out``: a class name as a label value."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Off:
    """Records nothing, imports nothing."""

    enabled = False

    def request(self, kind: str, status: str, seconds: float) -> None:
        """One HTTP request answered (``kind``: ``ops.wsgi`` names it; ``status``: "200")."""

    def refusal(self, reason: str) -> None:
        """A request refused (4xx); ``reason``: a kind of refusal, never the request's text."""

    def database_error(self, kind: str) -> None:
        """A request that failed on the database (``kind``: the error class, or "disconnect")."""

    def runs_handed_out(self, method: str, count: int = 1) -> None:
        """Runs handed to their agent (PROLOG OPTIONs, getJobs), by task method."""

    def scheduler_pass(self, seconds: float, outcome: str) -> None:
        """One scheduler pass: ``ok``, ``busy`` (another instance prepares) or ``error``."""

    def wakeups(self, counts: Mapping[str, int]) -> None:
        """Wake-up attempts by outcome (woken, busy, unreachable, refused)."""

    def deploy_bytes(self, count: int) -> None:
        """Bytes of Deploy file parts handed to the server to send."""

    # The relay's events go here (and in Recorder).


current: Off = Off()
_activation = threading.Lock()


def activate() -> Off:
    """Make ``current`` count, in this process (idempotent). Call after any fork."""
    global current
    with _activation:
        if not current.enabled:
            current = Recorder()
        return current


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Recorder(Off):
    enabled = True

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = multiprocess()
        # The process's own registry: the exposition adds these (single process) or reads
        # every process's files (multiprocess), never prometheus_client's global registry.
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self._requests = Counter(PREFIX + "requests", "HTTP requests answered, by kind and status",
                                 ["kind", "status"], registry=r)
        self._durations = Histogram(PREFIX + "request_duration_seconds",
                                    "Time to answer a request (a file part: until its sending starts)",
                                    ["kind"], buckets=REQUEST_BUCKETS, registry=r)
        self._refusals = Counter(PREFIX + "refusals", "Requests refused (4xx), by kind of reason",
                                 ["reason"], registry=r)
        self._database_errors = Counter(PREFIX + "database_errors", "Requests that failed on the database",
                                        ["kind"], registry=r)
        self._handed_out = Counter(PREFIX + "runs_handed_out", "Runs handed to their agent, by method",
                                   ["method"], registry=r)
        self._passes = Counter(PREFIX + "scheduler_passes", "Scheduler passes, by outcome", ["outcome"],
                               registry=r)
        self._pass_durations = Histogram(PREFIX + "scheduler_pass_duration_seconds", "Duration of a scheduler pass",
                                         buckets=SCHEDULER_BUCKETS, registry=r)
        self._last_pass = Gauge(PREFIX + "scheduler_last_pass_timestamp_seconds",
                                "When the last scheduler pass ended (Unix time)", multiprocess_mode="max",
                                registry=r)
        self._wakeups = Counter(PREFIX + "wakeups", "Wake-up attempts, by outcome", ["outcome"], registry=r)
        self._deploy_bytes = Counter(PREFIX + "deploy_bytes_served", "Bytes of Deploy file parts served",
                                     registry=r)
        self._children: dict[tuple[str, str], tuple] = {}

    def request(self, kind: str, status: str, seconds: float) -> None:
        children = self._children.get((kind, status))
        if children is None:
            children = self._children[(kind, status)] = (self._requests.labels(kind, status),
                                                         self._durations.labels(kind))
        children[0].inc()
        children[1].observe(seconds)

    def refusal(self, reason: str) -> None:
        self._refusals.labels(reason).inc()

    def database_error(self, kind: str) -> None:
        self._database_errors.labels(kind).inc()

    def runs_handed_out(self, method: str, count: int = 1) -> None:
        if count:
            self._handed_out.labels(method).inc(count)

    def scheduler_pass(self, seconds: float, outcome: str) -> None:
        self._passes.labels(outcome).inc()
        self._pass_durations.observe(seconds)
        self._last_pass.set(time.time())

    def wakeups(self, counts: Mapping[str, int]) -> None:
        for outcome, count in counts.items():
            if count:
                self._wakeups.labels(outcome).inc(count)

    def deploy_bytes(self, count: int) -> None:
        self._deploy_bytes.inc(count)

    def exposition(self, scrape_collectors: Iterable = ()) -> tuple[bytes, str]:
        """The text exposition (body, content type) of every process's values and the
        scrape-time collectors."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client.multiprocess import MultiProcessCollector

            counted = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(counted)
        else:
            counted = self.registry
        return generate_latest(_Together([counted, *scrape_collectors])), CONTENT_TYPE_LATEST


class _Together:
    """Several collectors (or registries) read as one by ``generate_latest``."""

    def __init__(self, collectors):
        self._collectors = collectors

    def collect(self):
        for collector in self._collectors:
            yield from collector.collect()


# --- at scrape time ---------------------------------------------------------------------------

# Factories called with the worker's ``bootstrap.Services``; each returns an object whose
# ``collect()`` yields metric families. The relay registers its queue's here.
_scrape_collectors: list[Callable] = []


def register_scrape_collector(factory: Callable) -> None:
    if factory not in _scrape_collectors:
        _scrape_collectors.append(factory)


def scrape_collectors(services) -> list:
    return [factory(services) for factory in _scrape_collectors]


STATE_LABELS = {int(state): state.name.lower() for state in TaskjobState}
agents = schema.agents
runs = schema.taskjobstates


class DatabaseGauges:
    """Agents seen, runs by state, database up: read at scrape time, kept ``ttl`` seconds."""

    def __init__(self, engine, ttl: float, clock: Callable[[], float] = time.monotonic):
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._values: tuple | None = None  # (seen_hour, seen_day, {state: count})

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        up, values = self._current()
        yield GaugeMetricFamily(PREFIX + "database_up", "Whether the database answered the last scrape's "
                                "queries (1) or not (0)", value=1 if up else 0)
        if values is None:
            return
        seen_hour, seen_day, by_state = values
        seen = GaugeMetricFamily(PREFIX + "agents_seen", "Agents whose last contact is within the window",
                                 labels=["window"])
        seen.add_metric(["1h"], seen_hour)
        seen.add_metric(["1d"], seen_day)
        yield seen
        states = GaugeMetricFamily(PREFIX + "runs", "Runs (taskjobstates) by state", labels=["state"])
        for state, label in STATE_LABELS.items():
            states.add_metric([label], by_state.get(state, 0))
        yield states
        info = GaugeMetricFamily(PREFIX + "build_info", "The bridge's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info

    def _current(self) -> tuple[bool, tuple | None]:
        with self._lock:  # one query at a time per worker, whatever the scrape rate
            now = self._clock()
            if self._read_at is not None and now - self._read_at < self._ttl:
                return self._values is not None, self._values
            try:
                self._values = self._read()
            except Exception as error:  # noqa: BLE001 - a scrape must answer even without the database
                if self._values is not None or self._read_at is None:  # once per outage
                    log.warning("metrics: the database gauges cannot be read (%s)", type(error).__name__)
                self._values = None
            self._read_at = now
            return self._values is not None, self._values

    def _read(self) -> tuple:
        now = local_now()  # last_contact is GLPI's local time
        hour, day = now - timedelta(hours=1), now - timedelta(days=1)
        with self._engine.connect() as conn:
            seen = conn.execute(select(
                func.coalesce(func.sum(case((agents.c.last_contact >= hour, 1), else_=0)), 0),
                func.count()).where(agents.c.last_contact >= day)).one()
            by_state = dict(conn.execute(select(runs.c.state, func.count()).group_by(runs.c.state)).all())
        return int(seen[0]), int(seen[1]), {int(k): int(v) for k, v in by_state.items() if k is not None}
