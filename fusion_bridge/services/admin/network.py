"""IP ranges with their ranked SNMP credentials, and the SNMP credentials themselves.

Stored as GLPI's UI with the plugin stores them (docs/schema.md §4.1–4.3): dotted IPv4
bounds; ``_ipranges_configsecurities`` rows ranked 1, 2, ... in the order given; credentials
with ``snmpversion`` '1'/'2'/'3', ``authentication`` '0'/'1'/'2' (none/MD5/SHA) and
``encryption`` '0'/'1'/'2' (none/DES/AES), unused fields '' and '0' like the install rows.
Each public function runs in one transaction of its own.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any, Iterable, Mapping

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.secret_codec import codec_of
from fusion_bridge.services.admin.base import (
    DefinitionError,
    entity_exists,
    glpi_text,
    positive_id,
    refuse_if_used,
    reject_unknown,
    row_by_id,
    ui_text,
    user_fields,
)
from fusion_bridge.services.runs import parse_item_list
from schema.constants import ItemType
from schema.plugin_network import ipranges_configsecurities as range_credentials

log = logging.getLogger("fusion_bridge.definitions")

ipranges = schema.ipranges
credentials = schema.configsecurities
jobs = schema.taskjobs

VERSIONS = {"1": "1", "v1": "1", "2": "2", "2c": "2", "v2c": "2", "v2": "2", "3": "3", "v3": "3"}
VERSION_NAMES = {"1": "1", "2": "2c", "3": "3"}
AUTH_PROTOCOLS = {"MD5": "1", "SHA": "2"}
PRIV_PROTOCOLS = {"DES": "1", "AES": "2"}
AUTH_NAMES = {v: k for k, v in AUTH_PROTOCOLS.items()}
# '3' is the UI's Triple-DES, which the plugin sends to agents as an empty protocol.
PRIV_NAMES = {**{v: k for k, v in PRIV_PROTOCOLS.items()}, "3": "3DES"}
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


# --- SNMP credentials ------------------------------------------------------------------------


def _secret(value: Any, what: str, min_chars: int = 1) -> str:
    """A community or passphrase, stored as given: an altered secret would not work."""
    if not isinstance(value, str) or not value:
        raise DefinitionError(f"{what} is required")
    if _ASTRAL.search(value) or len(value) > 255:
        raise DefinitionError(f"{what} must be at most 255 characters, none outside the Basic "
                              "Multilingual Plane (GLPI's utf8 columns cannot hold them)")
    if len(value) < min_chars:
        raise DefinitionError(f"{what} must be at least {min_chars} characters (SNMPv3 requires it)")
    return value


def _protocol(value: Any, known: Mapping[str, str], what: str) -> str:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "0")):
        return "0"
    key = str(value).strip().upper()
    if key in known:
        return known[key]
    if what == "privacy protocol" and key in ("3DES", "TRIPLE-DES", "TRIPLEDES"):
        raise DefinitionError("Triple-DES is not usable: the plugin sends it to agents as an empty "
                              "protocol; use DES or AES")
    raise DefinitionError(f"unknown {what} {value!r}, expected one of: {', '.join(known)}")


def credential_values(name: Any, version: Any, community: Any = None, username: Any = None,
                      auth_protocol: Any = None, auth_passphrase: Any = None, priv_protocol: Any = None,
                      priv_passphrase: Any = None) -> dict:
    """Validated ``_configsecurities`` column values."""
    stored_version = VERSIONS.get(str(version).strip().lower()) if version is not None else None
    if stored_version is None:
        raise DefinitionError(f"SNMP version must be 1, 2c or 3, got {version!r}")
    values = {"name": glpi_text(name, "credential name", max_chars=64, required=True),
              "snmpversion": stored_version, "community": "", "username": "", "authentication": "0",
              "auth_passphrase": "", "encryption": "0", "priv_passphrase": "", "is_deleted": 0}
    v3_fields = {"username": username, "auth protocol": auth_protocol, "auth passphrase": auth_passphrase,
                 "privacy protocol": priv_protocol, "privacy passphrase": priv_passphrase}
    if stored_version != "3":
        given = [field for field, value in v3_fields.items() if value not in (None, "")]
        if given:
            raise DefinitionError(f"{', '.join(given)}: only for SNMP version 3")
        values["community"] = _secret(community, "community")
        return values
    if community not in (None, ""):
        raise DefinitionError("community: only for SNMP versions 1 and 2c (version 3 uses a username)")
    values["username"] = _secret(username, "username")
    values["authentication"] = _protocol(auth_protocol, AUTH_PROTOCOLS, "auth protocol")
    values["encryption"] = _protocol(priv_protocol, PRIV_PROTOCOLS, "privacy protocol")
    if values["authentication"] != "0":
        values["auth_passphrase"] = _secret(auth_passphrase, "auth passphrase", 8)
    elif auth_passphrase not in (None, ""):
        raise DefinitionError("auth passphrase given without an auth protocol (MD5 or SHA)")
    if values["encryption"] != "0":
        if values["authentication"] == "0":
            raise DefinitionError("a privacy protocol needs an auth protocol (SNMPv3 authPriv)")
        values["priv_passphrase"] = _secret(priv_passphrase, "privacy passphrase", 8)
    elif priv_passphrase not in (None, ""):
        raise DefinitionError("privacy passphrase given without a privacy protocol (DES or AES)")
    return values


def concealed(conn: Connection, values: dict) -> dict:
    """``credential_values`` as stored: the v3 passphrases encrypted with the GLPI key on GLPI
    10/11 (docs/glpi-secrets.md §3); refused with the reason when there is no usable key."""
    secrets = codec_of(conn)
    return {**values, **{name: secrets.conceal(values[name], f"SNMP credential {name.replace('_', ' ')}")
                         for name in ("auth_passphrase", "priv_passphrase") if name in values}}


def _credential_dict(row) -> dict:
    """A credential for display; passphrases are never shown, only whether they are set."""
    return {
        "id": row.id,
        "name": ui_text(row.name),
        "version": VERSION_NAMES.get(row.snmpversion, row.snmpversion),
        "community": row.community or None,
        "username": row.username or None,
        "auth_protocol": AUTH_NAMES.get(row.authentication or "0"),
        "auth_passphrase_set": bool(row.auth_passphrase),
        "priv_protocol": PRIV_NAMES.get(row.encryption or "0"),
        "priv_passphrase_set": bool(row.priv_passphrase),
        "is_deleted": bool(row.is_deleted),
    }


def create_credential(engine: Engine, name: str, version: str, *, community: str | None = None,
                      username: str | None = None, auth_protocol: str | None = None,
                      auth_passphrase: str | None = None, priv_protocol: str | None = None,
                      priv_passphrase: str | None = None) -> dict:
    """An SNMP credential: version 1/2c with a community, or 3 with a username and optionally
    MD5|SHA authentication and DES|AES privacy (passphrases of at least 8 characters)."""
    values = credential_values(name, version, community, username, auth_protocol, auth_passphrase,
                               priv_protocol, priv_passphrase)
    with engine.begin() as conn:
        values = concealed(conn, values)
        credential_id = conn.execute(insert(credentials).values(values)).inserted_primary_key[0]
        row = conn.execute(select(credentials).where(credentials.c.id == credential_id)).one()
    log.info("SNMP credential %d %r created", credential_id, values["name"])
    return _credential_dict(row)


def list_credentials(engine: Engine, *, include_deleted: bool = False, limit: int = 1000) -> list[dict]:
    query = select(credentials).order_by(credentials.c.id).limit(limit)
    if not include_deleted:
        query = query.where(credentials.c.is_deleted == 0)
    with engine.connect() as conn:
        return [_credential_dict(row) for row in conn.execute(query)]


def get_credential(engine: Engine, credential_id: Any) -> dict:
    with engine.connect() as conn:
        return _credential_dict(_credential_row(conn, credential_id))


def _credential_row(conn: Connection, credential_id: Any, lock: bool = False):
    return row_by_id(conn, credentials, credential_id, "SNMP credential", lock=lock, id_what="credential")


# --- IP ranges -------------------------------------------------------------------------------

# User-facing names (the CLI's options) → the code's; ``credential`` is the CLI's repeated option.
IPRANGE_NAMES = {"name": "name", "entity": "entities_id", "start": "ip_start", "end": "ip_end",
                 "credentials": "credentials"}
IPRANGE_ALIASES = {"credential": "credentials"}
IPRANGE_FIELDS = tuple(IPRANGE_NAMES)
_IPRANGE_LABELS = {internal: user for user, internal in IPRANGE_NAMES.items()}


def _ipv4(value: Any, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(str(value).strip())
    except (ipaddress.AddressValueError, ValueError):
        raise DefinitionError(f"{what} must be an IPv4 address like 192.168.0.1, got {value!r}") from None


def _credential_ids(conn: Connection, values: Any) -> list[int]:
    if values is None:
        return []
    if isinstance(values, (str, int)):
        values = [values]
    ids: list[int] = []
    for value in values:
        credential_id = positive_id(value, "credential id")
        if credential_id in ids:
            raise DefinitionError(f"credential {credential_id} is given twice")
        ids.append(credential_id)
    if ids:
        rows = {row.id: row for row in conn.execute(
            # Locked: a credential being trashed or purged is either seen gone or waited for.
            select(credentials.c.id, credentials.c.is_deleted).where(credentials.c.id.in_(ids)).with_for_update())}
        for credential_id in ids:
            if credential_id not in rows:
                raise DefinitionError(f"SNMP credential {credential_id} does not exist")
            if rows[credential_id].is_deleted:
                raise DefinitionError(f"SNMP credential {credential_id} is in the trash")
    return ids


def iprange_fields(given: Mapping[str, Any]) -> dict:
    """An IP range's fields by user-facing names (or the code's) → the code's names."""
    return user_fields(given, IPRANGE_NAMES, "IP range", IPRANGE_ALIASES)


