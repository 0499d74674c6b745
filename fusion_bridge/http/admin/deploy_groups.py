"""Deploy groups in the admin API: ``/api/deploy/groups`` (GET, POST),
``/api/deploy/groups/<id>`` (GET, PATCH, DELETE), ``POST|DELETE
/api/deploy/groups/<id>/computers`` (``{"computers": [ids]}``, static groups). A dynamic group
is created with its criterion: ``{"type": "dynamic", "computer_name": "^pc-", "entity": 2,
"entity_recursive": true, "location": 4, "with_agent": true}``. The service is
``services.admin.deploy_groups``.
"""

from __future__ import annotations

from fusion_bridge.http.admin.definitions import _body, _created, _engine, _json
from fusion_bridge.http.admin.blueprints import admin_blueprint
from fusion_bridge.services.deploy import groups as deploy_groups
from fusion_bridge.services.admin.base import user_fields

bp = admin_blueprint("admin_deploy_groups", "/api/deploy/groups")


def _computers() -> list:
    values = user_fields(_body(), {"computers": "computers"}, "computers", {"computer": "computers"})
    return values.get("computers")


@bp.get("")
def list_groups():
    return _json({"groups": deploy_groups.list_groups(_engine())})


@bp.post("")
def create_group():
    group = deploy_groups.create_group_from(_engine(), _body())
    return _created(group, f"/api/deploy/groups/{group['id']}")


@bp.get("/<int:group_id>")
def show_group(group_id: int):
    return _json(deploy_groups.get_group(_engine(), group_id))


@bp.patch("/<int:group_id>")
def update_group(group_id: int):
    return _json(deploy_groups.update_group(_engine(), group_id, _body()))


@bp.delete("/<int:group_id>")
def delete_group(group_id: int):
    return _json(deploy_groups.delete_group(_engine(), group_id))


@bp.post("/<int:group_id>/computers")
def add_computers(group_id: int):
    return _json(deploy_groups.add_computers(_engine(), group_id, _computers()))


@bp.delete("/<int:group_id>/computers")
def remove_computers(group_id: int):
    return _json(deploy_groups.remove_computers(_engine(), group_id, _computers()))
