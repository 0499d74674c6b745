"""The settings of ``fusion_bridge.ops`` (environment, like ``fusion_bridge.config``).

=======================================  ========  =============================================
``FUSION_BRIDGE_METRICS``                1         0 turns counting and ``/metrics`` off
``FUSION_BRIDGE_METRICS_TOKEN``          (none)    ``/metrics`` wants ``Authorization: Bearer``
``FUSION_BRIDGE_METRICS_BIND``           (none)    HOST:PORT: ``serve`` listens there too, and
                                                   ``/metrics`` is answered only on that port
``FUSION_BRIDGE_METRICS_DB_TTL``         15        seconds the database gauges are cached
``FUSION_BRIDGE_LOG_FORMAT``             text      ``text`` or ``json`` (one object per line)
``FUSION_BRIDGE_ACCESS_LOG``             0         1: one INFO line per request
``FUSION_BRIDGE_SCHEDULER_STALE``        1800      seconds a scheduler pass may run before
                                                   ``/readyz`` says the scheduler is stuck
``FUSION_BRIDGE_CERTFILE`` / ``_KEYFILE``  (none)  ``serve`` answers HTTPS with them
``FUSION_BRIDGE_RUN_DIR``                (temp)    ``serve``'s run directory (metrics files,
                                                   heartbeat); one per instance
=======================================  ========  =============================================

They live here rather than in ``Config`` because they concern the process around the app
(``serve``, gunicorn, the scheduler child) as much as the app itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

PREFIX = "FUSION_BRIDGE_"
LOG_FORMATS = ("text", "json")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(PREFIX + name, "").strip().lower()
    if raw == "":
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{PREFIX}{name} must be 0 or 1, got {raw!r}")


def env_number(environ: Mapping[str, str], variable: str, default: float, minimum: float) -> float:
    """The number in environment variable ``variable`` (``default`` when unset or blank), at
    least ``minimum``; ``ValueError`` naming the variable otherwise. The scheduler's settings
    use it too."""
    raw = environ.get(variable, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{variable} must be at least {minimum:g}, got {raw!r}")
    return value


@dataclass(frozen=True)
class OpsSettings:
    metrics: bool = True
    metrics_token: str = field(default="", repr=False)
    metrics_bind: str = ""
    metrics_db_ttl: float = 15.0
    log_format: str = "text"
    access_log: bool = False
    scheduler_stale: float = 1800.0
    certfile: str = ""
    keyfile: str = ""
    run_dir: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "OpsSettings":
        """ValueError (naming the variable) for a value that cannot be used."""
        environ = os.environ if environ is None else environ
        log_format = environ.get(PREFIX + "LOG_FORMAT", "").strip().lower() or "text"
        if log_format not in LOG_FORMATS:
            raise ValueError(f"{PREFIX}LOG_FORMAT must be text or json, got {log_format!r}")
        metrics_bind = environ.get(PREFIX + "METRICS_BIND", "").strip()
        if metrics_bind:
            metrics_port(metrics_bind)  # checked now, not in every worker
        return cls(
            metrics=_flag(environ, "METRICS", True),
            metrics_token=environ.get(PREFIX + "METRICS_TOKEN", "").strip(),
            metrics_bind=metrics_bind,
            metrics_db_ttl=env_number(environ, PREFIX + "METRICS_DB_TTL", 15.0, 0),
            log_format=log_format,
            access_log=_flag(environ, "ACCESS_LOG", False),
            scheduler_stale=env_number(environ, PREFIX + "SCHEDULER_STALE", 1800.0, 1),
            certfile=environ.get(PREFIX + "CERTFILE", "").strip(),
            keyfile=environ.get(PREFIX + "KEYFILE", "").strip(),
            run_dir=environ.get(PREFIX + "RUN_DIR", "").strip(),
        )


def metrics_port(bind: str) -> str:
    """The port of a ``HOST:PORT`` (as gunicorn's WSGI environ gives ``SERVER_PORT``)."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{PREFIX}METRICS_BIND must be HOST:PORT, got {bind!r}")
    return str(int(port))
