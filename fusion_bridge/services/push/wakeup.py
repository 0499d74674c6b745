"""Waking agents up (push mode): probe ``http://ADDR:PORT/status``, then call ``/now``.

The agent's HTTP server (daemon mode, agent 2.x) answers ``/status`` with ``status: waiting``,
``status: running task <Name>`` or ``status: paused``; ``/now`` makes it contact the server at
once when the caller's address is trusted (the host of its server URL, or its ``httpd-trust``
setting), else it answers ``403``.

``wake_agents`` runs the probes from a bounded thread pool (``concurrency`` connections in flight
at most, each worker doing one agent at a time, one socket at a time), outside any request
worker: the scheduler or the CLI calls it. Every attempt is recorded in
``glpi_plugin_fusionbridge_wakeups``, and as an Info line in the history of each run given for
the agent (``run_ids``).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Mapping

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.ops import metrics
from fusion_bridge.services.runs import log_row
from fusion_bridge.domain.text import local_now
from schema.constants import TaskjobLogState as Log, TaskjobState as State

agents = schema.agents
addresses = schema.bridge_agentaddresses
wakeups = schema.bridge_wakeups

DEFAULT_PORT = 62354
DEFAULT_CONCURRENCY = 50
STATUS_TIMEOUT = 1.0
NOW_TIMEOUT = 2.0

WOKEN = "woken"
UNREACHABLE = "unreachable"
BUSY = "busy"
REFUSED = "refused"
OUTCOMES = (WOKEN, UNREACHABLE, BUSY, REFUSED)

_INSERT_CHUNK = 1000


@dataclass(frozen=True)
class Target:
    agent_id: int
    address: str | None
    port: int
    exists: bool = True

    @property
    def base_url(self) -> str | None:
        return base_url(self.address, self.port) if self.address else None


@dataclass(frozen=True)
class WakeResult:
    agent_id: int
    outcome: str
    detail: str  # the sentence written to the history
    address: str | None
    port: int | None
    date: datetime
    run_ids: tuple[int, ...] = ()

    def line(self) -> str:
        return f"agent {self.agent_id}: {self.outcome} - {self.detail}"


@dataclass
class WakeReport:
    results: list[WakeResult] = field(default_factory=list)
    elapsed: float = 0.0
    max_in_flight: int = 0
    concurrency: int = DEFAULT_CONCURRENCY

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for result in self.results:
            counts[result.outcome] += 1
        return counts

    def by_agent(self) -> dict[int, WakeResult]:
        return {result.agent_id: result for result in self.results}

    def summary(self) -> str:
        counts = self.counts()
        return (f"{len(self.results)} agent(s) in {self.elapsed:.2f} s: "
                + ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
                + f" (at most {self.max_in_flight} connection(s) in flight)")


def base_url(address: str, port: int) -> str:
    """``http://ADDR:PORT``, IPv6 addresses in brackets."""
    host = address
    try:
        if ipaddress.ip_address(address.split("%", 1)[0]).version == 6:
            host = f"[{address}]"
    except ValueError:
        pass  # a host name
    return f"http://{host}:{port}"


def _port(value) -> int | None:
    text = str(value).strip() if value is not None else ""
    if text.isdigit() and 0 < int(text) < 65536:
        return int(text)
    return None


def default_agent_port(conn: Connection) -> int:
    """The plugin's ``agent_port`` config value when numeric, else 62354."""
    value = conn.execute(select(schema.configs.c.value).where(schema.configs.c.type == "agent_port")).scalar()
    return _port(value) or DEFAULT_PORT


def load_targets(conn: Connection, agent_ids: Iterable[int], default_port: int | None = None) -> list[Target]:
    """Address and port of each agent: port from ``agents.agent_port`` when numeric, else the
    address row's port, else ``default_port`` (the plugin's config). Unknown agents and agents
    that never called have no address."""
    ids = list(dict.fromkeys(int(i) for i in agent_ids))
    if default_port is None:
        default_port = default_agent_port(conn)
    found: dict[int, Target] = {}
    for start in range(0, len(ids), _INSERT_CHUNK):
        chunk = ids[start:start + _INSERT_CHUNK]
        rows = conn.execute(
            select(agents.c.id, agents.c.agent_port, addresses.c.address, addresses.c.port)
            .select_from(agents.outerjoin(
                addresses, addresses.c.plugin_fusioninventory_agents_id == agents.c.id))
            .where(agents.c.id.in_(chunk))
        )
        for row in rows:
            port = _port(row.agent_port) or _port(row.port) or default_port
            found[row.id] = Target(row.id, row.address or None, port)
    return [found.get(i, Target(i, None, default_port, exists=False)) for i in ids]


