"""``/healthz`` and ``/readyz``, and the scheduler's heartbeat they read.

``/healthz``: the worker answers (no database): a process supervisor restarts the server when
it does not. ``/readyz``: this server can do its work now — the database answers and has the
tables the bridge needs (``schema.check_database``, re-read every ``SCHEMA_RECHECK`` seconds
once good), the scheduler child of ``serve`` is alive and not stuck, and every check other
parts registered (``register_readiness_check``; the inventory relay's "queue not stuck" goes
there) passes. The JSON body names each check with ``ok`` and what is wrong; the status is 200
or 503. It never holds the database URL or a driver message (a readiness probe may be
reachable by anyone who reaches the agents' port): those go to the log, once per change.

The heartbeat: ``serve`` writes ``serve.json`` in its run directory (``ops.runtime``) saying
whether it runs a scheduler; the scheduler child rewrites ``scheduler.heartbeat`` (its pid, its
state — ``pass`` or ``waiting`` —, since when) when its loop changes state, and a thread of it
touches the file every 5 s. The scheduler is gone when its pid is, does not run when the file
has not been touched for ``SILENT`` seconds, and is stuck when a pass has run for longer than
``FUSION_BRIDGE_SCHEDULER_STALE`` seconds (default 1800: a push may wake thousands of agents).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from sqlalchemy.exc import DBAPIError

from fusion_bridge import __version__

log = logging.getLogger("fusion_bridge.health")

ENV_RUN_DIR = "FUSION_BRIDGE_RUN_DIR"
SERVE_FILE = "serve.json"
HEARTBEAT_FILE = "scheduler.heartbeat"
SCHEMA_RECHECK = 300.0  # seconds a good schema check is trusted
SCHEMA_RETRY = 10.0  # seconds before a failed schema check is run again


# --- the scheduler's heartbeat ----------------------------------------------------------------

SILENT = 60.0  # seconds without a touch of the heartbeat: the scheduler process does not run
STARTING = 120.0  # seconds after serve's start a scheduler may take to write its first heartbeat


class Heartbeat:
    """Written by the scheduler child: ``beat(state)`` when its loop changes state (``pass``,
    ``waiting``), and a thread (``start_ticking``) touching the file every ``TICK`` seconds
    whatever the loop does. So a long pass (a push waking thousands of agents) is not taken
    for a dead process, and the age of the ``pass`` state tells a pass that never ends."""

    TICK = 5.0

    def __init__(self, path: Path, clock: Callable[[], float] = time.time):
        self.path = path
        self._clock = clock
        self._state: str | None = None
        self._stop = threading.Event()

    @classmethod
    def in_run_dir(cls, environ=None) -> "Heartbeat | None":
        run_dir = (os.environ if environ is None else environ).get(ENV_RUN_DIR)
        return cls(Path(run_dir) / HEARTBEAT_FILE) if run_dir else None

    def beat(self, state: str = "waiting") -> None:
        if state == self._state:
            return
        try:
            temporary = self.path.with_name(self.path.name + ".new")
            temporary.write_text(json.dumps({"pid": os.getpid(), "state": state, "since": self._clock()}))
            os.replace(temporary, self.path)
            self._state = state
        except OSError as error:  # the run directory removed under us: say so, keep scheduling
            if self._state is not None:
                log.warning("cannot write the scheduler heartbeat %s: %s", self.path, error)
            self._state = None

    def start_ticking(self) -> None:
        threading.Thread(target=self._tick, name="fusion-bridge-heartbeat", daemon=True).start()

    def stop_ticking(self) -> None:
        self._stop.set()

    def _tick(self) -> None:
        while not self._stop.wait(self.TICK):
            try:
                os.utime(self.path)
            except OSError:
                pass  # not written yet, or the run directory is gone (beat says so)


def read_heartbeat(run_dir: Path, now: float, stale: float) -> dict:
    """What the heartbeat file says: ``ok`` None (none yet), False with the ``problem``, or True."""
    path = run_dir / HEARTBEAT_FILE
    try:
        beat = json.loads(path.read_text())
        age = now - path.stat().st_mtime
        pid = int(beat["pid"])
    except FileNotFoundError:
        return {"ok": None, "problem": "no heartbeat yet"}
    except (OSError, ValueError, KeyError, TypeError) as error:
        return {"ok": False, "problem": f"unreadable heartbeat: {type(error).__name__}"}
    found = {"pid": pid, "state": beat.get("state"), "heartbeat_age_s": round(age, 1)}
    state_for = now - beat["since"] if isinstance(beat.get("since"), (int, float)) else 0.0
    found["state_for_s"] = round(state_for, 1)
    if not _alive(pid):
        return {**found, "ok": False, "problem": f"scheduler process {pid} is gone"}
    if age > SILENT:
        return {**found, "ok": False, "problem": f"no heartbeat for {age:.0f} s: the scheduler process is "
                                                 "stopped or frozen"}
    if beat.get("state") == "pass" and state_for > stale:
        return {**found, "ok": False, "problem": f"a scheduler pass has been running for {state_for:.0f} s "
                                                 f"(FUSION_BRIDGE_SCHEDULER_STALE={stale:g})"}
    return {**found, "ok": True}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now has that pid: not ours any more
        return False
    return True


# --- checks -----------------------------------------------------------------------------------

# name -> factory(services) -> check() -> dict with "ok" (bool) and what else helps.
_readiness_checks: dict[str, Callable] = {}


def register_readiness_check(name: str, factory: Callable) -> None:
    _readiness_checks[name] = factory


def liveness() -> dict:
    return {"status": "alive", "version": __version__, "pid": os.getpid()}


class Readiness:
    def __init__(self, services, stale: float, environ=None, clock: Callable[[], float] = time.time):
        self._services = services
        self._stale = stale
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self._lock = threading.Lock()
        self._schema: dict | None = None
        self._schema_until = 0.0
        self._last_problems: dict[str, str] = {}  # logged once per change
        self._database_error: DBAPIError | None = None  # the last one, for the log line
        self._extra = {name: factory(services) for name, factory in _readiness_checks.items()}

    def check(self) -> tuple[bool, dict]:
        """(ready, body)."""
        with self._lock:  # one probe at a time per worker: the database sees no storm of them
            checks = {"database": self._database()}
            checks["schema"] = self._schema_check() if checks["database"]["ok"] else {
                "ok": False, "problem": "not checked: the database does not answer"}
            checks["scheduler"] = self._scheduler()
            for name, check in self._extra.items():
                try:
                    checks[name] = check()
                except Exception as error:  # noqa: BLE001 - a broken check is a failed one
                    log.exception("readiness check %s failed", name)
                    checks[name] = {"ok": False, "problem": f"check failed: {type(error).__name__}"}
            ready = all(check.get("ok") is not False for check in checks.values())
            self._log_changes(checks)
        problems = [f"{name}: {check['problem']}" for name, check in checks.items()
                    if check.get("ok") is False and check.get("problem")]
        return ready, {"status": "ready" if ready else "not ready", "problems": problems, "checks": checks}

    def _database(self) -> dict:
        started = time.monotonic()
        try:
            self._ping()
        except DBAPIError as error:
            # A connection the server closed (it restarted) is dropped with the whole pool:
            # once more, on a new one, before saying the database is away.
            try:
                if not error.connection_invalidated:
                    raise
                self._ping()
            except DBAPIError as again:
                self._database_error = again
                return {"ok": False, "problem": f"does not answer ({_error_kind(again)})"}
        return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}

    def _ping(self) -> None:
        with self._services.autocommit_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def _schema_check(self) -> dict:
        now = self._clock()
        if self._schema is not None and now < self._schema_until:
            return self._schema
        from schema import check_database

        try:
            report = check_database(self._services.engine)
        except DBAPIError as error:
            self._schema, self._schema_until = {"ok": False, "problem": f"not readable ({_error_kind(error)})"}, now
            return self._schema
        problems = report.problems()
        if report.ok:
            self._schema, self._schema_until = {"ok": True}, now + SCHEMA_RECHECK
        else:
            self._schema = {"ok": False, "problem": f"{len(problems)} problem(s): run `fusion-bridge db check`",
                            "problems": problems[:10]}
            self._schema_until = now + SCHEMA_RETRY
        return self._schema

    def _scheduler(self) -> dict:
        run_dir = self._environ.get(ENV_RUN_DIR)
        if not run_dir:
            return {"ok": None, "detail": "not run by this server (no serve run directory)"}
        try:
            serve = json.loads((Path(run_dir) / SERVE_FILE).read_text())
        except (OSError, ValueError):
            return {"ok": False, "problem": f"the run directory {run_dir} has no readable {SERVE_FILE}"}
        if not serve.get("scheduler"):
            return {"ok": None, "detail": "disabled (serve --no-scheduler)"}
        now = self._clock()
        found = read_heartbeat(Path(run_dir), now, self._stale)
        if found["ok"] is None:  # not started yet: a grace period from serve's start
            started = float(serve.get("started") or 0)
            if now - started > STARTING:
                return {"ok": False, "problem": f"no heartbeat since serve started {now - started:.0f} s ago"}
        return found

    def _log_changes(self, checks: dict) -> None:
        for name, check in checks.items():
            problem = check.get("problem") if check.get("ok") is False else None
            if problem == self._last_problems.get(name):
                continue
            if problem is None:
                log.info("readiness: %s is fine again", name)
                self._last_problems.pop(name, None)
                continue
            detail = ""
            if name == "database" and self._database_error is not None:
                detail = f": {_reason(self._database_error)}"
            log.warning("readiness: %s: %s%s", name, problem, detail)
            self._last_problems[name] = problem


def _error_kind(error: DBAPIError) -> str:
    original = getattr(error, "orig", None)
    args = getattr(original, "args", ())
    code = f" {args[0]}" if args and isinstance(args[0], int) else ""
    return f"{type(original or error).__name__}{code}"


def _reason(error: DBAPIError) -> str:
    """The driver's message for the log (no SQL, no parameters)."""
    original = getattr(error, "orig", None) or error
    return " ".join(str(original).split())[:300]
