"""fusion-bridge: a FusionInventory agent server running on GLPI's database."""

from __future__ import annotations

import functools
import logging
from typing import Any, Mapping

from flask import Flask, Response, request
from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

import protocol
from fusion_bridge.adapters import db_errors
from fusion_bridge.adapters.db import NamedLockTimeout
from fusion_bridge.adapters.db_retry import is_single_attempt
from fusion_bridge.config import Config
from fusion_bridge.http.errors import error_response

__version__ = "0.1.0"
SERVER_TYPE = f"fusion-bridge {__version__}"
REST_ENDPOINT = "fusion_bridge.rest_endpoint"  # app.extensions key; its ``.app`` is Flask's own path

log = logging.getLogger("fusion_bridge")


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app. ``config`` overrides the ``FUSION_BRIDGE_*`` environment."""
    from fusion_bridge.http import admin, admin_deploy, admin_executions, agent, rest_tasks
    from fusion_bridge.http.rest_endpoint import AgentRestEndpoint
    from fusion_bridge.http.xml_endpoint import AgentXmlEndpoint
    from fusion_bridge.runtime import Runtime

    settings = config if isinstance(config, Config) else Config.from_env().updated(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    runtime = Runtime(settings)
    app.extensions["fusion_bridge"] = runtime
    # /api/... rules have more static parts than the agent blueprint's catch-all, so they win.
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_deploy.bp)  # /api/deploy/...: same token as admin
    app.register_blueprint(admin_executions.bp)
    app.register_blueprint(rest_tasks.bp)  # …/plugins/fusioninventory/b/{deploy,collect,esx}/, before the catch-all
    app.register_blueprint(agent.bp)
    for endpoint, view in list(app.view_functions.items()):
        if not is_single_attempt(view):
            app.view_functions[endpoint] = _retried(view, runtime)
    # The agents' hot paths are answered before Flask: XML POSTs, then the REST GETs.
    rest_endpoint = AgentRestEndpoint(app.wsgi_app, app.url_map, app.config, runtime,
                                      app.extensions[rest_tasks.EXTENSION], SERVER_TYPE)
    app.extensions[REST_ENDPOINT] = rest_endpoint
    app.wsgi_app = AgentXmlEndpoint(rest_endpoint, runtime, SERVER_TYPE)

    @app.after_request
    def _server_type(response: Response) -> Response:
        response.headers["server-type"] = SERVER_TYPE
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(NamedLockTimeout)
    @app.errorhandler(PoolTimeout)
    def _database_error(error: Exception):
        db_errors.log_failure(log, f"{request.method} {request.path}", error)
        return _failure(503, db_errors.reason(error))

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        log.warning("%s %s from %s refused (%s): %s", request.method, request.path,
                    request.remote_addr, error.code, error.description)
        return _failure(error.code or 400, error.name)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _failure(500, "internal server error")

    return app


def _retried(view, runtime):
    """The view run as one unit of work (``Runtime.retrying``)."""
    @functools.wraps(view)
    def run(*args, **kwargs):
        return runtime.retrying(view, *args, **kwargs)
    return run


def _failure(status: int, why: str) -> Response:
    # For POSTs the body is not read again: the Content-Type is hint enough for an error.
    encoding = protocol.sniff_encoding(b"", request.content_type) if request.method == "POST" else None
    return error_response(status, why, encoding)