def agents_with_prepared_runs(conn: Connection) -> dict[int, list[int]]:
    """Agent id -> its runs in state Prepared (what ``--all-with-runs`` wakes)."""
    runs = schema.taskjobstates
    found: dict[int, list[int]] = defaultdict(list)
    rows = conn.execute(
        select(runs.c.plugin_fusioninventory_agents_id, runs.c.id)
        .where(runs.c.state == int(State.PREPARED), runs.c.plugin_fusioninventory_agents_id > 0)
        .order_by(runs.c.plugin_fusioninventory_agents_id, runs.c.id)
    )
    for agent_id, run_id in rows:
        found[agent_id].append(run_id)
    return dict(found)


class _InFlight:
    """Counts open connections (the bound ``wake_agents`` promises)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.current = 0
        self.max = 0

    def __enter__(self):
        with self._lock:
            self.current += 1
            self.max = max(self.max, self.current)

    def __exit__(self, *exc):
        with self._lock:
            self.current -= 1


class NotHttp(Exception):
    """The peer answered something that is not an HTTP response."""


_MAX_ANSWER = 65536


def _get(target: Target, path: str, timeout: float, in_flight: _InFlight) -> tuple[int, str]:
    """One ``GET`` on its own connection, all within ``timeout`` seconds: (status, body).

    A minimal HTTP/1.1 client (``Connection: close``): http.client costs several times more
    CPU per request, and this also bounds the whole exchange, not each read."""
    deadline = time.monotonic() + timeout
    host = f"[{target.address}]" if ":" in target.address else target.address
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{target.port}\r\nUser-Agent: fusion-bridge\r\n"
               "Connection: close\r\n\r\n").encode("ascii", "replace")
    data = b""
    with in_flight:
        sock = socket.create_connection((target.address, target.port), timeout=timeout)
        try:
            sock.sendall(request)
            head_end = -1
            length = None
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("timed out")
                sock.settimeout(remaining)
                chunk = sock.recv(8192)
                if not chunk:
                    break
                data += chunk
                if head_end < 0:
                    head_end = data.find(b"\r\n\r\n")
                    if head_end >= 0:
                        length = _content_length(data[:head_end])
                if head_end >= 0 and length is not None and len(data) - head_end - 4 >= length:
                    break
                if len(data) > _MAX_ANSWER:
                    break
        finally:
            sock.close()
    if head_end < 0:
        raise NotHttp("no HTTP answer" if not data else "not an HTTP answer")
    status_line = data[:data.find(b"\r\n")].split(None, 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        raise NotHttp("not an HTTP answer")
    body = data[head_end + 4:]
    if length is not None:
        body = body[:length]
    return int(status_line[1]), body[:4096].decode("utf-8", "replace")


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


def _failure(error: Exception, timeout: float) -> str:
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, NotHttp):
        return str(error)
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return reason


def probe(target: Target, status_timeout: float = STATUS_TIMEOUT, now_timeout: float = NOW_TIMEOUT,
          in_flight: _InFlight | None = None) -> tuple[str, str]:
    """(outcome, detail) of waking one agent."""
    in_flight = in_flight or _InFlight()
    if not target.exists:
        return UNREACHABLE, "Agent unreachable: no such agent"
    if not target.address:
        return UNREACHABLE, "Agent unreachable: no address known (it has not contacted this server yet)"
    url = target.base_url
    try:
        status, body = _get(target, "/status", status_timeout, in_flight)
    except (OSError, NotHttp) as error:
        return UNREACHABLE, f"Agent unreachable: {_failure(error, status_timeout)} at {url}/status"
    text = body.strip()
    if status != 200 or not text.startswith("status:"):
        return UNREACHABLE, (f"Agent unreachable: {url}/status answered HTTP {status} "
                             f"{text[:60]!r}, not an agent status")
    state = text[len("status:"):].strip()
    if state != "waiting":
        return BUSY, f"Agent busy: status {state[:200]} at {url}/status"
    try:
        status, body = _get(target, "/now", now_timeout, in_flight)
    except (OSError, NotHttp) as error:
        return UNREACHABLE, f"Agent unreachable: {_failure(error, now_timeout)} at {url}/now"
    if status == 200:
        return WOKEN, f"Agent woken up at {url}/now"
    if status == 403:
        return REFUSED, (f"Agent refused the wake-up at {url}/now (HTTP 403 Access denied): it does not "
                         "trust this server's address; add it to the agent's httpd-trust setting")
    return UNREACHABLE, f"Agent unreachable: {url}/now answered HTTP {status}"


def wake_agents(engine: Engine, agent_ids: Iterable[int], *, concurrency: int = DEFAULT_CONCURRENCY,
                status_timeout: float = STATUS_TIMEOUT, now_timeout: float = NOW_TIMEOUT,
                run_ids: Mapping[int, Iterable[int]] | None = None, default_port: int | None = None,
                clock: Callable[[], datetime] = local_now) -> WakeReport:
    """Wake ``agent_ids`` up with at most ``concurrency`` connections in flight, record every
    attempt (the wake-up history, and an Info log line in each of the agent's ``run_ids``)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    run_ids = {int(k): tuple(int(r) for r in v) for k, v in (run_ids or {}).items()}
    started = time.monotonic()
    with engine.connect() as conn:
        targets = load_targets(conn, agent_ids, default_port)
    in_flight = _InFlight()

    def attempt(target: Target) -> WakeResult:
        when = clock()
        outcome, detail = probe(target, status_timeout, now_timeout, in_flight)
        return WakeResult(target.agent_id, outcome, detail, target.address, target.port, when,
                          run_ids.get(target.agent_id, ()))

    report = WakeReport(concurrency=concurrency)
    reachable = [t for t in targets if t.address]
    results: dict[int, WakeResult] = {t.agent_id: attempt(t) for t in targets if not t.address}
    if reachable:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(reachable)),
                                thread_name_prefix="fusion-bridge-wakeup") as pool:
            for result in pool.map(attempt, reachable):
                results[result.agent_id] = result
    report.results = [results[t.agent_id] for t in targets]
    report.max_in_flight = in_flight.max
    record(engine, report.results)
    metrics.current.wakeups(report.counts())
    report.elapsed = time.monotonic() - started
    return report


