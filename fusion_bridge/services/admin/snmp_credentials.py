"""Changing, trashing and purging SNMP credentials, and the SNMP credential of a device.

A credential is used by IP ranges (``_ipranges_configsecurities``) and by network devices and
printers: the plugin's extension rows ``glpi_plugin_fusioninventory_networkequipments`` /
``_printers`` hold the id of the credential SNMP inventory uses for the device, 0 = none (such
a device is not inventoried from an IP range; docs/schema.md §4.6).

``delete`` does what GLPI's Delete button does: the row goes to the trash (``is_deleted`` = 1),
GLPI shows it there; ``purge`` removes it. Both are refused while a range or a device uses the
credential (the plugin would go on sending a trashed credential to agents). The install rows 1
and 2 are better trashed than purged: ``db init`` puts missing install rows back.

Passphrases and communities are never part of a reply or a log line beyond what
``network._credential_dict`` shows (communities, as GLPI's UI does; passphrases only as set or
not). Each public function runs in one transaction of its own.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.secret_codec import codec_of
from fusion_bridge.services.admin.base import DefinitionError, NotFound, parse_item, positive_id, ui_text, user_fields
from fusion_bridge.services.admin.network import (
    AUTH_NAMES,
    PRIV_NAMES,
    VERSION_NAMES,
    VERSIONS,
    _credential_dict,
    _credential_row,
    concealed,
    credential_values,
)
from schema.constants import ItemType
from schema.plugin_network import ipranges_configsecurities as range_credentials
from schema.plugin_network import networkequipments as pf_networkequipments
from schema.plugin_network import printers as pf_printers

log = logging.getLogger("fusion_bridge.definitions")

credentials = schema.configsecurities

CREDENTIAL_NAMES = {name: name for name in (
    "name", "version", "community", "username", "auth_protocol", "auth_passphrase", "priv_protocol",
    "priv_passphrase")}

# Devices that have an SNMP credential: (GLPI table, plugin extension table, its key column).
DEVICES = {
    ItemType.NETWORK_EQUIPMENT: (schema.glpi_networkequipments, pf_networkequipments, "networkequipments_id"),
    ItemType.PRINTER: (schema.glpi_printers, pf_printers, "printers_id"),
}
DEVICE_WORDS = {ItemType.NETWORK_EQUIPMENT: "network device", ItemType.PRINTER: "printer"}


def _as_given(row) -> dict:
    """The stored credential as ``credential_values`` takes it (secrets as stored)."""
    return {"name": ui_text(row.name), "version": VERSION_NAMES.get(row.snmpversion, row.snmpversion),
            "community": row.community or None, "username": row.username or None,
            "auth_protocol": AUTH_NAMES.get(row.authentication or "0"),
            "auth_passphrase": row.auth_passphrase or None,
            "priv_protocol": PRIV_NAMES.get(row.encryption or "0"), "priv_passphrase": row.priv_passphrase or None}


def _merged(row, changes: Mapping[str, Any], reveal=lambda stored, what: stored) -> dict:
    """The credential after ``changes``: what is not given stays, except what the change makes
    meaningless (another version's fields, the passphrase of a protocol turned off). A kept
    passphrase is read with ``reveal`` (``SecretCodec.reveal``: decrypted on GLPI 10/11)."""
    current = _as_given(row)
    if "version" in changes and not _same_version(current["version"], changes["version"]):
        current = {"name": current["name"]}
    for protocol, passphrase in (("auth_protocol", "auth_passphrase"), ("priv_protocol", "priv_passphrase")):
        if protocol in changes and passphrase not in changes and not _is_on(changes[protocol]):
            current[passphrase] = None
    if current.get("priv_protocol") == "3DES" and "priv_protocol" not in changes:
        raise DefinitionError("this credential uses Triple-DES, which the plugin sends to agents as an empty "
                              "protocol: give the privacy protocol (DES or AES) with the change")
    for passphrase in ("auth_passphrase", "priv_passphrase"):
        if passphrase not in changes and current.get(passphrase):
            current[passphrase] = reveal(current[passphrase],
                                         f"SNMP credential {row.id} {passphrase.replace('_', ' ')}") or None
    return {**current, **changes}


def _same_version(current: str, given: Any) -> bool:
    return VERSIONS.get(str(current).lower()) == VERSIONS.get(str(given).strip().lower())


def _is_on(protocol: Any) -> bool:
    return not (protocol is None or (isinstance(protocol, str) and protocol.strip().lower() in ("", "none", "0")))


def update_credential(engine: Engine, credential_id: Any, changes: Mapping[str, Any]) -> dict:
    """Change some fields; the others keep their value (passphrases included). Changing the
    version drops the fields of the former one. Checked as on creation."""
    changes = user_fields(changes, CREDENTIAL_NAMES, "credential")
    with engine.begin() as conn:
        row = _credential_row(conn, credential_id, lock=True)
        values = concealed(conn, credential_values(**_merged(row, changes, codec_of(conn).reveal)))
        values.pop("is_deleted")
        conn.execute(update(credentials).where(credentials.c.id == row.id).values(values))
        updated = _credential_dict(_credential_row(conn, row.id))
    log.info("SNMP credential %d updated: %s", row.id, ", ".join(sorted(changes)) or "nothing")
    return updated


def credential_users(conn: Connection, credential_id: int) -> tuple[list[int], int]:
    """(ids of the IP ranges using the credential, number of devices using it)."""
    link = range_credentials.c
    ranges = sorted(set(conn.execute(select(link.plugin_fusioninventory_ipranges_id).where(
        link.plugin_fusioninventory_configsecurities_id == credential_id)).scalars()))
    devices = 0
    for _assets, extension, _key in DEVICES.values():
        devices += conn.execute(select(func.count()).select_from(extension).where(
            extension.c.plugin_fusioninventory_configsecurities_id == credential_id)).scalar()
    return ranges, devices


def _refuse_in_use(conn: Connection, credential_id: int, doing: str) -> None:
    ranges, devices = credential_users(conn, credential_id)
    used = []
    if ranges:
        used.append(f"IP range(s) {', '.join(map(str, ranges))}")
    if devices:
        used.append(f"{devices} device(s) (see `device credential set`)")
    if used:
        raise DefinitionError(f"SNMP credential {credential_id} is used by {' and '.join(used)}: "
                              f"remove it from them before it is {doing}")


def delete_credential(engine: Engine, credential_id: Any, *, purge: bool = False) -> dict:
    """Put the credential in GLPI's trash, or with ``purge`` remove it; refused while in use."""
    with engine.begin() as conn:
        row = _credential_row(conn, credential_id, lock=True)
        _refuse_in_use(conn, row.id, "purged" if purge else "deleted")
        if purge:
            conn.execute(delete(credentials).where(credentials.c.id == row.id))
        else:
            conn.execute(update(credentials).where(credentials.c.id == row.id).values(is_deleted=1))
    log.info("SNMP credential %d %s", row.id, "purged" if purge else "put in the trash")
    return {"id": row.id, "deleted": True, "purged": purge}


def restore_credential(engine: Engine, credential_id: Any) -> dict:
    """Take the credential out of the trash."""
    with engine.begin() as conn:
        row = _credential_row(conn, credential_id, lock=True)
        conn.execute(update(credentials).where(credentials.c.id == row.id).values(is_deleted=0))
        restored = _credential_dict(_credential_row(conn, row.id))
    log.info("SNMP credential %d restored from the trash", row.id)
    return restored


# --- the SNMP credential of a device ---------------------------------------------------------


def _device(conn: Connection, device: Any, lock: bool = False):
    """(itemtype, GLPI row) of ``networkequipment:ID`` / ``printer:ID``."""
    itemtype, item_id = parse_item(device)
    if itemtype not in DEVICES:
        raise DefinitionError(f"only network devices and printers have an SNMP credential "
                              f"(networkequipment:ID or printer:ID), not {itemtype}")
    assets = DEVICES[itemtype][0]
    query = select(assets.c.id, assets.c.name, assets.c.is_deleted).where(assets.c.id == item_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"{DEVICE_WORDS[itemtype]} {item_id} does not exist")
    return itemtype, row


def _device_dict(conn: Connection, itemtype: str, device) -> dict:
    _assets, extension, key = DEVICES[itemtype]
    credential_id = conn.execute(
        select(extension.c.plugin_fusioninventory_configsecurities_id).where(extension.c[key] == device.id)
        .order_by(extension.c.id).limit(1)).scalar() or 0
    credential = None
    if credential_id:
        found = conn.execute(select(credentials.c.id, credentials.c.name, credentials.c.snmpversion)
                             .where(credentials.c.id == credential_id)).first()
        credential = ({"id": credential_id, "name": None, "version": None} if found is None else
                      {"id": found.id, "name": ui_text(found.name),
                       "version": VERSION_NAMES.get(found.snmpversion, found.snmpversion)})
    return {"itemtype": itemtype, "id": device.id, "name": ui_text(device.name),
            "is_deleted": bool(device.is_deleted), "credential": credential}


def get_device_credential(engine: Engine, device: Any) -> dict:
    with engine.connect() as conn:
        itemtype, row = _device(conn, device)
        return _device_dict(conn, itemtype, row)


def set_device_credential(engine: Engine, device: Any, credential_id: Any) -> dict:
    """Set (or with 0/None clear) the credential SNMP inventory uses for the device, creating
    the plugin's extension row when the device has none yet (a device GLPI's UI made)."""
    with engine.begin() as conn:
        # The device row is locked: two callers never both create its extension row.
        itemtype, row = _device(conn, device, lock=True)
        wanted = device_credential_id(credential_id)
        if wanted:
            try:
                credential = _credential_row(conn, wanted, lock=True)
            except NotFound as missing:
                raise DefinitionError(missing.reason) from None
            if credential.is_deleted:
                raise DefinitionError(f"SNMP credential {wanted} is in the trash")
        _assets, extension, key = DEVICES[itemtype]
        existing = conn.execute(select(extension.c.id).where(extension.c[key] == row.id)
                                .order_by(extension.c.id)).scalars().all()
        if existing:
            conn.execute(update(extension).where(extension.c.id.in_(existing))
                         .values(plugin_fusioninventory_configsecurities_id=wanted))
        elif wanted:
            conn.execute(insert(extension).values({key: row.id, "plugin_fusioninventory_configsecurities_id": wanted}))
        result = _device_dict(conn, itemtype, row)
    log.info("%s %d: SNMP credential set to %s", itemtype, row.id, wanted or "none")
    return result


def device_credential_id(value: Any) -> int:
    """A credential id given for a device, 0 (or none) meaning none."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return 0
    return positive_id(value, "credential", allow_zero=True)
