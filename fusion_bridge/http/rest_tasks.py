"""The REST task endpoints the ``getConfig`` schedule points agents to, under any prefix and
under each plugin folder (``plugins/fusioninventory``, ``plugins/glpiinventory``,
``marketplace/glpiinventory``: docs/glpi10-protocol.md §6): ``…/b/deploy/`` (getJobs,
getFilePart, setStatus, setUserEvent), ``…/b/collect/`` (getJobs, setAnswer as GET or POSTed
form, jobsDone) and ``…/b/esx/`` (getJobs, setLog).

Their rules have more static parts than the agent blueprint's catch-all, so they win. These
POSTs are not agent XML (``http.paths`` does not match them): they reach Flask. Answers are
PHP-style ASCII JSON; refusals are ``{"error": ...}`` with a 4xx.
"""

from __future__ import annotations

from flask import Blueprint, Response, request, send_file

from fusion_bridge.errors import DomainError
from fusion_bridge.http.agent import request_base_url
from fusion_bridge.http.errors import json_error, json_failure
from fusion_bridge.http.paths import PLUGIN_DIRS
from fusion_bridge.http.services import services as _services
from fusion_bridge.ops import metrics
from fusion_bridge.domain.text import php_json

bp = Blueprint("rest_tasks", __name__)
# What the services refuse (``fusion_bridge.errors``), as JSON even to a POST; anything else
# goes to the app's handlers.
bp.register_error_handler(DomainError, json_failure)

BASES = tuple(f"{each}/b" for each in PLUGIN_DIRS)


def _json(value: dict) -> Response:
    return Response(php_json(value), 200, content_type="application/json")


def _route(task: str):
    def register(view):
        for base in BASES:
            for rule in (f"/{base}/{task}/", f"/<path:prefix>/{base}/{task}/"):
                bp.add_url_rule(rule, f"{task}_{rule.count('<')}", view, methods=["GET", "POST"],
                                strict_slashes=False)
        return view
    return register


@_route("collect")
def collect(prefix: str = "") -> Response:
    action = request.args.get("action") or (request.form.get("action") if request.method == "POST" else None)
    service = _services().collect
    if action == "getJobs" and request.method == "GET":
        return _json(service.get_jobs(request.args.get("machineid")))
    if action == "setAnswer":
        values = request.form if request.method == "POST" else request.args
        uuid = request.args.get("uuid") or values.get("uuid")
        return _json(service.set_answer(uuid, dict(values.items())))
    if action == "jobsDone" and request.method == "GET":
        return _json(service.jobs_done(request.args.get("uuid")))
    return json_error(400, f"unknown collect action {str(action)[:40]!r} for {request.method}")


@_route("esx")
def esx(prefix: str = "") -> Response:
    action = request.args.get("action")
    service = _services().esx
    if request.method != "GET":
        return json_error(405, "ESX calls are GET requests")
    if action == "getJobs":
        return _json(service.get_jobs(request.args.get("machineid")))
    if action == "setLog":
        args = request.args
        return _json(service.set_log(args.get("machineid"), args.get("uuid"), args.get("code"), args.get("msg")))
    return json_error(400, f"unknown ESX action {str(action)[:40]!r}")


@_route("deploy")
def deploy(prefix: str = "") -> Response:
    action = request.args.get("action")
    if request.method != "GET":
        return json_error(405, "Deploy calls are GET requests")
    services, args = _services(), request.args
    if action == "getJobs":
        return _json(services.deploy.get_jobs(args.get("machineid"), args.get("version"),
                                              lambda: request_base_url(request)))
    if action == "getFilePart":
        return _file_part(services.deploy.file_part(args.get("machineid"), args.get("file")))
    if action == "setStatus":
        # msg[]=...&msg[]=... (a list of lines) or msg=...
        msg = args.getlist("msg[]") or args.get("msg")
        return _json(services.deploy_status.set_status(
            args.get("machineid"), args.get("uuid"), args.get("status"), msg, args.get("currentStep")))
    if action == "setUserEvent":
        return _json(services.deploy_status.set_user_event(
            args.get("machineid"), args.get("uuid"), args.get("behavior"), args.get("type"),
            args.get("event"), args.get("user"), args.get("currentStep")))
    return json_error(400, f"unknown Deploy action {str(action)[:40]!r}")


def _file_part(path) -> Response:
    # Streamed from disk (sendfile under gunicorn); the agent checks the sha512 of the bytes.
    response = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=path.name, conditional=False, etag=False, max_age=None)
    response.headers["Content-Disposition"] = f"attachment; filename={path.name}"
    metrics.current.deploy_bytes(response.content_length or 0)
    return response
