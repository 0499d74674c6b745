"""The SNMP credential of a network device or printer in the admin API:
``GET|PATCH /api/devices/<networkequipment|printer>/<id>/credential`` (``{"credential": 3}``;
``0`` or ``null`` clears it). The service is ``services.admin.snmp_credentials``.
"""

from __future__ import annotations

from fusion_bridge.http.admin.definitions import _body, _engine, _json
from fusion_bridge.http.admin.blueprints import admin_blueprint
from fusion_bridge.services.admin import snmp_credentials
from fusion_bridge.services.admin.base import DefinitionError, user_fields

bp = admin_blueprint("admin_devices", "/api/devices")


@bp.get("/<kind>/<int:device_id>/credential")
def show_device_credential(kind: str, device_id: int):
    return _json(snmp_credentials.get_device_credential(_engine(), f"{kind}:{device_id}"))


@bp.patch("/<kind>/<int:device_id>/credential")
def set_device_credential(kind: str, device_id: int):
    values = user_fields(_body(), {"credential": "credential"}, "device credential")
    if "credential" not in values:
        raise DefinitionError("credential is required: an SNMP credential id, or null to clear it")
    return _json(snmp_credentials.set_device_credential(_engine(), f"{kind}:{device_id}", values["credential"]))
