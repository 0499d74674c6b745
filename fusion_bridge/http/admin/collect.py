"""Collect definitions in the admin API: ``/api/collects`` (GET, POST), ``/api/collects/<id>``
(GET, PATCH, DELETE), ``POST /api/collects/<id>/items`` and ``DELETE
/api/collects/<id>/items/<item id>``. The service is ``services.admin.collect_definitions``.
"""

from __future__ import annotations

from fusion_bridge.http.admin.definitions import _body, _created, _engine, _json
from fusion_bridge.http.admin.blueprints import admin_blueprint
from fusion_bridge.services.admin import collect_definitions as collects

bp = admin_blueprint("admin_collect", "/api/collects")


@bp.get("")
def list_collects():
    return _json({"collects": collects.list_collects(_engine())})


@bp.post("")
def create_collect():
    collect = collects.create_collect_from(_engine(), _body())
    return _created(collect, f"/api/collects/{collect['id']}")


@bp.get("/<int:collect_id>")
def show_collect(collect_id: int):
    return _json(collects.get_collect(_engine(), collect_id))


@bp.patch("/<int:collect_id>")
def update_collect(collect_id: int):
    return _json(collects.update_collect(_engine(), collect_id, _body()))


@bp.delete("/<int:collect_id>")
def delete_collect(collect_id: int):
    return _json(collects.delete_collect(_engine(), collect_id))


@bp.post("/<int:collect_id>/items")
def add_item(collect_id: int):
    return _created(collects.add_item(_engine(), collect_id, _body()), f"/api/collects/{collect_id}")


@bp.delete("/<int:collect_id>/items/<int:item_id>")
def remove_item(collect_id: int, item_id: int):
    return _json(collects.remove_item(_engine(), collect_id, item_id))