def record(engine: Engine, results: list[WakeResult]) -> None:
    """The wake-up history rows, and the runs' log lines, in one transaction."""
    history = [{
        "plugin_fusioninventory_agents_id": r.agent_id,
        "plugin_fusioninventory_taskjobstates_id": r.run_ids[0] if r.run_ids else None,
        "date": r.date,
        "address": r.address,
        "outcome": r.outcome,
        "detail": r.detail,
    } for r in results]
    log_lines = [log_row(run_id, Log.INFO, r.detail, r.date) for r in results for run_id in r.run_ids]
    if not history:
        return
    with engine.begin() as conn:
        for rows, table in ((history, wakeups), (log_lines, schema.taskjoblogs)):
            for start in range(0, len(rows), _INSERT_CHUNK):
                conn.execute(insert(table), rows[start:start + _INSERT_CHUNK])


def history(conn: Connection, agent_id: int | None = None, run_id: int | None = None,
            limit: int = 100) -> list[dict]:
    """The last wake-up attempts, newest first."""
    statement = select(wakeups).order_by(wakeups.c.id.desc()).limit(limit)
    if agent_id is not None:
        statement = statement.where(wakeups.c.plugin_fusioninventory_agents_id == agent_id)
    if run_id is not None:
        statement = statement.where(wakeups.c.plugin_fusioninventory_taskjobstates_id == run_id)
    return [dict(row) for row in conn.execute(statement).mappings()]


def purge_history(engine: Engine, before: datetime) -> int:
    """Delete the wake-up attempts older than ``before``; how many were deleted."""
    with engine.begin() as conn:
        return conn.execute(delete(wakeups).where(wakeups.c.date < before)).rowcount


def answering_agents(engine: Engine, agent_ids: Iterable[int], concurrency: int = DEFAULT_CONCURRENCY,
                     timeout: float = STATUS_TIMEOUT) -> set[int]:
    """The agents among ``agent_ids`` whose ``/status`` answers as an agent (waiting, running or
    paused), probed with at most ``concurrency`` connections in flight and nothing else called.

    Used by preparation to keep only live agents in a push task's pool; it records no history
    (nothing was woken) and must be called outside any transaction."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    with engine.connect() as conn:
        targets = [t for t in load_targets(conn, agent_ids) if t.exists and t.address]
    in_flight = _InFlight()

    def answers(target: Target) -> bool:
        try:
            status, body = _get(target, "/status", timeout, in_flight)
        except (OSError, NotHttp):
            return False
        return status == 200 and body.strip().startswith("status:")

    if not targets:
        return set()
    with ThreadPoolExecutor(max_workers=min(concurrency, len(targets)),
                            thread_name_prefix="fusion-bridge-status") as pool:
        return {t.agent_id for t, ok in zip(targets, pool.map(answers, targets)) if ok}
