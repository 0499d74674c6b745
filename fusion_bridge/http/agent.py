"""The agent endpoint: OCS/XML POSTs and the REST ``getConfig`` GET, under any path prefix."""

from __future__ import annotations

import json
import logging
import re

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

import protocol
from fusion_bridge.http.errors import json_error, xml_error

log = logging.getLogger("fusion_bridge.agent")

bp = Blueprint("agent", __name__)

# The paths agents are given as --server, after any prefix such as /glpi/.
AGENT_PATH = re.compile(
    r"(?:^|/)(?:plugins/fusioninventory/"
    r"(?:|index\.php|front/communication\.php|front/plugin_fusioninventory\.communication\.php)"
    r"|ocsinventory/?)$"
)
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


def is_agent_path(path: str) -> bool:
    return AGENT_PATH.search(path) is not None


@bp.route("/", defaults={"path": ""}, methods=METHODS)
@bp.route("/<path:path>", methods=METHODS)
def agent_endpoint(path: str) -> Response:
    if not is_agent_path(path):
        return json_error(404, f"no agent endpoint at /{path}", log_reason="unknown path")
    if request.method == "POST":
        return xml_exchange()
    if request.method == "GET":
        return rest_call()
    return xml_error(405, f"method {request.method} not allowed: agents POST XML or GET ?action=getConfig",
                     protocol.PLAIN, headers={"Allow": "GET, POST"})


def xml_exchange() -> Response:
    runtime = current_app.extensions["fusion_bridge"]
    try:
        body = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return xml_error(413, f"body larger than {runtime.config.max_body_bytes} bytes",
                         protocol.sniff_encoding(b"", request.content_type))
    try:
        decoded = protocol.decode_request(body, request.content_type, runtime.limits)
    except protocol.ProtocolError as error:
        return xml_error(error.status, error.reason, error.encoding)
    reply = runtime.exchange.handle(decoded.message, request.user_agent.string or None)
    payload, content_type = protocol.encode_reply(reply, decoded.encoding)
    return Response(payload, 200, content_type=content_type)


def rest_call() -> Response:
    action = request.args.get("action")
    machine_id = request.args.get("machineid")
    if not action:
        return json_error(400, "expected a POST of an XML REQUEST, or GET ?action=getConfig&machineid=...")
    if action != "getConfig":
        return json_error(400, f"unknown action {action[:40]!r} on the agent endpoint")
    if not machine_id:
        return json_error(400, "missing machineid")
    runtime = current_app.extensions["fusion_bridge"]
    answer = runtime.rest.get_config(machine_id)
    if answer is None:
        return json_error(400, "unknown or locked agent", log_reason=f"getConfig for unknown machineid {machine_id[:80]!r}")
    return Response(json.dumps(answer, separators=(",", ":")), 200, content_type="application/json")
