"""The agent endpoint's non-XML side: REST ``getConfig`` and clear refusals.

Agent XML POSTs never get here: ``xml_endpoint.AgentXmlEndpoint`` answers them first.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

import protocol
from fusion_bridge.errors import DomainError
from fusion_bridge.http.errors import json_error, json_failure, xml_error
from fusion_bridge.http.paths import is_agent_path
from fusion_bridge.http.services import services
from fusion_bridge.domain.text import php_json

bp = Blueprint("agent", __name__)

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


@bp.route("/", defaults={"path": ""}, methods=METHODS)
@bp.route("/<path:path>", methods=METHODS)
def agent_endpoint(path: str) -> Response:
    if not is_agent_path(path):
        return json_error(404, f"no agent endpoint at /{path}", log_reason="unknown path")
    if request.method == "GET":
        return rest_call()
    return xml_error(405, f"method {request.method} not allowed: agents POST XML or GET ?action=getConfig",
                     protocol.PLAIN, headers={"Allow": "GET, POST"})


def rest_call() -> Response:
    action = request.args.get("action")
    machine_id = request.args.get("machineid")
    if not action:
        return json_error(400, "expected a POST of an XML REQUEST, or GET ?action=getConfig&machineid=...")
    if action != "getConfig":
        return json_error(400, f"unknown action {action[:40]!r} on the agent endpoint")
    try:
        answer = services().rest.get_config(machine_id, requested_tasks(request.args),
                                            lambda: request_base_url(request))
    except DomainError as error:  # here, not by a blueprint handler: admin's views call this one too
        return json_failure(error)
    return Response(php_json(answer), 200, content_type="application/json")


TASK_ARGUMENT = re.compile(r"^task\[([^\]]+)\]$")


def requested_tasks(args) -> list[str]:
    """The names of the ``task[Name]=version`` arguments, in request order."""
    return [match.group(1) for key in args if (match := TASK_ARGUMENT.match(key))]


def request_base_url(req) -> str:
    """Scheme, host and prefix (before ``/plugins/fusioninventory/``) request ``req`` came in on."""
    path = req.script_root + req.path
    cut = path.find("/plugins/fusioninventory/")
    if cut < 0:
        cut = path.rfind("/ocsinventory")
    prefix = path[:cut] if cut >= 0 else ""
    return req.host_url.rstrip("/") + prefix
