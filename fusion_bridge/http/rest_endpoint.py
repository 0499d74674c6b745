"""The REST GETs of every agent run, served at the WSGI level: ``getConfig`` on the agent endpoint
(asked once per REST task) and ``getJobs`` of ``b/deploy``, ``b/collect`` and ``b/esx``.

Nearly always the agent has nothing to do, and then Flask's request and response machinery
would cost more CPU than the one database statement that answers. These requests are answered
through the same services as the Flask views (``http.agent``, ``http.rest_tasks``), framed here
exactly as Flask frames them: same status line, headers, JSON bodies, refusal log lines and
database/unexpected error replies. Which view a path goes to is asked of the app's own URL map
(once per distinct path); anything else (another method, action or view, a redirect, a
non-ASCII path) goes on to Flask unchanged.
"""

from __future__ import annotations

from flask import Request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, RoutingException

from fusion_bridge.http.agent import get_config_answer, request_base_url
from fusion_bridge.http.errors import failure_of, json_error_body, log_failure
from fusion_bridge.http.paths import is_plugin_agent_path
from fusion_bridge.domain.text import php_json


def _status_line(status: int) -> str:
    return f"{status} {HTTP_STATUS_CODES[status].upper()}"  # as werkzeug writes it


class AgentRestEndpoint:
    ROUTES_KEPT = 4096  # distinct paths whose routing is remembered (agents use a handful)

    def __init__(self, app, url_map: Map, app_config, services, server_type: str):
        """``app``: the Flask WSGI app everything else goes to; ``url_map``, ``app_config``: its
        rules and configuration; ``services``: the worker's ``bootstrap.Services``."""
        self.app = app
        self._app_config = app_config
        self._router = url_map.bind("localhost")
        self._routes: dict[str, str | None] = {}
        self._services = services
        self._server_type = server_type

    def __call__(self, environ, start_response):
        handler = self._handler(environ)
        # With TRUSTED_HOSTS Flask refuses some Host headers before routing (400): leave it to Flask.
        if handler is None or self._app_config.get("TRUSTED_HOSTS") is not None:
            return self.app(environ, start_response)
        request = Request(environ)
        try:
            status, body = self._services.retrying(handler, request)
        except _NotMine:
            return self.app(environ, start_response)
        except Exception as error:  # as the views' error handlers answer it (http.errors)
            failure = failure_of(error)
            log_failure(failure, error, request.method, request.path, request.remote_addr)
            status, body = failure.status, json_error_body(failure.reason)
        start_response(_status_line(status), [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("server-type", self._server_type),
        ])
        return [body]

    def _handler(self, environ):
        """The handler of a GET this class answers, or None to leave the request to Flask."""
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        query = environ.get("QUERY_STRING") or ""
        if "action=getConfig" in query:
            wanted = "getConfig"
        elif "action=getJobs" in query:
            wanted = "getJobs"
        else:
            return None
        path = environ.get("PATH_INFO") or ""
        route = self._routes.get(path, "")
        if route == "":
            route = self._route(path)
            if len(self._routes) < self.ROUTES_KEPT:
                self._routes[path] = route
        if route is None or (route == "getConfig") != (wanted == "getConfig"):
            return None
        return self._get_config if route == "getConfig" else getattr(self, f"_{route}_jobs")

    def _route(self, path: str) -> str | None:
        """``getConfig`` for a path of http.agent's view that it answers, ``deploy``/``collect``/
        ``esx`` for http.rest_tasks' views, else None."""
        if not path.startswith("/") or not path.isascii():
            return None  # Flask decodes non-ASCII paths: leave those to it
        try:
            endpoint, values = self._router.match(path, method="GET")
        except (HTTPException, RoutingException):  # not found, redirect, ...
            return None
        if endpoint == "agent.agent_endpoint":
            return "getConfig" if is_plugin_agent_path(values.get("path", "")) else None
        task = endpoint.removeprefix("rest_tasks.").rpartition("_")[0]
        return task if endpoint.startswith("rest_tasks.") and task in ("deploy", "collect", "esx") else None

    # Each handler re-checks ``action`` as parsed: the substring test above is only a quick
    # filter (``xaction=getConfig`` passes it). A request that is not what the filter took it
    # for raises _NotMine and Flask answers it.

    def _get_config(self, request: Request) -> tuple[int, bytes]:
        if request.args.get("action") != "getConfig":
            raise _NotMine
        return 200, php_json(get_config_answer(self._services, request)).encode()

    def _deploy_jobs(self, request: Request) -> tuple[int, bytes]:
        args = request.args
        return self._jobs(request, lambda: self._services.deploy.get_jobs(
            args.get("machineid"), args.get("version"), lambda: request_base_url(request)))

    def _collect_jobs(self, request: Request) -> tuple[int, bytes]:
        return self._jobs(request, lambda: self._services.collect.get_jobs(request.args.get("machineid")))

    def _esx_jobs(self, request: Request) -> tuple[int, bytes]:
        return self._jobs(request, lambda: self._services.esx.get_jobs(request.args.get("machineid")))

    @staticmethod
    def _jobs(request: Request, get_jobs) -> tuple[int, bytes]:
        if request.args.get("action") != "getJobs":
            raise _NotMine
        return 200, php_json(get_jobs()).encode()


class _NotMine(Exception):
    """The parsed request is not the one the quick filter took it for: Flask answers it."""
