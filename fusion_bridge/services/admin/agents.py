"""Agents for the administrator: list, show, lock, unlock, delete.

An agent is a row of ``glpi_plugin_fusioninventory_agents`` (docs/schema.md §2.1), created at
its first XML contact. What is shown with it: its last contact address as the bridge recorded
it (``glpi_plugin_fusionbridge_agentaddresses``), its computer, the modules it may run — the
agent-module switches with their exceptions (§2.2: active = every agent but the exceptions,
inactive = only the exceptions) — and its runs by state.

``lock`` is the plugin's ``lock`` column: a locked agent's REST calls (getConfig, Deploy,
Collect, ESX) are refused with HTTP 400, as the plugin does; its XML contacts (PROLOG,
inventory, network tasks) go on, as in the plugin.

``delete`` removes the row as GLPI does (GLPI's purge of an agent touches no other table:
runs and logs stay, naming an agent id that is gone) and, beyond GLPI, everything the bridge
keeps about the agent (address, wake-ups, last inventory, REST token) and the agent's id in the
module exceptions, where a reused id would inherit them. The agent's unfinished runs
(Prepared, Started, Running) are cancelled with a log line, so that no execution waits for an
agent that no longer exists; their history stays. An agent that calls again is created again,
under a new id, as in GLPI. Each public function runs in one transaction of its own.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.domain.text import local_now, php_json
from fusion_bridge.services import runs as runs_service
from fusion_bridge.services.admin.base import (
    CHUNK,
    DefinitionError,
    NotFound,
    date_text,
    parse_datetime,
    positive_id,
    state_word,
    ui_text,
)
from fusion_bridge.services.agent.settings import ModuleSwitch, parse_exceptions
from schema.constants import METHOD_MODULES

log = logging.getLogger("fusion_bridge.definitions")

agents = schema.agents
modules = schema.agentmodules
computers = schema.glpi_computers
addresses = schema.bridge_agentaddresses
runs = schema.taskjobstates

DELETED_COMMENT = "Agent deleted"
# What the bridge keeps per agent, keyed by ``plugin_fusioninventory_agents_id``.
BRIDGE_ROWS = (schema.bridge_agentaddresses, schema.bridge_wakeups, schema.bridge_inventories,
               schema.bridge_resttokens)
_SINCE = re.compile(r"^\s*(\d+)\s*(m|min|minutes?|h|hours?|d|days?|w|weeks?)\s*$", re.IGNORECASE)
_SINCE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_moment(value: Any, now: datetime | None = None) -> datetime | None:
    """A date (``2024-05-31 18:00``), or a duration back from now (``30m``, ``12h``, ``7d``, ``2w``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = _SINCE.match(str(value)) if isinstance(value, str) else None
    if match:
        unit = _SINCE_UNITS[match.group(2)[0].lower()]
        return (now or local_now()) - timedelta(**{unit: int(match.group(1))})
    try:
        return parse_datetime(value, "seen_since")
    except DefinitionError:
        raise DefinitionError(f"seen_since must be a date like 2024-05-31 18:00 or a duration like 30m, 12h, "
                              f"7d, got {value!r}") from None


def _switches(conn: Connection) -> dict[str, ModuleSwitch]:
    """Every module's switch, by its name as installed."""
    return {row.modulename: ModuleSwitch(bool(row.is_active), parse_exceptions(row.exceptions))
            for row in conn.execute(select(modules.c.modulename, modules.c.is_active, modules.c.exceptions)
                                    .order_by(modules.c.id))}


def _module_name(switches: dict[str, ModuleSwitch], value: Any) -> str:
    """The installed spelling of a module given by name (any case) or by a task method."""
    text = str(value).strip()
    wanted = METHOD_MODULES.get(text, METHOD_MODULES.get(text.lower(), text)).lower()
    for name in switches:
        if name.lower() == wanted:
            return name
    raise DefinitionError(f"unknown module {value!r}, expected one of: {', '.join(switches)}")


def _versions(raw: str | None) -> Any:
    """The ``version`` column: a JSON object module → version, or a legacy plain text."""
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, dict) else raw


def _base_query():
    return (select(agents, addresses.c.address, addresses.c.port.label("address_port"),
                   addresses.c.date.label("address_date"), computers.c.name.label("computer_name"))
            .select_from(agents
                         .outerjoin(addresses, addresses.c.plugin_fusioninventory_agents_id == agents.c.id)
                         .outerjoin(computers, computers.c.id == agents.c.computers_id)))


