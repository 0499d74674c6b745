"""ESX hosts and their credentials in the admin API: ``/api/esx/credentials`` and
``/api/esx/hosts`` (GET, POST), ``/api/esx/credentials/<id>`` and ``/api/esx/hosts/<id>`` (GET,
PATCH, DELETE). Passwords are taken, never given back (``"password": "set"``). The service is
``services.admin.esx_hosts``.
"""

from __future__ import annotations

from fusion_bridge.http.admin.definitions import _body, _created, _engine, _json
from fusion_bridge.http.admin.blueprints import admin_blueprint
from fusion_bridge.services.admin import esx_hosts

bp = admin_blueprint("admin_esx", "/api/esx")


@bp.get("/credentials")
def list_credentials():
    return _json({"credentials": esx_hosts.list_credentials(_engine())})


@bp.post("/credentials")
def create_credential():
    credential = esx_hosts.create_credential_from(_engine(), _body())
    return _created(credential, f"/api/esx/credentials/{credential['id']}")


@bp.get("/credentials/<int:credential_id>")
def show_credential(credential_id: int):
    return _json(esx_hosts.get_credential(_engine(), credential_id))


@bp.patch("/credentials/<int:credential_id>")
def update_credential(credential_id: int):
    return _json(esx_hosts.update_credential(_engine(), credential_id, _body()))


@bp.delete("/credentials/<int:credential_id>")
def delete_credential(credential_id: int):
    return _json(esx_hosts.delete_credential(_engine(), credential_id))


@bp.get("/hosts")
def list_hosts():
    return _json({"hosts": esx_hosts.list_hosts(_engine())})


@bp.post("/hosts")
def create_host():
    host = esx_hosts.create_host_from(_engine(), _body())
    return _created(host, f"/api/esx/hosts/{host['id']}")


@bp.get("/hosts/<int:host_id>")
def show_host(host_id: int):
    return _json(esx_hosts.get_host(_engine(), host_id))


@bp.patch("/hosts/<int:host_id>")
def update_host(host_id: int):
    return _json(esx_hosts.update_host(_engine(), host_id, _body()))


@bp.delete("/hosts/<int:host_id>")
def delete_host(host_id: int):
    return _json(esx_hosts.delete_host(_engine(), host_id))
