"""Agents in the admin API: ``GET /api/agents[?seen_since=7d&module=DEPLOY&limit=N]``,
``GET|DELETE /api/agents/<id or DEVICEID>``, ``POST /api/agents/<id or DEVICEID>/lock|unlock``.
The service is ``services.admin.agents``.
"""

from __future__ import annotations

from flask import request

from fusion_bridge.http.admin.definitions import _engine, _json
from fusion_bridge.http.admin.blueprints import admin_blueprint
from fusion_bridge.services.admin import agents

bp = admin_blueprint("admin_agents", "/api/agents")


@bp.get("")
def list_agents():
    args = request.args
    return _json({"agents": agents.list_agents(_engine(), seen_since=args.get("seen_since"),
                                               module=args.get("module"), limit=args.get("limit"))})


@bp.get("/<agent>")
def show_agent(agent: str):
    return _json(agents.get_agent(_engine(), agent))


@bp.post("/<agent>/lock")
def lock_agent(agent: str):
    return _json(agents.lock_agent(_engine(), agent))


@bp.post("/<agent>/unlock")
def unlock_agent(agent: str):
    return _json(agents.unlock_agent(_engine(), agent))


@bp.delete("/<agent>")
def delete_agent(agent: str):
    return _json(agents.delete_agent(_engine(), agent))
