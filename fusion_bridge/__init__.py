"""fusion-bridge: a FusionInventory agent server running on GLPI's database."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask, Response, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

import protocol
from fusion_bridge.config import Config
from fusion_bridge.http.errors import error_response

__version__ = "0.1.0"
SERVER_TYPE = f"fusion-bridge {__version__}"
REST_ENDPOINT = "fusion_bridge.rest_endpoint"  # app.extensions key; its ``.app`` is Flask's own path

log = logging.getLogger("fusion_bridge")


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app. ``config`` overrides the ``FUSION_BRIDGE_*`` environment."""
    from fusion_bridge.http import admin, admin_deploy, admin_executions, admin_relay, agent, rest_tasks
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
    app.register_blueprint(admin_relay.bp)  # /api/relay...
    app.register_blueprint(rest_tasks.bp)  # …/plugins/fusioninventory/b/{deploy,collect,esx}/, before the catch-all
    app.register_blueprint(agent.bp)
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
    def _database_error(error: DBAPIError):
        log.error("database error on %s %s: %s", request.method, request.path, error)
        return _failure(503, "database unavailable, try again later")

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


def _failure(status: int, reason: str) -> Response:
    # For POSTs the body is not read again: the Content-Type is hint enough for an error.
    encoding = protocol.sniff_encoding(b"", request.content_type) if request.method == "POST" else None
    return error_response(status, reason, encoding)
