"""The WSGI app: ``create_app`` builds a worker's services and the Flask app around them, with
the agents' hot paths answered before Flask."""

from __future__ import annotations

import functools
from typing import Any, Mapping

from flask import Flask, Response

from fusion_bridge import __version__
from fusion_bridge.adapters.db_retry import is_single_attempt
from fusion_bridge.bootstrap import Services
from fusion_bridge.config import Config
from fusion_bridge.http import agent, rest_tasks
from fusion_bridge.http.admin import definitions as admin
from fusion_bridge.http.admin import agents as admin_agents
from fusion_bridge.http.admin import collect as admin_collect
from fusion_bridge.http.admin import deploy as admin_deploy
from fusion_bridge.http.admin import deploy_groups as admin_deploy_groups
from fusion_bridge.http.admin import devices as admin_devices
from fusion_bridge.http.admin import esx as admin_esx
from fusion_bridge.http.admin import executions as admin_executions
from fusion_bridge.http.admin import relay as admin_relay
from fusion_bridge.http.agent_auth import AgentAuth, Htpasswd
from fusion_bridge.http.edge_settings import check_edge_settings
from fusion_bridge.http.errors import request_failure
from fusion_bridge.http.glpi_gate import GlpiInventoryGate
from fusion_bridge.http.forwarded import ForwardedHeaders, parse_networks
from fusion_bridge.http.rest_endpoint import AgentRestEndpoint
from fusion_bridge.http.services import EXTENSION
from fusion_bridge.http.xml_endpoint import AgentXmlEndpoint
from fusion_bridge.ops.wsgi import observed_app

SERVER_TYPE = f"fusion-bridge {__version__}"
REST_ENDPOINT = "fusion_bridge.rest_endpoint"  # app.extensions key; its ``.app`` is Flask's own path


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app. ``config`` overrides the ``FUSION_BRIDGE_*`` environment."""
    settings = config if isinstance(config, Config) else Config.from_env().updated(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    services = Services(settings)
    app.extensions[EXTENSION] = services
    # /api/... rules have more static parts than the agent blueprint's catch-all, so they win.
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_deploy.bp)  # /api/deploy/...: same token as admin
    app.register_blueprint(admin_executions.bp)
    app.register_blueprint(admin_relay.bp)  # /api/relay...
    for blueprint in (admin_agents.bp, admin_devices.bp, admin_collect.bp, admin_esx.bp, admin_deploy_groups.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(rest_tasks.bp)  # …/plugins/fusioninventory/b/{deploy,collect,esx}/, before the catch-all
    app.register_blueprint(agent.bp)
    for endpoint, view in list(app.view_functions.items()):
        if not is_single_attempt(view):
            app.view_functions[endpoint] = _retried(view, services)
    # Whatever a blueprint leaves (database errors, werkzeug's refusals, bugs): mapped by http.errors.
    app.register_error_handler(Exception, request_failure)
    # The agents' hot paths are answered before Flask: XML POSTs, then the REST GETs.
    rest_endpoint = AgentRestEndpoint(app.wsgi_app, app.url_map, app.config, services, SERVER_TYPE)
    app.extensions[REST_ENDPOINT] = rest_endpoint
    app.wsgi_app = AgentXmlEndpoint(rest_endpoint, services, SERVER_TYPE)
    # GLPI 10/11: GLPI's enabled_inventory switch, and GLPI 11's agent authentication, before them all.
    app.wsgi_app = GlpiInventoryGate(app.wsgi_app, services)
    # Outermost: who the client is (behind trusted proxies), then whether it may talk as an agent.
    app.wsgi_app = forwarded_and_authenticated(app.wsgi_app, settings)
    # Around them: request id, metrics, access log, /metrics, /healthz, /readyz (fusion_bridge/ops); the
    # layers inside rewrite REMOTE_ADDR in the same environ, so the access line names the agent.
    app.wsgi_app = observed_app(app.wsgi_app, services)

    @app.after_request
    def _server_type(response: Response) -> Response:
        response.headers["server-type"] = SERVER_TYPE
        return response

    return app


def _retried(view, services: Services):
    """The view run as one unit of work (``Services.retrying``)."""
    @functools.wraps(view)
    def run(*args, **kwargs):
        return services.retrying(view, *args, **kwargs)
    return run


def forwarded_and_authenticated(wsgi_app, settings: Config):
    """``wsgi_app`` behind agent authentication (``agent_auth`` set) behind the forwarding
    headers of trusted proxies (``trusted_proxies`` set); a bad setting fails at start."""
    check_edge_settings(settings)
    if settings.agent_auth:
        wsgi_app = AgentAuth(wsgi_app, Htpasswd(settings.agent_auth), settings.agent_auth_realm)
    networks = parse_networks(settings.trusted_proxies)
    if networks:
        wsgi_app = ForwardedHeaders(wsgi_app, networks, settings.forwarded_header.strip().lower())
    return wsgi_app