def _iprange_values(conn: Connection, given: Mapping[str, Any], current) -> dict:
    reject_unknown(given, _IPRANGE_LABELS, "IP range")
    values: dict[str, Any] = {}
    if "name" in given or current is None:
        values["name"] = glpi_text(given.get("name"), "IP range name", required=True)
    if "entities_id" in given or current is None:
        values["entities_id"] = positive_id(given.get("entities_id", 0), "entity", allow_zero=True)
        entity_exists(conn, values["entities_id"])
    for field in ("ip_start", "ip_end"):
        if field in given or current is None:
            values[field] = str(_ipv4(given.get(field), _IPRANGE_LABELS[field]))
    if "ip_start" not in values and "ip_end" not in values:
        return values
    start = _ipv4(values.get("ip_start", current.ip_start if current is not None else None), "start")
    end = _ipv4(values.get("ip_end", current.ip_end if current is not None else None), "end")
    if end < start:
        raise DefinitionError(f"end {end} is before start {start}")
    return values


def _set_credentials(conn: Connection, range_id: int, credential_ids: list[int]) -> None:
    link = range_credentials.c
    conn.execute(delete(range_credentials).where(link.plugin_fusioninventory_ipranges_id == range_id))
    if credential_ids:
        conn.execute(insert(range_credentials), [
            {"plugin_fusioninventory_ipranges_id": range_id,
             "plugin_fusioninventory_configsecurities_id": credential_id, "rank": rank}
            for rank, credential_id in enumerate(credential_ids, start=1)])


