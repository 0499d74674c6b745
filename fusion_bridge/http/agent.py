"""The agent endpoint's non-XML side: REST ``getConfig`` and clear refusals.

Agent XML POSTs never get here: ``xml_endpoint.AgentXmlEndpoint`` answers them first. getConfig
is answered on the plugin paths (FusionInventory's and glpiinventory's); GLPI's core paths
refuse it as GLPI 10 does (docs/glpi10-protocol.md §2, docs/glpi10-protocol.md §6).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

import protocol
from fusion_bridge.errors import DomainError
from fusion_bridge.http.errors import json_error, json_failure, log_refusal, xml_error
from fusion_bridge.http.paths import PLUGIN_DIRS, is_agent_path, is_core_agent_path, plugin_dir_of
from fusion_bridge.services.rest.calls import PLUGIN_PATH
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


# GLPI 10's answer to a REST call on its core inventory endpoint (docs/glpi10-protocol.md §2).
CORE_REST_REFUSAL = b'{"status":"error","message":"Protocol not supported","expiration":24}'


def rest_call() -> Response:
    action = request.args.get("action")
    if not action:
        return json_error(400, "expected a POST of an XML REQUEST, or GET ?action=getConfig&machineid=...")
    if is_core_agent_path(request.path):
        log_refusal(request.method, request.path, request.remote_addr, 400,
                    "REST call on GLPI's core inventory path: agents use the plugin's path")
        return Response(CORE_REST_REFUSAL, 400, content_type="application/json")
    if action != "getConfig":
        return json_error(400, f"unknown action {action[:40]!r} on the agent endpoint")
    try:
        answer = get_config_answer(services(), request)
    except DomainError as error:  # here, not by a blueprint handler: admin's views call this one too
        return json_failure(error)
    return Response(php_json(answer), 200, content_type="application/json")


def get_config_answer(services_, req) -> dict:
    """The getConfig answer for ``req``, its ``remote`` URLs under the plugin folder the agent
    used (docs/glpi10-protocol.md §6)."""
    answer = services_.rest.get_config(req.args.get("machineid"), requested_tasks(req.args),
                                       lambda: request_base_url(req))
    return remotes_under(answer, plugin_dir_of(req.path))


def remotes_under(answer: dict, plugin_dir: str) -> dict:
    """``answer`` with each schedule entry's ``…/plugins/fusioninventory/b/…`` remote moved to
    ``plugin_dir``. (Interim: the REST service builds FusionInventory's path; it could take the
    folder as an argument instead.)"""
    if plugin_dir == PLUGIN_PATH or not answer.get("schedule"):
        return answer
    old = f"{PLUGIN_PATH}/b/"
    schedule = []
    for entry in answer["schedule"]:
        remote = entry.get("remote")
        if isinstance(remote, str) and old in remote:
            head, _, tail = remote.rpartition(old)
            entry = {**entry, "remote": f"{head}{plugin_dir}/b/{tail}"}
        schedule.append(entry)
    return {**answer, "schedule": schedule}


TASK_ARGUMENT = re.compile(r"^task\[([^\]]+)\]$")


def requested_tasks(args) -> list[str]:
    """The names of the ``task[Name]=version`` arguments, in request order."""
    return [match.group(1) for key in args if (match := TASK_ARGUMENT.match(key))]


def request_base_url(req) -> str:
    """Scheme, host and prefix (before the plugin folder, ``/ocsinventory`` or GLPI's
    ``/front/inventory.php``) request ``req`` came in on."""
    path = req.script_root + req.path
    cuts = [path.find(f"/{each}/") for each in PLUGIN_DIRS]
    cut = min((each for each in cuts if each >= 0), default=-1)
    if cut < 0:
        cut = path.rfind("/ocsinventory")
    if cut < 0:
        cut = path.rfind("/front/inventory.php")
    prefix = path[:cut] if cut >= 0 else ""
    return req.host_url.rstrip("/") + prefix
