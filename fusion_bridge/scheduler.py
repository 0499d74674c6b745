"""The background scheduler: task preparation, push, run time-outs and retention, every minute.

``fusion-bridge serve`` starts it in its own process (``start_process``) from gunicorn's
arbiter, which starts it again when it dies (fusion_bridge/supervision.py) and stops it when
serve exits; ``fusion-bridge prepare`` runs it in the
foreground or, with ``--once``, runs one pass. Several instances may run it on one database:
preparation is serialised by a database lock, and the time-out sweep and the retention skip
their turn while another instance holds theirs. Preparation runs at every pass, the time-out
sweep every 5 minutes, the retention once a day (and at start).

Push (services/push.py) runs right after preparation in every pass, so the runs a push task
gets at its start are prepared first, then their agents woken, in the same pass. Between passes
the scheduler does not sleep through a push task's start: every ``PUSH_CHECK`` seconds (or
sooner, at the next start it knows of) one small query looks for an active push task whose
``datetime_start`` came between the last pass and now, and runs a full pass at once; when a
pushed run's ``push_timeout`` falls due, a push-only pass runs. A push task given a start
already in the past before the last pass is pushed by the next regular pass. A periodic push
task's next execution counts as a start too (``next_push_start``), so each execution is pushed
when it is due, not up to a pass interval later.

Order of a pass: the bridge's rows of tasks and actions purged in GLPI go (and of runs, at the
retention pass), then preparation (the current executions, their retries, moved slices, ordering,
the next periodic execution), then push (wakes the agents of what was just prepared, gives up
on runs whose agents never called), then — only when the push gave up on runs — preparation
and push once more, so a balanced action's failed slice moves to another agent of its pool
and that agent is woken in the same pass; then the time-out sweep and the retention. A
push-only pass between full passes that gives up on runs ends the wait for the same reason.

Settings (environment):

=====================================  =======  ==============================================
``FUSION_BRIDGE_SCHEDULER_INTERVAL``   60       seconds between passes
``FUSION_BRIDGE_RUN_TIMEOUT_MINUTES``  240      a run in state 1/2 silent that long goes to Error
``FUSION_BRIDGE_RUNS_KEPT``            10       runs kept per (job, target, agent)
``FUSION_BRIDGE_PUSH_CHECK``           2        seconds between two looks for a push start
``FUSION_BRIDGE_WAKEUP_CONCURRENCY``   50       wake-up connections in flight at most
``FUSION_BRIDGE_WAKEUP_STATUS_TIMEOUT`` 1       seconds for an agent's /status answer
``FUSION_BRIDGE_WAKEUP_NOW_TIMEOUT``   2        seconds for an agent's /now answer
=====================================  =======  ==============================================
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Mapping

from sqlalchemy.engine import Engine

from fusion_bridge.config import Config
from fusion_bridge.adapters.db import make_engine
from fusion_bridge.ops import metrics
from fusion_bridge.ops.health import Heartbeat
from fusion_bridge.ops.settings import env_number
from fusion_bridge.services.push.push_pass import PushReport, next_push_start, push_pass
from fusion_bridge.services.scheduling.preparation import prepare_runs
from fusion_bridge.services.scheduling.report import PreparationReport, TaskBackoff
from fusion_bridge.services.scheduling.cleanup import (
    OrphanReport, RetentionReport, apply_retention, forget_orphans, time_out_silent_runs)
from fusion_bridge.supervision import CommandChild, start_command
from schema.crontasks import enabled_competing

log = logging.getLogger(__name__)

ENV_INTERVAL = "FUSION_BRIDGE_SCHEDULER_INTERVAL"
ENV_RUN_TIMEOUT = "FUSION_BRIDGE_RUN_TIMEOUT_MINUTES"
ENV_RUNS_KEPT = "FUSION_BRIDGE_RUNS_KEPT"
ENV_PUSH_CHECK = "FUSION_BRIDGE_PUSH_CHECK"
ENV_PARENT = "FUSION_BRIDGE_SCHEDULER_PARENT"  # set by serve for its scheduler child


@dataclass(frozen=True)
class SchedulerSettings:
    interval: float = 60.0
    run_timeout: timedelta = timedelta(minutes=240)
    runs_kept: int = 10
    retention_every: float = 86400.0  # seconds between two retention passes
    # Seconds between two time-out sweeps: the sweep reads every run in state 1/2 and no
    # index of GLPI's table starts with the state, so not every minute for a 4 h time-out.
    timeout_every: float = 300.0
    lock_timeout: int = 5  # seconds to wait for another instance's preparation
    push_check: float = 2.0  # seconds between two looks for a push task's start
    wakeup_concurrency: int = 50
    wakeup_status_timeout: float = 1.0
    wakeup_now_timeout: float = 2.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SchedulerSettings":
        environ = os.environ if environ is None else environ
        config = Config.from_env(environ)
        if config.wakeup_concurrency < 1:
            raise ValueError("FUSION_BRIDGE_WAKEUP_CONCURRENCY must be at least 1, "
                             f"got {config.wakeup_concurrency}")
        return cls(
            interval=env_number(environ, ENV_INTERVAL, 60, 1),
            run_timeout=timedelta(minutes=env_number(environ, ENV_RUN_TIMEOUT, 240, 1)),
            runs_kept=int(env_number(environ, ENV_RUNS_KEPT, 10, 1)),
            push_check=env_number(environ, ENV_PUSH_CHECK, 2, 0.1),
            wakeup_concurrency=config.wakeup_concurrency,
            wakeup_status_timeout=config.wakeup_status_timeout,
            wakeup_now_timeout=config.wakeup_now_timeout,
        )


@dataclass
class PassReport:
    preparation: PreparationReport
    push: PushReport | None = None
    # Preparation and push again after the push gave up on runs (None when it did not).
    moved: PreparationReport | None = None
    moved_push: PushReport | None = None
    timed_out: list[int] | None = None  # None: the sweep was not due in this pass
    retention: RetentionReport | None = None
    errors: list[str] = field(default_factory=list)
    orphans: OrphanReport | None = None  # the bridge's rows of tasks purged in GLPI, deleted

    def lines(self) -> list[str]:
        out = list(self.orphans.lines()) if self.orphans else []
        out += list(self.preparation.lines()) if self.preparation else []
        if self.push is not None:
            out.extend(self.push.lines())
        for again in (self.moved, self.moved_push):
            if again is not None:
                out.extend(f"after give-ups: {line}" for line in again.lines())
        if self.timed_out is not None:
            out.append(f"time-outs: {len(self.timed_out)} silent run(s) set to Error"
                       + (f" ({', '.join(map(str, self.timed_out[:20]))})" if self.timed_out else ""))
        if self.retention is not None:
            out.extend(self.retention.lines())
        out.extend(f"error: {error}" for error in self.errors)
        return out

    @property
    def busy(self) -> bool:
        return bool(self.preparation and self.preparation.busy)


def pass_outcome(report: PassReport) -> str:
    """``busy`` (another instance was preparing), ``error`` (some part failed) or ``ok``."""
    if report.errors or report.preparation.errors or any(t.error for t in report.preparation.tasks.values()):
        return "error"
    return "busy" if report.busy else "ok"


class Scheduler:
    """Runs passes every ``settings.interval`` seconds in a daemon thread (``start``) or in the
    calling thread (``run_forever``). Keeps the per-task error back-off in memory."""

    def __init__(self, engine: Engine | Callable[[], Engine] | str, settings: SchedulerSettings | None = None,
                 clock: Callable[[], datetime] = datetime.now):
        self._engine_source = engine
        self._engine: Engine | None = engine if isinstance(engine, Engine) else None
        self._owns_engine = False
        self.settings = settings or SchedulerSettings.from_env()
        self.clock = clock
        self.backoff = TaskBackoff()
        self._last_retention: float | None = None
        self._last_sweep: float | None = None
        self._last_pass_at: datetime | None = None  # the clock at the start of the last full pass
        self._push_due: datetime | None = None  # the earliest pushed run's time-out
        self._check_failing = False  # the push start check failed last time (logged once per outage)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.heartbeat: Heartbeat | None = None  # serve's child beats for /readyz (ops.health)

    @property
    def engine(self) -> Engine:
        # Made on first use, i.e. in the thread/process that runs the passes.
        if self._engine is None:
            source = self._engine_source
            self._engine = make_engine(source) if isinstance(source, str) else source()
            self._owns_engine = True
        return self._engine

    @staticmethod
    def _due(last: float | None, every: float) -> bool:
        return last is None or time.monotonic() - last >= every

    def run_pass(self, retention: bool | None = None) -> PassReport:
        """Prepare; time out silent runs and apply retention when due (retention also when
        asked)."""
        now = self.clock()
        errors = []
        retention_due = self._due(self._last_retention, self.settings.retention_every)
        do_retention = retention or (retention is None and retention_due)
        try:
            # Before preparation, so that no task inherits the rows of a purged one.
            orphans = forget_orphans(self.engine, include_runs=do_retention)
        except Exception as error:  # noqa: BLE001
            log.exception("clean-up of the bridge's rows of purged tasks failed")
            errors.append(f"orphans: {type(error).__name__}: {error}")
            orphans = None
        report = PassReport(self._prepare(now), errors=errors, orphans=orphans)
        self._last_pass_at = now
        report.push = self.run_push(errors)
        if report.push is not None and report.push.failed and not report.preparation.busy:
            # Runs the push gave up on: their slices move to other agents, woken now.
            report.moved = self._prepare(self.clock())
            report.moved_push = self.run_push(errors)
        if self._due(self._last_sweep, self.settings.timeout_every):
            try:
                report.timed_out = time_out_silent_runs(self.engine, now, self.settings.run_timeout)
                self._last_sweep = time.monotonic()
            except Exception as error:  # noqa: BLE001
                log.exception("time-out sweep failed")
                errors.append(f"time-outs: {type(error).__name__}: {error}")
        if do_retention:
            try:
                report.retention = apply_retention(self.engine, self.settings.runs_kept)
                self._last_retention = time.monotonic()
            except Exception as error:  # noqa: BLE001
                log.exception("retention failed")
                errors.append(f"retention: {type(error).__name__}: {error}")
        return report

    def _prepare(self, now: datetime) -> PreparationReport:
        try:
            return prepare_runs(self.engine, now, backoff=self.backoff, lock_timeout=self.settings.lock_timeout)
        except Exception as error:  # noqa: BLE001 - the scheduler must survive a bad pass
            log.exception("preparation pass failed")
            return PreparationReport(now=now, errors=[f"{type(error).__name__}: {error}"])

    def run_push(self, errors: list[str] | None = None) -> PushReport | None:
        """A push pass (wake-ups, re-wakes and give-ups due now); None when it failed."""
        settings = self.settings
        try:
            report = push_pass(self.engine, self.clock(), concurrency=settings.wakeup_concurrency,
                               status_timeout=settings.wakeup_status_timeout,
                               now_timeout=settings.wakeup_now_timeout)
        except Exception as error:  # noqa: BLE001
            log.exception("push pass failed")
            if errors is not None:
                errors.append(f"push: {type(error).__name__}: {error}")
            return None
        if not report.busy:
            self._push_due = report.next_due
        return report

    def wait_for_next_pass(self, seconds: float, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Sleep up to ``seconds``, but not through a push task's start (then return at once for
        a full pass) nor a pushed run's time-out (then run a push-only pass and keep waiting)."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and not should_stop():
            self._beat("waiting")
            left = deadline - time.monotonic()
            if left <= 0:
                return
            now = self.clock()
            try:
                with self.engine.connect() as conn:
                    start = next_push_start(conn, self._last_pass_at or now)
                self._check_failing = False
            except Exception as error:  # noqa: BLE001 - the database may be away for a while
                # Once per outage with the traceback, not every few seconds.
                if not self._check_failing:
                    log.exception("push start check failed")
                else:
                    log.debug("push start check still failing: %s", error)
                self._check_failing = True
                start = None
            if start is not None and start <= now:
                return
            if self._push_due is not None and self._push_due <= now:
                pushed = self.run_push()
                if pushed is not None and pushed.failed:
                    return  # a full pass moves the given-up runs' slices at once
                if self._push_due is not None and self._push_due <= self.clock():
                    self._push_due = None  # busy or failed: the next full pass retries
                continue
            pause = min(left, self.settings.push_check)
            for when in (start, self._push_due):
                if when is not None:
                    pause = min(pause, max(0.05, (when - now).total_seconds()))
            self._stop.wait(pause)

    def warn_competing_cron_tasks(self) -> None:
        """A warning line when GLPI would run the plugin's own preparation, wake-up or clean-up
        next to this scheduler (`fusion-bridge db takeover` disables them)."""
        try:
            with self.engine.connect() as conn:
                competing = enabled_competing(conn)
        except Exception:  # noqa: BLE001 - a warning must not stop the scheduler
            log.debug("could not read glpi_crontasks", exc_info=True)
            return
        if competing:
            log.warning("GLPI cron tasks of the FusionInventory plugin are enabled and compete with this "
                        "scheduler: %s; run `fusion-bridge db takeover` (undo with `db handback`)",
                        ", ".join(task.label for task in competing))

    def run_forever(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        log.info("scheduler: a pass every %g s, run time-out %s, %d run(s) kept per target and agent",
                 self.settings.interval, self.settings.run_timeout, self.settings.runs_kept)
        self.warn_competing_cron_tasks()
        try:
            while not self._stop.is_set() and not should_stop():
                started = time.monotonic()
                self._beat("pass")
                report = self.run_pass()
                metrics.current.scheduler_pass(time.monotonic() - started, pass_outcome(report))
                self.wait_for_next_pass(self.settings.interval - (time.monotonic() - started), should_stop)
        finally:
            if self._owns_engine and self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def _beat(self, state: str) -> None:
        if self.heartbeat is not None:
            self.heartbeat.beat(state)

    def start(self) -> threading.Thread:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="fusion-bridge-scheduler", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 30) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


# ---------------------------------------------------------------------------------------------
# In its own process, next to gunicorn


# ``fusion-bridge prepare`` run as a child of ``serve``.
SchedulerProcess = CommandChild


def start_process(database_url: str, environ: Mapping[str, str] | None = None) -> SchedulerProcess:
    """Start the scheduler next to the server (serve's arbiter does, and again when it dies)."""
    return start_command(["prepare"], {"FUSION_BRIDGE_DATABASE_URL": database_url,
                                       ENV_PARENT: str(os.getpid())}, environ=environ)


def run_child(scheduler: "Scheduler") -> None:
    """Body of ``fusion-bridge prepare`` without ``--once``: until SIGTERM, or until the
    ``serve`` that started it is gone (a serve killed hard must not leave a preparer behind)."""
    parent = os.environ.get(ENV_PARENT)

    def _terminate(_signum, _frame):
        # Once: a stop often signals twice (serve's own stop, and a service manager or a
        # terminal signalling the whole group), and a second SystemExit raised inside the
        # interpreter's exit handlers only prints a traceback. serve kills a child that hangs.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    if parent is not None:  # serve's child: counted in serve's metrics, watched by its /readyz
        from fusion_bridge.ops.settings import OpsSettings

        if OpsSettings.from_env().metrics and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics.activate()
        scheduler.heartbeat = Heartbeat.in_run_dir()
        if scheduler.heartbeat is not None:
            scheduler.heartbeat.start_ticking()
    try:
        scheduler.run_forever(should_stop=lambda: parent is not None and str(os.getppid()) != parent)
    except KeyboardInterrupt:
        pass