def _ipranges(conn: Connection, range_ids: Iterable[int] | None, limit: int = 1000) -> list[dict]:
    query = select(ipranges).order_by(ipranges.c.id).limit(limit)
    if range_ids is not None:
        query = query.where(ipranges.c.id.in_(list(range_ids)))
    rows = conn.execute(query).all()
    ranked: dict[int, list[dict]] = {row.id: [] for row in rows}
    if rows:
        link = range_credentials
        for row in conn.execute(
            select(link.c.plugin_fusioninventory_ipranges_id.label("range_id"), link.c.rank,
                   credentials.c.id, credentials.c.name, credentials.c.snmpversion)
            .join(credentials, credentials.c.id == link.c.plugin_fusioninventory_configsecurities_id)
            .where(link.c.plugin_fusioninventory_ipranges_id.in_(list(ranked)))
            .order_by(link.c.plugin_fusioninventory_ipranges_id, link.c.rank, link.c.id)
        ):
            ranked[row.range_id].append({"id": row.id, "name": ui_text(row.name), "rank": row.rank,
                                         "version": VERSION_NAMES.get(row.snmpversion, row.snmpversion)})
    return [{"id": row.id, "name": ui_text(row.name), "entities_id": row.entities_id,
             "ip_start": row.ip_start, "ip_end": row.ip_end, "credentials": ranked[row.id]} for row in rows]


