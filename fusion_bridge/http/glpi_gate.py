"""GLPI 10/11's gates in front of the agent endpoints (docs/glpi10-protocol.md §8.3, §8.4):

* ``enabled_inventory`` = 0 in GLPI's inventory settings closes the agent endpoints: an agent
  POST is answered 403 ``Inventory is disabled`` (text), as GLPI's core answers; on GLPI 11 the
  REST calls (``getConfig``, ``b/deploy``, ``b/collect``, ``b/esx``) too (glpiinventory 1.6
  checks it there, 1.5 on GLPI 10 does not).
* GLPI 11's agent authentication (``auth_required``, docs/glpi-secrets.md §5) applies on GLPI 11
  to the same requests (agent POSTs and REST calls): a refusal is a 401 with the Basic challenge (or a 503 when the settings cannot be
  used), its reason in the log and in a JSON body, never a credential.

Nothing is checked on a GLPI 9.5 database. Both the WSGI fast paths and the Flask views sit
behind this one layer, so no view can forget it.
"""

from __future__ import annotations

from http import HTTPStatus

import protocol
from fusion_bridge.domain.glpi_agent_auth import authorize_agent_request
from fusion_bridge.http.errors import failure_of, json_error_body, log_failure, log_refusal, xml_error_body
from fusion_bridge.http.paths import is_agent_path, is_rest_task_path
from fusion_bridge.services.agent.serving import ServingProfile

INVENTORY_DISABLED = b"Inventory is disabled"


class GlpiInventoryGate:
    def __init__(self, app, services):
        """``app``: the agent endpoints and everything else; ``services``: the worker's
        ``bootstrap.Services`` (its ``serving`` profile and settings cache)."""
        self._app = app
        self._services = services

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        rest_task = is_rest_task_path(path)
        if not rest_task and not is_agent_path(path):
            return self._app(environ, start_response)
        try:
            profile = self._services.serving.get()
        except Exception:  # the database does not answer: the endpoint says so in its own form
            return self._app(environ, start_response)
        try:
            refusal = self._refusal(environ, path, rest_task, profile)
        except Exception as error:  # the settings cannot be read: refused as the endpoints answer it
            failure = failure_of(error)
            log_failure(failure, error, environ.get("REQUEST_METHOD", ""), path, environ.get("REMOTE_ADDR"))
            refusal = failure.status, json_error_body(failure.reason), "application/json", ()
            if environ.get("REQUEST_METHOD") == "POST" and not rest_task:
                refusal = (failure.status, *xml_error_body(
                    failure.reason, protocol.sniff_encoding(b"", environ.get("CONTENT_TYPE")), profile.reply_style), ())
        if refusal is None:
            return self._app(environ, start_response)
        status, body, content_type, headers = refusal
        start_response(f"{status} {HTTPStatus(status).phrase}", [
            ("Content-Type", content_type), ("Content-Length", str(len(body))), *headers])
        return [body]

    def _refusal(self, environ, path: str, rest_task: bool, profile: ServingProfile):
        """None to let the request through, else (status, body, content type, headers)."""
        method = environ.get("REQUEST_METHOD", "")
        if not profile.inventory_switch:
            return None
        if (rest_task or method != "POST") and not profile.rest_tasks_switched:
            return None  # GLPI 10: glpiinventory 1.5's getConfig and b/* check neither
        settings = self._services.settings.get()
        if not settings.inventory_enabled:
            log_refusal(method, path, environ.get("REMOTE_ADDR"), 403,
                        "GLPI's inventory is disabled (enabled_inventory = 0 in GLPI's inventory settings)",
                        kind="inventory_disabled")
            return 403, INVENTORY_DISABLED, "text/plain; charset=UTF-8", ()
        if not profile.agent_authentication:
            return None
        decision = authorize_agent_request(settings.agent_auth, environ.get("HTTP_AUTHORIZATION"))
        if decision.allowed:
            return None
        log_refusal(method, path, environ.get("REMOTE_ADDR"), decision.status, decision.reason,
                    kind="glpi_agent_auth")
        return decision.status, json_error_body(decision.reason), "application/json", decision.headers
