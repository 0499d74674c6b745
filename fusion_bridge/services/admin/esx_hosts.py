"""ESX hosts and their credentials, for the ``InventoryComputerESX`` method (docs/schema.md §5).

A credential (``glpi_plugin_fusioninventory_credentials``, itemtype
``PluginFusioninventoryInventoryComputerESX``) holds a user name and a password — in clear as
FusionInventory stores it, encrypted with the GLPI key on GLPI 10/11 (docs/glpi-secrets.md §3) —
which is sent to the agent (services/rest/esx.py); a host
(``_credentialips``: ``ip``, an ESX server's or vCenter's address or name) uses one. An ESX
action targets hosts.

The password is never part of a reply or a log line: shown as set or not. User name and
password are taken as given (an encoded secret would not work); names and comments as GLPI's
UI stores them. A credential is not deleted while a host uses it, nor a host while an action
targets it. Each public function runs in one transaction of its own.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any, Mapping

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.secret_codec import codec_of
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.admin.base import (
    DefinitionError,
    NotFound,
    date_text,
    entity_exists,
    flag,
    glpi_text,
    positive_id,
    refuse_if_used,
    row_by_id,
    ui_text,
    user_fields,
)
from fusion_bridge.services.admin.network import actions_targeting
from schema.constants import ItemType

log = logging.getLogger("fusion_bridge.definitions")

credentials, hosts = schema.credentials, schema.credentialips
ESX_ITEMTYPE = "PluginFusioninventoryInventoryComputerESX"
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")

CREDENTIAL_NAMES = {"name": "name", "username": "username", "password": "password", "entity": "entities_id",
                    "recursive": "is_recursive", "comment": "comment"}
HOST_NAMES = {"name": "name", "address": "ip", "credential": "plugin_fusioninventory_credentials_id",
              "entity": "entities_id", "comment": "comment"}
HOST_ALIASES = {"credentials_id": "credential"}


def _secret(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise DefinitionError(f"{what} is required")
    if _ASTRAL.search(value) or len(value) > 255:
        raise DefinitionError(f"{what} must be at most 255 characters, none outside the Basic Multilingual Plane")
    return value


def _address(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        if _HOSTNAME.match(text):
            return text
    raise DefinitionError(f"address must be an IP address or a host name, got {value!r}")


# --- credentials -----------------------------------------------------------------------------


def _credential_values(conn: Connection, given: Mapping[str, Any], current) -> dict:
    values: dict[str, Any] = {}
    if "name" in given or current is None:
        values["name"] = glpi_text(given.get("name"), "credential name", required=True)
    for field in ("username", "password"):
        if field in given or current is None:
            values[field] = _secret(given.get(field), field)
    if "password" in values:  # encrypted with the GLPI key on GLPI 10/11 (docs/glpi-secrets.md §3)
        values["password"] = codec_of(conn).conceal(values["password"], "ESX credential password")
    if "entities_id" in given or current is None:
        values["entities_id"] = positive_id(given.get("entities_id", 0), "entity", allow_zero=True)
        entity_exists(conn, values["entities_id"])
    if "is_recursive" in given or current is None:
        values["is_recursive"] = flag(given.get("is_recursive", False), "recursive")
    if "comment" in given:
        values["comment"] = glpi_text(given["comment"], "comment", max_chars=65535)
    return values


def _credential_dict(row) -> dict:
    return {"id": row.id, "name": ui_text(row.name), "username": row.username,
            "password": "set" if row.password else "not set", "entities_id": row.entities_id,
            "is_recursive": bool(row.is_recursive), "comment": ui_text(row.comment),
            "date_mod": date_text(row.date_mod)}


def _credential_row(conn: Connection, credential_id: Any, lock: bool = False):
    return row_by_id(conn, credentials, credential_id, "ESX credential", lock=lock, id_what="credential",
                     where=[credentials.c.itemtype == ESX_ITEMTYPE])


def create_credential(engine: Engine, name: Any, username: Any, password: Any, *, entities_id: Any = 0,
                      is_recursive: Any = False, comment: Any = None) -> dict:
    given = {"name": name, "username": username, "password": password, "entities_id": entities_id,
             "is_recursive": is_recursive, "comment": comment}
    with engine.begin() as conn:
        values = _credential_values(conn, given, None)
        credential_id = conn.execute(insert(credentials).values(
            {**values, "itemtype": ESX_ITEMTYPE, "date_mod": local_now()})).inserted_primary_key[0]
        created = _credential_dict(_credential_row(conn, credential_id))
    log.info("ESX credential %d %r created", credential_id, values["name"])
    return created


def create_credential_from(engine: Engine, given: Mapping[str, Any]) -> dict:
    values = user_fields(given, CREDENTIAL_NAMES, "ESX credential")
    return create_credential(engine, values.pop("name", None), values.pop("username", None),
                             values.pop("password", None), **values)


def list_credentials(engine: Engine, *, limit: int = 1000) -> list[dict]:
    with engine.connect() as conn:
        return [_credential_dict(row) for row in conn.execute(
            select(credentials).where(credentials.c.itemtype == ESX_ITEMTYPE).order_by(credentials.c.id).limit(limit))]


def get_credential(engine: Engine, credential_id: Any) -> dict:
    with engine.connect() as conn:
        return _credential_dict(_credential_row(conn, credential_id))


def update_credential(engine: Engine, credential_id: Any, changes: Mapping[str, Any]) -> dict:
    given = user_fields(changes, CREDENTIAL_NAMES, "ESX credential")
    with engine.begin() as conn:
        row = _credential_row(conn, credential_id, lock=True)
        values = _credential_values(conn, given, row)
        conn.execute(update(credentials).where(credentials.c.id == row.id).values({**values, "date_mod": local_now()}))
        updated = _credential_dict(_credential_row(conn, row.id))
    log.info("ESX credential %d updated: %s", row.id, ", ".join(sorted(changes)) or "nothing")
    return updated


def delete_credential(engine: Engine, credential_id: Any) -> dict:
    """Delete the credential; refused while a host uses it."""
    with engine.begin() as conn:
        row = _credential_row(conn, credential_id, lock=True)
        users = conn.execute(select(hosts.c.id).where(hosts.c.plugin_fusioninventory_credentials_id == row.id)
                             .order_by(hosts.c.id)).scalars().all()
        if users:
            raise DefinitionError(f"ESX credential {row.id} is used by host(s) {', '.join(map(str, users))}: "
                                  "give them another credential or delete them first")
        conn.execute(delete(credentials).where(credentials.c.id == row.id))
    log.info("ESX credential %d deleted", row.id)
    return {"id": row.id, "deleted": True}


# --- hosts -----------------------------------------------------------------------------------


def _host_values(conn: Connection, given: Mapping[str, Any], current) -> dict:
    values: dict[str, Any] = {}
    if "name" in given or current is None:
        values["name"] = glpi_text(given.get("name"), "host name", required=True)
    if "ip" in given or current is None:
        values["ip"] = _address(given.get("ip"))
    if "plugin_fusioninventory_credentials_id" in given or current is None:
        credential = given.get("plugin_fusioninventory_credentials_id")
        if credential in (None, ""):
            raise DefinitionError("credential is required (an ESX credential id)")
        try:
            values["plugin_fusioninventory_credentials_id"] = _credential_row(conn, credential, lock=True).id
        except NotFound as missing:
            raise DefinitionError(missing.reason) from None
    if "entities_id" in given or current is None:
        values["entities_id"] = positive_id(given.get("entities_id", 0), "entity", allow_zero=True)
        entity_exists(conn, values["entities_id"])
    if "comment" in given:
        values["comment"] = glpi_text(given["comment"], "comment", max_chars=65535)
    return values


def _host_dicts(conn: Connection, host_ids: list[int] | None = None, limit: int = 1000) -> list[dict]:
    query = (select(hosts, credentials.c.name.label("credential_name"))
             .select_from(hosts.outerjoin(credentials,
                                          credentials.c.id == hosts.c.plugin_fusioninventory_credentials_id))
             .order_by(hosts.c.id).limit(limit))
    if host_ids is not None:
        query = query.where(hosts.c.id.in_(host_ids))
    return [{"id": row.id, "name": ui_text(row.name), "address": row.ip,
             "credential": {"id": row.plugin_fusioninventory_credentials_id, "name": ui_text(row.credential_name)},
             "entities_id": row.entities_id, "comment": ui_text(row.comment), "date_mod": date_text(row.date_mod)}
            for row in conn.execute(query)]


def _host_row(conn: Connection, host_id: Any, lock: bool = False):
    return row_by_id(conn, hosts, host_id, "ESX host", lock=lock, id_what="host")


def create_host(engine: Engine, name: Any, address: Any, credential: Any, *, entities_id: Any = 0,
                comment: Any = None) -> dict:
    given = {"name": name, "ip": address, "plugin_fusioninventory_credentials_id": credential,
             "entities_id": entities_id, "comment": comment}
    with engine.begin() as conn:
        values = _host_values(conn, given, None)
        host_id = conn.execute(insert(hosts).values({**values, "date_mod": local_now()})).inserted_primary_key[0]
        [created] = _host_dicts(conn, [host_id])
    log.info("ESX host %d %r (%s) created", host_id, values["name"], values["ip"])
    return created


def create_host_from(engine: Engine, given: Mapping[str, Any]) -> dict:
    values = user_fields(given, HOST_NAMES, "ESX host", HOST_ALIASES)
    return create_host(engine, values.pop("name", None), values.pop("ip", None),
                       values.pop("plugin_fusioninventory_credentials_id", None), **values)


def list_hosts(engine: Engine, *, limit: int = 1000) -> list[dict]:
    with engine.connect() as conn:
        return _host_dicts(conn, None, limit)


def get_host(engine: Engine, host_id: Any) -> dict:
    with engine.connect() as conn:
        return _host_dicts(conn, [_host_row(conn, host_id).id])[0]


def update_host(engine: Engine, host_id: Any, changes: Mapping[str, Any]) -> dict:
    given = user_fields(changes, HOST_NAMES, "ESX host", HOST_ALIASES)
    with engine.begin() as conn:
        row = _host_row(conn, host_id, lock=True)
        values = _host_values(conn, given, row)
        conn.execute(update(hosts).where(hosts.c.id == row.id).values({**values, "date_mod": local_now()}))
        [updated] = _host_dicts(conn, [row.id])
    log.info("ESX host %d updated: %s", row.id, ", ".join(sorted(changes)) or "nothing")
    return updated


def delete_host(engine: Engine, host_id: Any) -> dict:
    """Delete the host; refused while an ESX action targets it."""
    with engine.begin() as conn:
        row = _host_row(conn, host_id, lock=True)
        refuse_if_used(actions_targeting(conn, ItemType.CREDENTIAL_IP, row.id), f"ESX host {row.id}")
        conn.execute(delete(hosts).where(hosts.c.id == row.id))
    log.info("ESX host %d deleted", row.id)
    return {"id": row.id, "deleted": True}
