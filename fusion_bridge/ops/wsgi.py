"""The outermost WSGI layer: every request gets an id, is counted and timed, and may get an
access log line; ``/metrics``, ``/healthz`` and ``/readyz`` are answered here.

The request id is the client's ``X-Request-Id`` when it is short and plain (a proxy's or load
balancer's), else a new one (a random per-process prefix and a counter: unique across workers
without a system call per request); it is set in ``logging_setup.REQUEST_ID`` for the time of
the request, so every log line of the request carries it, and sent back as ``X-Request-Id``.

The kind of a request (the ``kind`` label, the access log's ``kind``) is the agent message's
QUERY for agent XML POSTs (``PROLOG``, ``INVENTORY``, ``NETDISCOVERY``, ``SNMPQUERY``; the XML
endpoint puts it in the environ, ``XML`` when it could not read it), else told from the path
and the ``action`` argument: ``getConfig``, ``deploy.getJobs``, ``deploy.getFilePart``,
``deploy.setStatus``, ``deploy.setUserEvent``, ``collect.getJobs``, ``collect.setAnswer``,
``collect.jobsDone``, ``esx.getJobs``, ``esx.setLog`` (``<task>.other`` for another action),
``api``, ``ops`` (these endpoints), ``other``. A fixed set: no label value comes from a request.

Its cost on the hot path is a few microseconds (measured with bench/prolog.py, README).
"""

from __future__ import annotations

import hmac
import itertools
import json
import logging
import re
import secrets
from http import HTTPStatus
from time import perf_counter
from urllib.parse import parse_qs

from fusion_bridge.http.paths import is_agent_path
from fusion_bridge.ops.logging_setup import REQUEST_ID
from fusion_bridge.ops.settings import metrics_port

KIND = "fusion_bridge.kind"  # environ keys the inner endpoints may set
DEVICE_ID = "fusion_bridge.device_id"
OPS_PATHS = frozenset(("/metrics", "/healthz", "/readyz"))
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}\Z")
REST_TASK = re.compile(r"/plugins/fusioninventory/b/(deploy|collect|esx)/?\Z")
REST_ACTIONS = {
    "deploy": frozenset(("getJobs", "getFilePart", "setStatus", "setUserEvent")),
    "collect": frozenset(("getJobs", "setAnswer", "jobsDone")),
    "esx": frozenset(("getJobs", "setLog")),
}

access_log = logging.getLogger("fusion_bridge.access")


def set_kind(environ: dict, kind: str, device_id: str | None = None) -> None:
    """What an inner endpoint knows of its request, for the metrics and the access log."""
    environ[KIND] = kind
    if device_id is not None:
        environ[DEVICE_ID] = device_id


def _argument(environ: dict, name: str) -> str | None:
    values = parse_qs(environ.get("QUERY_STRING") or "").get(name)
    return values[0] if values else None


def classify(environ: dict) -> str:
    """The kind of a request no inner endpoint named."""
    path = environ.get("PATH_INFO") or ""
    if path.startswith("/api/"):
        return "api"
    if path in OPS_PATHS:
        return "ops"
    task = REST_TASK.search(path)
    if task is not None:
        action = _argument(environ, "action")
        return f"{task.group(1)}.{action if action in REST_ACTIONS[task.group(1)] else 'other'}"
    if is_agent_path(path):
        if environ.get("REQUEST_METHOD") == "POST":
            return "XML"
        return "getConfig" if _argument(environ, "action") == "getConfig" else "agent.other"
    return "other"


