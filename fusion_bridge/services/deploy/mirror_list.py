"""Where an agent downloads Deploy file parts from: the plugin's mirror list
(``PluginFusioninventoryDeployMirror::getList``, docs/plugin-semantics.md §7.5).

Active ``_deploymirrors`` rows are kept according to the ``mirror_match`` config value (absent =
0): 0 matches the computer's location, 1 the entity (mirrors of the computer's entity, or of an
ancestor entity with ``is_recursive``), 2 both. Deeper entities come first. When
``server_as_mirror`` is set the bridge itself comes last, as
``<base>/plugins/fusioninventory/b/deploy/?action=getFilePart&machineid=<DEVICEID>&file=``: the
agent appends ``/<c1>/<c1c2>/<part sha512>``, and the machineid lets ``getFilePart`` check that
the caller was handed a job using that part (the plugin's URL has no machineid).
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.services.rest.calls import PLUGIN_PATH

MATCH_LOCATION, MATCH_ENTITY, MATCH_BOTH = 0, 1, 2

mirrors = schema.deploymirrors
entities = schema.glpi_entities
computers = schema.glpi_computers


def bridge_mirror(base: str, machine_id: str) -> str:
    return (f"{base.rstrip('/')}{PLUGIN_PATH}/b/deploy/?action=getFilePart"
            f"&machineid={quote(machine_id, safe='')}&file=")


def mirror_urls(conn: Connection, agent, config: dict, base: str, machine_id: str) -> list[str]:
    """The mirrors of the agent's computer, in the order the agent tries them."""
    computer = None
    if agent.computers_id:
        computer = conn.execute(select(computers.c.entities_id, computers.c.locations_id)
                                .where(computers.c.id == agent.computers_id)).first()
    entity_id = computer.entities_id if computer is not None else (agent.entities_id or 0)
    location_id = computer.locations_id if computer is not None else 0
    match = _int(config.get("mirror_match"), MATCH_LOCATION)
    urls = []
    rows = conn.execute(select(mirrors.c.url, mirrors.c.entities_id, mirrors.c.is_recursive, mirrors.c.locations_id)
                        .where(mirrors.c.is_active == 1).order_by(mirrors.c.id)).all()
    if rows:
        ancestors = _ancestors(conn, entity_id or 0)
        chosen = []
        for row in rows:
            in_entity = row.entities_id == entity_id or (bool(row.is_recursive) and row.entities_id in ancestors)
            at_location = (row.locations_id or 0) == (location_id or 0)
            if match == MATCH_ENTITY:
                keep = in_entity
            elif match == MATCH_BOTH:
                keep = in_entity and at_location
            else:
                keep = at_location
            if keep and row.url:
                chosen.append((_distance(row.entities_id, entity_id, ancestors), row.url))
        # Stable: mirrors of one entity keep their id order.
        urls = [url for _depth, url in sorted(chosen, key=lambda item: item[0])]
    if str(config.get("server_as_mirror", "1")).strip() not in ("", "0"):
        urls.append(bridge_mirror(base, machine_id))
    return urls


def _distance(mirror_entity: int, entity_id: int, ancestors: list[int]) -> int:
    """How far up the computer's entity tree a mirror's entity is (0: the same entity)."""
    if mirror_entity == entity_id:
        return 0
    if mirror_entity in ancestors:
        return len(ancestors) - ancestors.index(mirror_entity)
    return len(ancestors) + 1


def _ancestors(conn: Connection, entity_id: int) -> list[int]:
    """Ancestors of an entity, the root first (GLPI's tree; the root entity is 0)."""
    chain: list[int] = []
    current, seen = entity_id, {entity_id}
    while current:
        parent = conn.execute(select(entities.c.entities_id).where(entities.c.id == current)).scalar()
        if parent is None or parent in seen or parent < 0:
            break
        chain.append(parent)
        seen.add(parent)
        current = parent
    return list(reversed(chain))


def _int(value, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default
