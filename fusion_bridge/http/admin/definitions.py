"""The JSON admin API under ``/api/``: tasks, actions, IP ranges, SNMP credentials, timeslots,
what is running now and the history.

Every call needs the token of ``FUSION_BRIDGE_ADMIN_TOKEN`` in ``Authorization: Bearer <token>``
(or ``X-Fusion-Bridge-Token``); without a configured token the API is disabled (403). Routes
are thin: they call ``services.definitions*`` and ``services.history``, which validate.
Errors are JSON ``{"error": ...}``: 400 bad input, 401 bad token, 404 unknown id or path.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any, Callable, Iterable, Mapping

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from fusion_bridge.errors import InvalidRequest
from fusion_bridge.http import agent
from fusion_bridge.http.errors import failed, log_refusal
from fusion_bridge.http.paths import is_agent_path
from fusion_bridge.http.services import services
from fusion_bridge.services.admin import definitions
from fusion_bridge.services.views import history
from fusion_bridge.services.admin import network
from fusion_bridge.services.admin import timeslots
from fusion_bridge.services.admin import snmp_credentials
from fusion_bridge.services.admin import task_settings
from fusion_bridge.services.admin.base import user_fields

log = logging.getLogger("fusion_bridge.admin")

bp = Blueprint("admin", __name__, url_prefix="/api")

DISABLED = "admin API disabled: set FUSION_BRIDGE_ADMIN_TOKEN"
MAX_BODY = 1024 * 1024
METHODS = ("GET", "POST", "PATCH", "DELETE")
ALL_METHODS = (*METHODS, "PUT")


def _json(value: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(value, ensure_ascii=False), status, content_type="application/json",
                    headers=headers)


def _error(status: int, reason: str, headers: dict | None = None) -> Response:
    log_refusal(request.method, request.path, request.remote_addr, status, reason)
    return _json({"error": reason}, status, headers)


def _engine():
    return services().engine


def _given_token() -> str | None:
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("X-Fusion-Bridge-Token") or None


@bp.before_request
def _authenticate():
    if request.endpoint == "admin.unknown" and is_agent_path(request.path):
        # An agent given a server URL below /api/ (GLPI installed at /api/...) still gets answers.
        return agent.agent_endpoint(request.path.lstrip("/"))
    expected = services().config.admin_token
    if not expected:
        return _error(403, DISABLED)
    given = _given_token()
    if given is None or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return _error(401, "missing or wrong admin token",
                      {"WWW-Authenticate": 'Bearer realm="fusion-bridge"'})
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, f"request body larger than {MAX_BODY} bytes")
    return None


@bp.errorhandler(Exception)
def answer_failure(error: Exception):
    """Every error of an admin call, mapped and logged by ``http.errors``; werkzeug's own
    refusals are explained in a sentence."""
    failure = failed(error)
    return _json({"error": failure.explanation or failure.reason}, failure.status)


def _body() -> dict:
    value = request.get_json(force=True, silent=True)
    if not isinstance(value, dict):
        raise InvalidRequest("expected a JSON object in the request body")
    return value


def _call(function: Callable, fields: Iterable[str] | Mapping[str, str], body: dict, *args, what: str,
          positional: tuple = (), aliases: Mapping[str, str] | None = None):
    """``function(engine, *args, *body[positional], **rest of body)`` after checking the keys.

    ``fields`` as a mapping: user-facing names (the CLI's) → the function's parameter names,
    which ``positional`` then names; the parameter names and ``aliases`` are accepted too.
    """
    if isinstance(fields, Mapping):
        values = user_fields(body, fields, what, aliases)
    else:
        definitions.reject_unknown(body, fields, what)
        values = dict(body)
    leading = [values.pop(name, None) for name in positional]
    return function(_engine(), *args, *leading, **values)


def _created(value: dict, location: str) -> Response:
    return _json(value, 201, {"Location": location})


# --- tasks -----------------------------------------------------------------------------------


@bp.get("/tasks")
def list_tasks():
    return _json({"tasks": definitions.list_tasks(_engine())})


@bp.post("/tasks")
def create_task():
    task = definitions.create_task_from(_engine(), _body())
    return _created(task, f"/api/tasks/{task['id']}")


@bp.get("/tasks/<int:task_id>")
def show_task(task_id: int):
    return _json(definitions.get_task(_engine(), task_id))


@bp.patch("/tasks/<int:task_id>")
def update_task(task_id: int):
    return _json(definitions.update_task(_engine(), task_id, _body()))


@bp.delete("/tasks/<int:task_id>")
def delete_task(task_id: int):
    return _json(definitions.delete_task(_engine(), task_id))


@bp.post("/tasks/<int:task_id>/enable")
def enable_task(task_id: int):
    return _json(definitions.enable_task(_engine(), task_id))


@bp.post("/tasks/<int:task_id>/disable")
def disable_task(task_id: int):
    return _json(definitions.disable_task(_engine(), task_id))


@bp.get("/tasks/<int:task_id>/actions")
def list_actions(task_id: int):
    return _json({"actions": definitions.list_actions(_engine(), task_id)})


@bp.post("/tasks/<int:task_id>/actions")
def add_action(task_id: int):
    action = definitions.add_action_from(_engine(), task_id, _body())
    return _created(action, f"/api/actions/{action['id']}")


@bp.get("/actions/<int:action_id>")
def show_action(action_id: int):
    return _json(definitions.get_action(_engine(), action_id))


@bp.patch("/actions/<int:action_id>")
def update_action(action_id: int):
    return _json(definitions.update_action(_engine(), action_id, _body()))


@bp.delete("/actions/<int:action_id>")
def remove_action(action_id: int):
    return _json(definitions.remove_action(_engine(), action_id))


@bp.get("/tasks/<int:task_id>/settings")
def show_task_settings(task_id: int):
    return _json(task_settings.get_task_settings(_engine(), task_id))


@bp.patch("/tasks/<int:task_id>/settings")
def update_task_settings(task_id: int):
    return _json(task_settings.set_task_settings(_engine(), task_id, _body()))


@bp.get("/actions/<int:action_id>/settings")
def show_action_settings(action_id: int):
    return _json(task_settings.get_job_settings(_engine(), action_id))


@bp.patch("/actions/<int:action_id>/settings")
def update_action_settings(action_id: int):
    return _json(task_settings.set_job_settings(_engine(), action_id, _body()))


# --- IP ranges, credentials, timeslots -------------------------------------------------------


@bp.get("/ipranges")
def list_ipranges():
    return _json({"ipranges": network.list_ipranges(_engine())})


@bp.post("/ipranges")
def create_iprange():
    iprange = _call(network.create_iprange, network.IPRANGE_NAMES, _body(), what="IP range",
                    positional=("name", "ip_start", "ip_end"), aliases=network.IPRANGE_ALIASES)
    return _created(iprange, f"/api/ipranges/{iprange['id']}")


@bp.get("/ipranges/<int:range_id>")
def show_iprange(range_id: int):
    return _json(network.get_iprange(_engine(), range_id))


@bp.patch("/ipranges/<int:range_id>")
def update_iprange(range_id: int):
    return _json(network.update_iprange(_engine(), range_id, _body()))


@bp.delete("/ipranges/<int:range_id>")
def delete_iprange(range_id: int):
    return _json(network.delete_iprange(_engine(), range_id))


CREDENTIAL_FIELDS = tuple(snmp_credentials.CREDENTIAL_NAMES)


@bp.get("/credentials")
def list_credentials():
    return _json({"credentials": network.list_credentials(_engine())})


@bp.post("/credentials")
def create_credential():
    credential = _call(network.create_credential, CREDENTIAL_FIELDS, _body(), what="credential",
                       positional=("name", "version"))
    return _created(credential, f"/api/credentials/{credential['id']}")


@bp.get("/credentials/<int:credential_id>")
def show_credential(credential_id: int):
    return _json(network.get_credential(_engine(), credential_id))


@bp.patch("/credentials/<int:credential_id>")
def update_credential(credential_id: int):
    return _json(snmp_credentials.update_credential(_engine(), credential_id, _body()))


@bp.delete("/credentials/<int:credential_id>")
def delete_credential(credential_id: int):
    """To the trash, as GLPI's Delete; ``?purge=1`` removes the row."""
    purge = definitions.flag(request.args.get("purge", "0"), "purge")
    return _json(snmp_credentials.delete_credential(_engine(), credential_id, purge=bool(purge)))


@bp.post("/credentials/<int:credential_id>/restore")
def restore_credential(credential_id: int):
    return _json(snmp_credentials.restore_credential(_engine(), credential_id))


TIMESLOT_FIELDS = timeslots.TIMESLOT_NAMES


@bp.get("/timeslots")
def list_timeslots():
    return _json({"timeslots": timeslots.list_timeslots(_engine())})


@bp.post("/timeslots")
def create_timeslot():
    slot = _call(timeslots.create_timeslot, TIMESLOT_FIELDS, _body(), what="timeslot",
                 positional=("name", "entries_given"), aliases=timeslots.TIMESLOT_ALIASES)
    return _created(slot, f"/api/timeslots/{slot['id']}")


@bp.get("/timeslots/<int:slot_id>")
def show_timeslot(slot_id: int):
    return _json(timeslots.get_timeslot(_engine(), slot_id))


@bp.delete("/timeslots/<int:slot_id>")
def delete_timeslot(slot_id: int):
    return _json(timeslots.delete_timeslot(_engine(), slot_id))


# --- runs ------------------------------------------------------------------------------------


@bp.get("/running")
def running():
    args = request.args
    return _json({"runs": history.running_now(_engine(), task_id=args.get("task"), agent_id=args.get("agent"),
                                              limit=args.get("limit"))})


@bp.get("/history")
def run_history():
    args = request.args
    return _json({"runs": history.history(
        _engine(), task_id=args.get("task"), agent_id=args.get("agent"), run_id=args.get("run"),
        action_id=args.get("action"), limit=args.get("limit"), log_limit=args.get("log_limit"))})


# --- everything else under /api/ -------------------------------------------------------------


@bp.route("/", defaults={"rest": ""}, methods=ALL_METHODS, strict_slashes=False)
@bp.route("/<path:rest>", methods=ALL_METHODS)
def unknown(rest: str):
    """A path no route above takes, or one of them with another method (405)."""
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "admin.unknown":
            allowed.append(method)
    if allowed:
        return _error(405, f"method {request.method} not allowed on {request.path}",
                      {"Allow": ", ".join(allowed)})
    return _error(404, f"no admin API endpoint at {request.path}")