class ObservedApp:
    def __init__(self, app, recorder, settings, readiness, access: bool = False):
        """``app``: everything else; ``recorder``: ``ops.metrics.current`` (``Off``: metrics
        off); ``settings``: ``OpsSettings``; ``readiness``: an ``ops.health.Readiness``."""
        self._app = app
        self._recorder = recorder
        self._counting = recorder.enabled
        self._access = access
        self._id_prefix = secrets.token_hex(4) + "-"  # made after the fork: one per worker
        self._ids = itertools.count(1)
        self.ops = OpsEndpoints(recorder, settings, readiness)
        self._metrics_port = metrics_port(settings.metrics_bind) if settings.metrics_bind else None

    def __call__(self, environ, start_response):
        started = perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID")
        request_id = given if given and SANE_REQUEST_ID.match(given) else f"{self._id_prefix}{next(self._ids):x}"
        token = REQUEST_ID.set(request_id)
        answered: list = []

        def start(status, headers, exc_info=None):
            headers.append(("X-Request-Id", request_id))
            answered[:] = (status, headers)
            return start_response(status, headers, exc_info)

        try:
            if environ.get("PATH_INFO") in OPS_PATHS or (
                    self._metrics_port is not None and environ.get("SERVER_PORT") == self._metrics_port):
                environ[KIND] = "ops"
                body = self.ops(environ, start, self._metrics_port)
            else:
                body = self._app(environ, start)
            status = answered[0][:3] if answered else "0"
            if self._counting:
                kind = environ.get(KIND) or classify(environ)
                self._recorder.request(kind, status, perf_counter() - started)
            if self._access:
                self._access_line(environ, status, started, body, answered)
            return body
        except BaseException:
            if self._counting:
                self._recorder.request(environ.get(KIND) or classify(environ), "500", perf_counter() - started)
            raise
        finally:
            REQUEST_ID.reset(token)

    @staticmethod
    def _access_line(environ, status: str, started: float, body, answered) -> None:
        kind = environ.get(KIND) or classify(environ)
        if kind == "ops":  # probes and scrapes every few seconds: not worth a line each
            return
        size = None
        if isinstance(body, (list, tuple)):
            size = sum(map(len, body))
        elif answered:
            size = next((int(v) for k, v in answered[1] if k.lower() == "content-length" and v.isdigit()), None)
        device_id = environ.get(DEVICE_ID) or _argument(environ, "machineid")
        fields = {
            "remote": environ.get("REMOTE_ADDR"),
            "device_id": device_id,
            "kind": kind,
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status),
            "duration_ms": round((perf_counter() - started) * 1000, 2),
            "bytes": size,
        }
        access_log.info('%s %s "%s %s" %s %s %.1f ms %s B', fields["remote"], device_id or "-", fields["method"],
                        fields["path"], kind, status, fields["duration_ms"], "-" if size is None else size,
                        extra={"fields": fields})


def _json(start, status: int, value: dict, headers: tuple = ()) -> list[bytes]:
    body = json.dumps(value, separators=(",", ":")).encode()
    start(f"{status} {HTTPStatus(status).phrase}", [("Content-Type", "application/json"),
                                                    ("Content-Length", str(len(body))),
                                                    ("Cache-Control", "no-store"), *headers])
    return [body]


class OpsEndpoints:
    def __init__(self, recorder, settings, readiness):
        self._recorder = recorder
        self._token = settings.metrics_token
        self._readiness = readiness
        self._scrape_collectors: list = []

    def add_scrape_collectors(self, collectors) -> None:
        self._scrape_collectors.extend(collectors)

    def __call__(self, environ, start, metrics_port: str | None):
        path = environ.get("PATH_INFO")
        if path not in OPS_PATHS:  # the metrics listener serves nothing else
            return _json(start, 404, {"error": "only /metrics, /healthz and /readyz on this port"})
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _json(start, 405, {"error": "GET only"}, (("Allow", "GET, HEAD"),))
        if path == "/healthz":
            from fusion_bridge.ops.health import liveness

            return _json(start, 200, liveness())
        if path == "/readyz":
            ready, body = self._readiness.check()
            return _json(start, 200 if ready else 503, body)
        return self._metrics(environ, start, metrics_port)

    def _metrics(self, environ, start, metrics_port: str | None):
        if not self._recorder.enabled:
            return _json(start, 404, {"error": "metrics are off (FUSION_BRIDGE_METRICS=0)"})
        if metrics_port is not None and environ.get("SERVER_PORT") != metrics_port:
            return _json(start, 404, {"error": "metrics are served on FUSION_BRIDGE_METRICS_BIND only"})
        if self._token and not hmac.compare_digest(environ.get("HTTP_AUTHORIZATION", "").encode(),
                                                   f"Bearer {self._token}".encode()):
            return _json(start, 401, {"error": "metrics need Authorization: Bearer <FUSION_BRIDGE_METRICS_TOKEN>"},
                         (("WWW-Authenticate", 'Bearer realm="fusion-bridge metrics"'),))
        body, content_type = self._recorder.exposition(self._scrape_collectors)
        start("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                         ("Cache-Control", "no-store")])
        return [body]


def observed_app(app, services, settings=None) -> ObservedApp:
    """``app`` wrapped for a worker whose ``bootstrap.Services`` are ``services`` (settings
    from the environment by default); metrics activated in this process unless turned off."""
    from fusion_bridge.ops import metrics
    from fusion_bridge.ops.health import Readiness
    from fusion_bridge.ops.settings import OpsSettings

    settings = settings or OpsSettings.from_env()
    recorder = metrics.activate() if settings.metrics else metrics.Off()
    readiness = Readiness(services, settings.scheduler_stale)
    observed = ObservedApp(app, recorder, settings, readiness, access=settings.access_log)
    if recorder.enabled:
        observed.ops.add_scrape_collectors([metrics.DatabaseGauges(services.autocommit_engine, settings.metrics_db_ttl),
                                            *metrics.scrape_collectors(services)])
    return observed