def _iprange_row(conn: Connection, range_id: Any, lock: bool = False):
    return row_by_id(conn, ipranges, range_id, "IP range", lock=lock)


def create_iprange(engine: Engine, name: str, ip_start: str, ip_end: str, *, entities_id: int = 0,
                   credentials: Iterable[int] = ()) -> dict:
    """An IP range; ``credentials`` are SNMP credential ids in rank order (rank 1 first)."""
    with engine.begin() as conn:
        values = _iprange_values(conn, {"name": name, "ip_start": ip_start, "ip_end": ip_end,
                                        "entities_id": entities_id}, None)
        credential_ids = _credential_ids(conn, credentials)
        range_id = conn.execute(insert(ipranges).values(values)).inserted_primary_key[0]
        _set_credentials(conn, range_id, credential_ids)
        [created] = _ipranges(conn, [range_id])
    log.info("IP range %d %r (%s-%s) created", range_id, values["name"], values["ip_start"], values["ip_end"])
    return created


def list_ipranges(engine: Engine, *, limit: int = 1000) -> list[dict]:
    with engine.connect() as conn:
        return _ipranges(conn, None, limit)


def get_iprange(engine: Engine, range_id: Any) -> dict:
    with engine.connect() as conn:
        row = _iprange_row(conn, range_id)
        return _ipranges(conn, [row.id])[0]


def update_iprange(engine: Engine, range_id: Any, changes: Mapping[str, Any]) -> dict:
    """Change name, entity, bounds, or the ranked credentials (the whole list)."""
    changes = iprange_fields(changes)
    with engine.begin() as conn:
        current = _iprange_row(conn, range_id, lock=True)
        values = _iprange_values(conn, changes, current)
        if values:
            conn.execute(update(ipranges).where(ipranges.c.id == current.id).values(values))
        if "credentials" in changes:
            _set_credentials(conn, current.id, _credential_ids(conn, changes["credentials"]))
        [updated] = _ipranges(conn, [current.id])
    log.info("IP range %d updated: %s", current.id, ", ".join(sorted(changes)) or "nothing")
    return updated


def actions_targeting(conn: Connection, itemtype: str, item_id: int) -> list[int]:
    """Ids of the actions that have this item among their targets."""
    found = []
    for row in conn.execute(select(jobs.c.id, jobs.c.targets).where(jobs.c.targets.like(f'%"{itemtype}"%'))):
        if (itemtype, item_id) in parse_item_list(row.targets):
            found.append(row.id)
    return found


def delete_iprange(engine: Engine, range_id: Any) -> dict:
    """Delete the range and its credential links; refused while an action targets it."""
    with engine.begin() as conn:
        row = _iprange_row(conn, range_id, lock=True)
        refuse_if_used(actions_targeting(conn, ItemType.IP_RANGE, row.id), f"IP range {row.id}")
        _set_credentials(conn, row.id, [])
        conn.execute(delete(ipranges).where(ipranges.c.id == row.id))
    log.info("IP range %d deleted", row.id)
    return {"id": row.id, "deleted": True}