def _run_counts(conn: Connection, agent_ids: list[int]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {agent_id: {} for agent_id in agent_ids}
    for start in range(0, len(agent_ids), CHUNK):
        part = agent_ids[start:start + CHUNK]
        for agent_id, state, n in conn.execute(
                select(runs.c.plugin_fusioninventory_agents_id, runs.c.state, func.count())
                .where(runs.c.plugin_fusioninventory_agents_id.in_(part))
                .group_by(runs.c.plugin_fusioninventory_agents_id, runs.c.state)):
            counts[agent_id][state_word(state)] = n
    return counts


def _agent_dict(row, switches: dict[str, ModuleSwitch], run_counts: dict[str, int]) -> dict:
    return {
        "id": row.id,
        "device_id": row.device_id,
        "name": ui_text(row.name),
        "version": _versions(row.version),
        "useragent": row.useragent,
        "tag": row.tag or None,
        "last_contact": date_text(row.last_contact),
        "locked": bool(row.lock),
        "entities_id": row.entities_id,
        "address": (None if row.address is None else
                    {"address": row.address, "port": row.address_port, "date": date_text(row.address_date)}),
        "computer": (None if not row.computers_id else
                     {"id": row.computers_id, "name": ui_text(row.computer_name)}),
        "modules": [name for name, switch in switches.items() if switch.allows(row.id)],
        "runs": run_counts,
    }


def list_agents(engine: Engine, *, seen_since: Any = None, module: Any = None, limit: Any = 1000) -> list[dict]:
    """Agents by id; only those seen since a date or duration, or allowed to run a module."""
    limit = positive_id(limit if limit is not None else 1000, "limit")
    since = since_moment(seen_since)
    with engine.connect() as conn:
        switches = _switches(conn)
        query = _base_query().order_by(agents.c.id)
        if since is not None:
            query = query.where(agents.c.last_contact >= since)
        if module not in (None, ""):
            switch = switches[_module_name(switches, module)]
            found = [row for row in conn.execute(query) if switch.allows(row.id)][:limit]
        else:
            found = conn.execute(query.limit(limit)).all()
        counts = _run_counts(conn, [row.id for row in found])
    return [_agent_dict(row, switches, counts[row.id]) for row in found]


def _agent_row(conn: Connection, agent: Any, lock: bool = False):
    """An agent by id, or by DEVICEID (anything that is not a number)."""
    text = str(agent).strip() if agent is not None else ""
    if isinstance(agent, int) or text.isdigit():
        agent_id = positive_id(agent, "agent id")
        condition = agents.c.id == agent_id
        missing = f"agent {agent_id} does not exist"
    elif text:
        condition = agents.c.device_id == text
        missing = f"no agent with DEVICEID {text!r}"
    else:
        raise DefinitionError("agent id or DEVICEID is required")
    query = select(agents.c.id).where(condition).order_by(agents.c.id).limit(1)
    found = conn.execute(query.with_for_update() if lock else query).first()
    if found is None:
        raise NotFound(missing)
    return found


def _shown(conn: Connection, agent_id: int) -> dict:
    row = conn.execute(_base_query().where(agents.c.id == agent_id)).one()
    return _agent_dict(row, _switches(conn), _run_counts(conn, [agent_id])[agent_id])


def get_agent(engine: Engine, agent: Any) -> dict:
    """One agent (by id or DEVICEID) with its runs by state."""
    with engine.connect() as conn:
        return _shown(conn, _agent_row(conn, agent).id)


def set_locked(engine: Engine, agent: Any, locked: bool) -> dict:
    with engine.begin() as conn:
        agent_id = _agent_row(conn, agent, lock=True).id
        conn.execute(update(agents).where(agents.c.id == agent_id).values(lock=int(locked)))
        shown = _shown(conn, agent_id)
    log.info("agent %d %s", agent_id, "locked" if locked else "unlocked")
    return shown


def lock_agent(engine: Engine, agent: Any) -> dict:
    return set_locked(engine, agent, True)


def unlock_agent(engine: Engine, agent: Any) -> dict:
    return set_locked(engine, agent, False)


def _drop_from_exceptions(conn: Connection, agent_id: int) -> list[str]:
    """Remove the agent from every module's exceptions; the modules changed."""
    changed = []
    for row in conn.execute(select(modules.c.id, modules.c.modulename, modules.c.exceptions)
                            .order_by(modules.c.id).with_for_update()).all():
        exceptions = parse_exceptions(row.exceptions)
        if agent_id in exceptions:
            kept = php_json([str(other) for other in sorted(exceptions - {agent_id})])
            conn.execute(update(modules).where(modules.c.id == row.id).values(exceptions=kept))
            changed.append(row.modulename)
    return changed


def delete_agent(engine: Engine, agent: Any) -> dict:
    """Delete the agent (by id or DEVICEID): its unfinished runs are cancelled, its history kept."""
    now = local_now()
    with engine.begin() as conn:
        agent_id = _agent_row(conn, agent, lock=True).id
        active = conn.execute(select(runs.c.id).where(runs.c.plugin_fusioninventory_agents_id == agent_id,
                                                      runs.c.state.in_(runs_service.ACTIVE))).scalars().all()
        cancelled = runs_service.move_many(conn, active, runs_service.Move.CANCEL, now, DELETED_COMMENT,
                                           only_from=runs_service.ACTIVE)
        kept = conn.execute(select(func.count()).select_from(runs)
                            .where(runs.c.plugin_fusioninventory_agents_id == agent_id)).scalar()
        for table in BRIDGE_ROWS:
            conn.execute(delete(table).where(table.c.plugin_fusioninventory_agents_id == agent_id))
        modules_changed = _drop_from_exceptions(conn, agent_id)
        conn.execute(delete(agents).where(agents.c.id == agent_id))
    log.info("agent %d deleted; %d unfinished run(s) cancelled", agent_id, len(cancelled))
    return {"id": agent_id, "deleted": True, "cancelled_runs": len(cancelled), "runs_kept": kept,
            "exceptions_removed_from": modules_changed}
