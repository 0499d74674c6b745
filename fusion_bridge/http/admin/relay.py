"""The inventory relay in the admin API (same token, errors and status codes as ``http/admin/definitions.py``):

- ``GET /api/relay``: status (queued, in flight, dead, oldest age, deliveries, latency, last error)
- ``GET /api/relay/documents[?dead=1&limit=N]``: the queue, oldest first
- ``POST /api/relay/documents/<id>/retry``, ``POST /api/relay/dead/retry``: queue again
- ``DELETE /api/relay/dead``: purge the dead letters
- ``GET /api/relay/agents/<id or DEVICEID>``: an agent's last delivery and waiting documents
"""

from __future__ import annotations

from flask import current_app, request

from fusion_bridge.http.admin import definitions as admin
from fusion_bridge.http.admin.blueprints import admin_blueprint
from fusion_bridge.services.relay import views
from fusion_bridge.services.relay.settings import RelaySettings, caps_of

bp = admin_blueprint("admin_relay", "/api/relay")


@bp.get("")
def relay_status():
    config = current_app.extensions["fusion_bridge"].config
    upstream = None
    if config.inventory_upstream:
        try:
            upstream = RelaySettings.from_config(config).upstream.display
        except ValueError:
            upstream = "(invalid upstream setting)"
    caps = caps_of(config)
    return admin._json(views.status(admin._engine(), upstream,
                                    {"max_documents": caps.max_documents, "max_bytes": caps.max_bytes}))


@bp.get("/documents")
def relay_documents():
    dead = request.args.get("dead", "").lower() in ("1", "true", "yes")
    return admin._json({"documents": views.documents(admin._engine(), dead, request.args.get("limit"))})


@bp.post("/documents/<int:document_id>/retry")
def relay_retry(document_id: int):
    return admin._json(views.retry(admin._engine(), document_id))


@bp.post("/dead/retry")
def relay_retry_dead():
    return admin._json(views.retry(admin._engine(), all_dead=True))


@bp.delete("/dead")
def relay_purge_dead():
    return admin._json(views.purge_dead(admin._engine()))


@bp.get("/agents/<path:agent>")
def relay_agent(agent: str):
    return admin._json(views.agent_view(admin._engine(), agent))
