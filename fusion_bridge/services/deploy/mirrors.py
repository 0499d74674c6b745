"""Deploy mirrors (``glpi_plugin_fusioninventory_deploymirrors``) and the files of the repository
(``glpi_plugin_fusioninventory_deployfiles``), as GLPI's UI stores them.

A mirror is a URL agents fetch file parts from (``<url>/<c1>/<c1c2>/<part sha512>``) before the
server itself; the plugin offers an agent the active mirrors of its entity (or of a parent entity
when the mirror is recursive), matched by the computer's location or entity. Each function works
in one transaction of its own; bad input raises ``DefinitionError``, an unknown id ``NotFound``.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from fusion_bridge.adapters.deploy_repository import FileRepository
from fusion_bridge.services.admin.base import (
    DefinitionError,
    NotFound,
    date_text,
    entity_exists,
    flag,
    glpi_text,
    positive_id,
    ui_text,
)
from fusion_bridge.domain.text import local_now
from schema.plugin_deploy import deployfiles, deploymirrors

log = logging.getLogger("fusion_bridge.deploy")

MIRROR_FIELDS = ("name", "url", "entities_id", "is_recursive", "locations_id", "is_active", "comment")


def _mirror_dict(row) -> dict:
    return {"id": row.id, "name": ui_text(row.name), "url": row.url, "entities_id": row.entities_id,
            "is_recursive": bool(row.is_recursive), "locations_id": row.locations_id,
            "is_active": bool(row.is_active), "comment": ui_text(row.comment), "date_mod": date_text(row.date_mod)}


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError("mirror url is required, e.g. http://files.example.com/deploy/")
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DefinitionError(f"mirror url must be an http:// or https:// URL, got {url!r}")
    if len(url) > 255:
        raise DefinitionError("mirror url is longer than 255 characters")
    return url


def add_mirror(engine: Engine, name: Any, url: Any, *, entities_id: Any = 0, is_recursive: Any = False,
               locations_id: Any = 0, is_active: Any = True, comment: Any = None) -> dict:
    """A new mirror, active unless ``is_active`` is false."""
    values = {"name": glpi_text(name, "mirror name", required=True), "url": _url(url),
              "entities_id": positive_id(entities_id, "entity", allow_zero=True),
              "is_recursive": flag(is_recursive, "recursive"),
              "locations_id": positive_id(locations_id, "location", allow_zero=True),
              "is_active": flag(is_active, "active"), "comment": glpi_text(comment, "comment", max_chars=65535),
              "date_mod": local_now()}
    with engine.begin() as conn:
        entity_exists(conn, values["entities_id"])
        mirror_id = conn.execute(insert(deploymirrors).values(values)).inserted_primary_key[0]
        row = conn.execute(select(deploymirrors).where(deploymirrors.c.id == mirror_id)).one()
    log.info("mirror %d %s added", mirror_id, values["url"])
    return _mirror_dict(row)


def list_mirrors(engine: Engine) -> list[dict]:
    with engine.connect() as conn:
        return [_mirror_dict(row) for row in conn.execute(select(deploymirrors).order_by(deploymirrors.c.id))]


def remove_mirror(engine: Engine, mirror_id: Any) -> dict:
    mirror_id = positive_id(mirror_id, "mirror id")
    with engine.begin() as conn:
        if conn.execute(delete(deploymirrors).where(deploymirrors.c.id == mirror_id)).rowcount == 0:
            raise NotFound(f"mirror {mirror_id} does not exist")
    log.info("mirror %d removed", mirror_id)
    return {"id": mirror_id, "deleted": True}


# --- files ------------------------------------------------------------------------------------


def file_dict(row, repository: FileRepository | None = None) -> dict:
    result = {"id": row.id, "name": row.name, "sha512": row.sha512, "filesize": row.filesize,
              "mimetype": row.mimetype, "entities_id": row.entities_id, "is_recursive": bool(row.is_recursive),
              "comment": row.comment, "date_mod": date_text(row.date_mod)}
    if repository is not None:
        result["in_repository"] = repository.has_file(row.sha512)
    return result


def list_files(engine: Engine, repository: FileRepository | None = None, *, limit: int = 1000) -> list[dict]:
    """The registered files; with a ``repository``, whether their parts are all there."""
    with engine.connect() as conn:
        rows = conn.execute(select(deployfiles).order_by(deployfiles.c.id).limit(limit)).all()
    return [file_dict(row, repository) for row in rows]


def store_file(engine: Engine, repository: FileRepository, source, name: Any, *, entities_id: Any = 0,
               comment: Any = None, progress=None) -> dict:
    """Store a file in the repository and register it (validated name and entity first)."""
    if not isinstance(name, str) or not name.strip():
        raise DefinitionError("a file name is required")
    name = name.strip()
    if "/" in name or "\\" in name or "\x00" in name or len(name) > 255:
        raise DefinitionError(f"file name {name[:60]!r} must be a plain name of at most 255 characters")
    entity = positive_id(entities_id, "entity", allow_zero=True)
    with engine.connect() as conn:
        entity_exists(conn, entity)
    stored = repository.add_file(engine, source, name, entities_id=entity,
                                 comment=glpi_text(comment, "comment", max_chars=65535), progress=progress)
    log.info("file %d %r stored (%d bytes, %d part(s)%s)", stored.id, stored.name, stored.size,
             len(stored.parts), "" if stored.added else ", already there")
    with engine.connect() as conn:
        row = conn.execute(select(deployfiles).where(deployfiles.c.id == stored.id)).one()
    return {**file_dict(row, repository), "added": stored.added, "parts": len(stored.parts)}
