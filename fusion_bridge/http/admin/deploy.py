"""The admin API for Deploy under ``/api/deploy/``: files, packages, mirrors, deploying.

Same token and error replies as ``admin`` (``Authorization: Bearer <token>``; JSON
``{"error": ...}`` with 400 bad input, 401 bad token, 404 unknown id, 413 too large). Routes are
thin: the services ``deploy_packages`` and ``deploy_mirrors`` validate and write.

``POST /api/deploy/files?name=setup.exe[&entity=0][&comment=…]`` takes the file as the raw
request body and streams it into the repository in 1 MiB parts, never whole in memory, up to
``deploy_max_upload_bytes``; every other call takes a JSON body of at most ``admin.MAX_BODY``.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, request

from fusion_bridge.adapters.db_retry import single_attempt
from fusion_bridge.errors import InvalidRequest, Unavailable
from fusion_bridge.http.admin import definitions as admin
from fusion_bridge.http.admin.definitions import _body, _call, _created, _engine, _error, _json
from fusion_bridge.http.services import services
from fusion_bridge.services.deploy import mirrors
from fusion_bridge.services.deploy import packages
from fusion_bridge.services.admin.base import user_fields
from fusion_bridge.adapters.deploy_repository import FileRepository

bp = Blueprint("admin_deploy", __name__, url_prefix="/api/deploy")

# User-facing names (the CLI's options) → the services' parameters, which are accepted too.
PACKAGE_FIELDS = {"name": "name", "entity": "entities_id", "comment": "comment", "recursive": "is_recursive"}
FILE_FIELDS = {"file": "file", "name": "name", "p2p": "p2p", "p2p_retention": "p2p_retention_minutes",
               "uncompress": "uncompress"}
DEPLOY_FIELDS = {"computers": "computers", "groups": "groups", "deploygroups": "deploygroups", "agents": "agents",
                 "task_name": "task_name", "entity": "entities_id", "active": "active",
                 "again_after_success": "reprepare_if_successful"}
DEPLOY_ALIASES = {"computer": "computers", "group": "groups", "deploygroup": "deploygroups", "agent": "agents"}
MIRROR_FIELDS = {"name": "name", "url": "url", "entity": "entities_id", "recursive": "is_recursive",
                 "location": "locations_id", "active": "is_active", "comment": "comment"}
UPLOAD_ENDPOINT = "admin_deploy.upload_file"


def _settings():
    return services().config


def _repository() -> FileRepository:
    return services().repository


@bp.before_request
def _authenticate():
    expected = _settings().admin_token
    if not expected:
        return _error(403, admin.DISABLED)
    given = admin._given_token()
    if given is None or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return _error(401, "missing or wrong admin token", {"WWW-Authenticate": 'Bearer realm="fusion-bridge"'})
    limit = _settings().deploy_max_upload_bytes if request.endpoint == UPLOAD_ENDPOINT else admin.MAX_BODY
    if (request.content_length or 0) > limit:
        return _error(413, f"request body larger than {limit} bytes")
    # Also bounds a body sent without Content-Length (chunked): reading past it raises 413.
    request.max_content_length = limit
    return None


@bp.errorhandler(OSError)
def _repository_error(error: OSError):
    # The only files these calls touch are the deploy repository's.
    return admin.answer_failure(Unavailable(f"deploy repository unavailable: {error.strerror or error}",
                                            f"deploy repository error: {error}"))


bp.register_error_handler(Exception, admin.answer_failure)


# --- files -----------------------------------------------------------------------------------


@bp.post("/files")
@single_attempt  # the body is streamed into the repository: it cannot be read twice
def upload_file():
    args = request.args
    if request.content_length == 0 or (request.content_length is None and not request.environ.get(
            "wsgi.input_terminated")):
        raise InvalidRequest("send the file as the request body (with a Content-Length)")
    stored = mirrors.store_file(_engine(), _repository(), request.stream, args.get("name"),
                                entities_id=args.get("entity", args.get("entities_id", 0)),
                                comment=args.get("comment"))
    return _json(stored, 201 if stored["added"] else 200, {"Location": f"/api/deploy/files/{stored['id']}"})


@bp.get("/files")
def list_files():
    return _json({"files": mirrors.list_files(_engine(), _repository())})


# --- packages --------------------------------------------------------------------------------


@bp.get("/packages")
def list_packages():
    return _json({"packages": packages.list_packages(_engine())})


@bp.post("/packages")
def create_package():
    package = _call(packages.create_package, PACKAGE_FIELDS, _body(), what="package", positional=("name",))
    return _created(package, f"/api/deploy/packages/{package['id']}")


@bp.get("/packages/<int:package_id>")
def show_package(package_id: int):
    return _json(packages.get_package(_engine(), package_id))


@bp.delete("/packages/<int:package_id>")
def delete_package(package_id: int):
    return _json(packages.delete_package(_engine(), package_id))


@bp.post("/packages/<int:package_id>/checks")
def add_check(package_id: int):
    return _created(packages.add_check(_engine(), package_id, _body()), f"/api/deploy/packages/{package_id}")


@bp.post("/packages/<int:package_id>/actions")
def add_action(package_id: int):
    return _created(packages.add_action(_engine(), package_id, _body()), f"/api/deploy/packages/{package_id}")


@bp.post("/packages/<int:package_id>/files")
def attach_file(package_id: int):
    values = user_fields(_body(), FILE_FIELDS, "file")
    file = values.pop("file", None)
    package = packages.attach_file(_engine(), package_id, file, repository=_repository(), **values)
    return _created(package, f"/api/deploy/packages/{package_id}")


@bp.delete("/packages/<int:package_id>/<any(checks, actions, files):kind>/<int:index>")
def remove_entry(package_id: int, kind: str, index: int):
    return _json(packages.remove_entry(_engine(), package_id, kind[:-1], index))


@bp.post("/packages/<int:package_id>/deploy")
def deploy_package(package_id: int):
    task = _call(packages.deploy_package, DEPLOY_FIELDS, _body(), package_id, what="deploy", aliases=DEPLOY_ALIASES)
    return _created(task, f"/api/tasks/{task['id']}")


# --- mirrors ---------------------------------------------------------------------------------


@bp.get("/mirrors")
def list_mirrors():
    return _json({"mirrors": mirrors.list_mirrors(_engine())})


@bp.post("/mirrors")
def add_mirror():
    mirror = _call(mirrors.add_mirror, MIRROR_FIELDS, _body(), what="mirror", positional=("name", "url"))
    return _created(mirror, f"/api/deploy/mirrors/{mirror['id']}")


@bp.delete("/mirrors/<int:mirror_id>")
def remove_mirror(mirror_id: int):
    return _json(mirrors.remove_mirror(_engine(), mirror_id))
