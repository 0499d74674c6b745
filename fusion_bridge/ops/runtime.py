"""What ``serve`` sets up before gunicorn forks, and what it says at start.

The run directory holds what the processes of one ``serve`` share: ``metrics/`` (each process's
Prometheus values, ``PROMETHEUS_MULTIPROC_DIR``), ``serve.json`` (whether a scheduler runs, since
when) and the scheduler's heartbeat (``ops.health``). It is a private temporary directory
removed at exit, or ``FUSION_BRIDGE_RUN_DIR`` (e.g. systemd's ``RuntimeDirectory``), whose files
of a previous start are removed at start — only the bridge's own, never anything else there.
Both variables reach the workers (forks) and the scheduler child (a new interpreter) through
the environment, which is why they are set before either exists.

gunicorn gets its logger class (its lines in the bridge's format), a ``child_exit`` hook that
marks a dead worker's live gauges as gone, its own access log off (the bridge writes one line
per request itself, with the request id, ``ops.wsgi``), TLS files, and the metrics listener.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import ssl
import tempfile
import time
from pathlib import Path

from fusion_bridge.ops.health import ENV_RUN_DIR, HEARTBEAT_FILE, SERVE_FILE
from fusion_bridge.ops.logging_setup import gunicorn_logger_class
from fusion_bridge.ops.settings import OpsSettings

ENV_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR = "metrics"


class RunDir:
    def __init__(self, path: Path, owned: bool):
        self.path = path
        self.owned = owned  # made by us: removed at exit
        self._owner = os.getpid()  # gunicorn's workers are forks sharing atexit handlers

    @property
    def metrics(self) -> Path:
        return self.path / METRICS_DIR

    def clean(self) -> None:
        """The files a previous start left (values of dead processes, an old heartbeat)."""
        if self.metrics.is_dir():
            for stale in self.metrics.glob("*.db"):
                stale.unlink(missing_ok=True)
        for name in (HEARTBEAT_FILE, HEARTBEAT_FILE + ".new", SERVE_FILE):
            (self.path / name).unlink(missing_ok=True)

    def remove(self) -> None:
        if os.getpid() != self._owner:
            return
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self.clean()


def prepare_run_dir(settings: OpsSettings, scheduler: bool, environ=None) -> RunDir:
    """The run directory, clean, announced in ``environ`` (``os.environ``); removed at exit."""
    environ = os.environ if environ is None else environ
    if settings.run_dir:
        run_dir = RunDir(Path(settings.run_dir).absolute(), owned=False)
        run_dir.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        run_dir.clean()
    else:
        run_dir = RunDir(Path(tempfile.mkdtemp(prefix="fusion-bridge-")), owned=True)
    run_dir.metrics.mkdir(mode=0o700, exist_ok=True)
    (run_dir.path / SERVE_FILE).write_text(json.dumps({"pid": os.getpid(), "started": time.time(),
                                                       "scheduler": scheduler}))
    environ[ENV_RUN_DIR] = str(run_dir.path)
    if settings.metrics:
        environ[ENV_MULTIPROC] = str(run_dir.metrics)
    else:
        environ.pop(ENV_MULTIPROC, None)
    atexit.register(run_dir.remove)
    return run_dir


def check_tls(settings: OpsSettings) -> None:
    """ValueError when the certificate and key cannot be used (said at start, not by each
    worker)."""
    if bool(settings.certfile) != bool(settings.keyfile):
        raise ValueError("TLS needs both --certfile and --keyfile (FUSION_BRIDGE_CERTFILE, FUSION_BRIDGE_KEYFILE)")
    if not settings.certfile:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(settings.certfile, settings.keyfile)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"cannot use certificate {settings.certfile} with key {settings.keyfile}: "
                         f"{error.strerror or error}") from None


def _child_exit(server, worker) -> None:
    """gunicorn hook, in the arbiter: a dead worker's live gauges stop counting."""
    if os.environ.get(ENV_MULTIPROC):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def gunicorn_options(settings: OpsSettings, binds: list[str]) -> dict:
    """Added to ``serve``'s gunicorn options."""
    options = {
        "logger_class": gunicorn_logger_class(),
        "accesslog": None,
        "child_exit": _child_exit,
    }
    if settings.certfile:
        options.update(certfile=settings.certfile, keyfile=settings.keyfile)
    if settings.metrics_bind and settings.metrics_bind not in binds:
        options["bind"] = [*binds, settings.metrics_bind]
    return options


# --- the start-up banner ------------------------------------------------------------------------


def banner(*, version: str, database: str, bind: str, agent_url: str, workers: int, scheduler: bool,
           scheduler_interval: float | None, settings: OpsSettings, relay: str | None = None) -> dict:
    """What ``serve`` prints at start (``--json``: as it is)."""
    scheme = "https" if settings.certfile else "http"
    metrics_at = None
    if settings.metrics:
        host_port = settings.metrics_bind or bind
        metrics_at = f"{scheme}://{_shown_host(host_port)}/metrics"
    return {
        "version": version,
        "database": database,  # without its password (the caller's safe_url)
        "bind": bind,
        "agent_url": agent_url,
        "tls": bool(settings.certfile),
        "workers": workers,
        "scheduler": {"running": scheduler, "interval_s": scheduler_interval} if scheduler else {"running": False},
        # The inventory relay tells here where it forwards (its upstream, without credentials).
        "relay": relay,
        "metrics": {"url": metrics_at, "token": bool(settings.metrics_token)} if metrics_at else None,
        "health": {"liveness": "/healthz", "readiness": "/readyz"},
        "log_format": settings.log_format,
        "access_log": settings.access_log,
        "run_dir": os.environ.get(ENV_RUN_DIR),
    }


def _shown_host(host_port: str) -> str:
    host, _, port = host_port.rpartition(":")
    return f"{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"


def banner_lines(shown: dict) -> list[str]:
    lines = [
        f"fusion-bridge {shown['version']} on {shown['database']}",
        f"Point agents at: fusioninventory-agent --server {shown['agent_url']}",
        f"Listening on {shown['bind']}{' (TLS)' if shown['tls'] else ''} with {shown['workers']} workers",
    ]
    scheduler = shown["scheduler"]
    lines.append(f"Scheduler: a pass every {scheduler['interval_s']:g} s" if scheduler["running"]
                 else "Scheduler: off (serve --no-scheduler)")
    lines.append(f"Relay: {shown['relay']}" if shown["relay"] else "Relay: off (inventories are imported here)")
    metrics = shown["metrics"]
    lines.append(f"Metrics: {metrics['url']}{' (bearer token required)' if metrics['token'] else ''}"
                 if metrics else "Metrics: off (FUSION_BRIDGE_METRICS=0)")
    lines.append("Health: /healthz (alive), /readyz (database, schema, scheduler)")
    lines.append(f"Logs: {shown['log_format']}, access log {'on' if shown['access_log'] else 'off'}")
    return lines


def serve_settings(access_log: bool | None, certfile: str | None, keyfile: str | None,
                   environ=None) -> OpsSettings:
    """The settings with ``serve``'s options applied, written back to ``environ``
    (``os.environ``) so that the workers and the scheduler child read the same."""
    environ = os.environ if environ is None else environ
    if access_log is not None:
        environ["FUSION_BRIDGE_ACCESS_LOG"] = "1" if access_log else "0"
    for name, value in (("CERTFILE", certfile), ("KEYFILE", keyfile)):
        if value is not None:
            environ[f"FUSION_BRIDGE_{name}"] = value
    return OpsSettings.from_env(environ)
