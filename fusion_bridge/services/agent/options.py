"""The OPTIONs of a PROLOG reply, one per run, built from the database as the plugin builds them
(docs/plugin-semantics.md §7.1–§7.3); ``protocol`` writes them."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.adapters.secret_codec import CLEAR, SecretCodec
from fusion_bridge.errors import SecretUnavailable
from protocol import (IpRange, NetDiscoveryOption, SnmpAuthentication, SnmpQueryOption, SnmpTarget,
                      WakeOnLanOption)
from schema.constants import ItemType

SNMP_VERSIONS = {"1": "1", "2": "2c", "3": "3"}
AUTH_PROTOCOLS = {"1": "MD5", "2": "SHA"}
# The plugin emits "" for the UI's Triple-DES (3), a bug; 5 is its own 3DES value.
PRIV_PROTOCOLS = {"1": "DES", "2": "AES", "3": "3DES", "5": "3DES"}
DEVICE_TYPES = {ItemType.NETWORK_EQUIPMENT: "NETWORKING", ItemType.PRINTER: "PRINTER"}
EXTENSIONS = {
    ItemType.NETWORK_EQUIPMENT: (schema.networkequipments, "networkequipments_id"),
    ItemType.PRINTER: (schema.printers, "printers_id"),
}


_links, _credentials = schema.ipranges_configsecurities, schema.configsecurities
_ports, _names, _addresses = schema.glpi_networkports, schema.glpi_networknames, schema.glpi_ipaddresses

# Statements built once: building SQLAlchemy constructs per request costs more than running them.
# A range with its credentials in rank order (one row per credential, or one with NULLs).
RANGE_WITH_CREDENTIALS = (
    select(schema.ipranges.c.id, schema.ipranges.c.entities_id, schema.ipranges.c.ip_start,
           schema.ipranges.c.ip_end, *(column.label(f"credential_{column.name}") for column in _credentials.c))
    .select_from(schema.ipranges)
    .outerjoin(_links, _links.c.plugin_fusioninventory_ipranges_id == schema.ipranges.c.id)
    .outerjoin(_credentials, _credentials.c.id == _links.c.plugin_fusioninventory_configsecurities_id)
    .where(schema.ipranges.c.id == bindparam("id"))
    .order_by(_links.c.rank, _links.c.id)
)
# A device's SNMP credential from its plugin extension row.
DEVICE_CREDENTIAL = {
    itemtype: select(table.c.plugin_fusioninventory_configsecurities_id.label("device_credential_id"),
                     *(column.label(f"credential_{column.name}") for column in _credentials.c))
    .select_from(table)
    .outerjoin(_credentials, _credentials.c.id == table.c.plugin_fusioninventory_configsecurities_id)
    .where(table.c[key] == bindparam("id"))
    .limit(1)
    for itemtype, (table, key) in EXTENSIONS.items()
}
FIRST_IP = (
    select(_addresses.c.name)
    .select_from(_ports)
    .join(_names, and_(_names.c.itemtype == "NetworkPort", _names.c.items_id == _ports.c.id))
    .join(_addresses, and_(_addresses.c.itemtype == "NetworkName", _addresses.c.items_id == _names.c.id))
    .where(_ports.c.itemtype == bindparam("itemtype"), _ports.c.items_id == bindparam("items_id"),
           _ports.c.instantiation_type != "NetworkPortLocal", _ports.c.is_deleted == 0,
           _names.c.is_deleted == 0, _addresses.c.is_deleted == 0, _addresses.c.name != "")
    .order_by(_ports.c.id, _addresses.c.id)
    .limit(1)
)
BRIDGE_SLICE = (
    select(schema.bridge_runs.c.slice_first, schema.bridge_runs.c.slice_count)
    .where(schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id == bindparam("id"))
)
COMPUTER_MACS = (
    select(_ports.c.mac)
    .where(_ports.c.itemtype == ItemType.COMPUTER, _ports.c.items_id == bindparam("items_id"),
           _ports.c.mac.is_not(None), _ports.c.is_deleted == 0,
           _ports.c.mac.not_in(["", "00:00:00:00:00:00"]))  # all-zero: a loopback's, no card's
    .order_by(_ports.c.id)
)


class CannotBuild(Exception):
    """The run cannot be handed out; ``comment`` says why (it goes to the run's history)."""

    def __init__(self, comment: str):
        super().__init__(comment)
        self.comment = comment


@dataclass(frozen=True)
class AgentTuning:
    """The agent's threads/timeout columns; 0 means "use the plugin's config value"."""

    threads_discovery: int
    timeout_discovery: int
    threads_inventory: int
    timeout_inventory: int


def _value(own: int, config: dict, key: str, default: str) -> str:
    return str(own) if own else str(config.get(key) or default)


@dataclass(frozen=True)
class Credential:
    id: int
    snmpversion: str
    community: str | None
    username: str | None
    authentication: str | None
    auth_passphrase: str | None
    encryption: str | None
    priv_passphrase: str | None

    @classmethod
    def from_row(cls, row) -> "Credential":
        return cls(*(getattr(row, f"credential_{name}") for name in (
            "id", "snmpversion", "community", "username", "authentication", "auth_passphrase", "encryption",
            "priv_passphrase")))


def authentication(row: Credential, secrets: SecretCodec = CLEAR) -> SnmpAuthentication:
    """One credential as ``PluginFusioninventoryToolbox::addAuth`` sends it, its v3 passphrases
    revealed by ``secrets`` (decrypted with the GLPI key on GLPI 10/11, docs/glpi-secrets.md §3).
    A passphrase that cannot be revealed raises ``CannotBuild`` with the reason: the run fails,
    nothing stands in for the passphrase (docs/glpi-secrets.md §4)."""
    version = SNMP_VERSIONS.get(str(row.snmpversion), str(row.snmpversion))
    if version != "3":
        return SnmpAuthentication(id=row.id, version=version, community=row.community or "")
    return SnmpAuthentication(
        id=row.id,
        version=version,
        username=row.username or "",
        auth_protocol=(AUTH_PROTOCOLS.get(str(row.authentication), "")
                       if str(row.authentication or "0") != "0" else None),
        auth_passphrase=_reveal(secrets, row.auth_passphrase, f"SNMP credential {row.id} auth passphrase"),
        priv_protocol=(PRIV_PROTOCOLS.get(str(row.encryption), "")
                       if str(row.encryption or "0") != "0" else None),
        priv_passphrase=_reveal(secrets, row.priv_passphrase, f"SNMP credential {row.id} privacy passphrase"),
    )


def _reveal(secrets: SecretCodec, stored: str | None, what: str) -> str:
    try:
        return secrets.reveal(stored, what)
    except SecretUnavailable as error:
        raise CannotBuild(error.reason) from None


def netdiscovery(conn: Connection, run, tuning: AgentTuning, config: dict,
                 secrets: SecretCodec = CLEAR) -> NetDiscoveryOption:
    rows = conn.execute(RANGE_WITH_CREDENTIALS, {"id": run.items_id}).all()
    if not rows:
        raise CannotBuild(f"The IP range {run.items_id} of this job no longer exists.")
    iprange = rows[0]
    start, end = _slice(conn, iprange, run)
    credentials = [Credential.from_row(row) for row in rows if row.credential_id is not None]
    return NetDiscoveryOption(
        pid=run.id,
        threads=_value(tuning.threads_discovery, config, "threads_networkdiscovery", "20"),
        timeout=_value(tuning.timeout_discovery, config, "timeout_networkdiscovery", "1"),
        ranges=(IpRange(id=iprange.id, start=start, end=end, entity=iprange.entities_id),),
        authentications=tuple(authentication(row, secrets) for row in credentials),
    )


def _slice(conn: Connection, iprange, run) -> tuple[str, str]:
    """The range bounds; for a run the bridge balanced, its slice ``"<first offset>-<count>"``
    (its ``glpi_plugin_fusionbridge_runs`` row says so); for any other ``specificity``, 9.5's
    legacy ``"<from>-<to>"`` offsets."""
    start, end = iprange.ip_start or "", iprange.ip_end or ""
    specificity = getattr(run, "specificity", None)
    if not specificity or "-" not in specificity:
        return start, end
    try:
        base = int(ipaddress.IPv4Address(start))
        part = conn.execute(BRIDGE_SLICE, {"id": run.id}).first()
        if part is not None and part.slice_count is not None and part.slice_count > 0:
            first = base + part.slice_first
            return str(ipaddress.IPv4Address(first)), str(ipaddress.IPv4Address(first + part.slice_count - 1))
        first, last = (int(value) for value in specificity.split("-", 1))
        return str(ipaddress.IPv4Address(base + first)), str(ipaddress.IPv4Address(base + last))
    except ValueError:
        return start, end


def snmpquery(conn: Connection, run, tuning: AgentTuning, config: dict,
              secrets: SecretCodec = CLEAR) -> SnmpQueryOption:
    device_type = DEVICE_TYPES.get(run.itemtype)
    if device_type is None:
        raise CannotBuild(f"SNMP inventory cannot query a {run.itemtype}.")
    ip = first_ip(conn, run.itemtype, run.items_id)
    if ip is None:
        raise CannotBuild("Device have no ip")
    row = conn.execute(DEVICE_CREDENTIAL[run.itemtype], {"id": run.items_id}).first()
    credential_id = (row.device_credential_id or 0) if row is not None else 0
    credential = Credential.from_row(row) if row is not None and row.credential_id is not None else None
    # Only the credential the device uses: the plugin sends every credential it knows.
    return SnmpQueryOption(
        pid=run.id,
        threads=_value(tuning.threads_inventory, config, "threads_networkinventory", "10"),
        timeout=_value(tuning.timeout_inventory, config, "timeout_networkinventory", "15"),
        devices=(SnmpTarget(type=device_type, id=run.items_id, ip=ip, authsnmp_id=credential_id),),
        authentications=(authentication(credential, secrets),) if credential is not None else (),
    )


def first_ip(conn: Connection, itemtype: str, items_id: int) -> str | None:
    """The asset's first IP address through ports → names → addresses (``getIPforDevice``)."""
    return conn.execute(FIRST_IP, {"itemtype": itemtype, "items_id": items_id}).scalar()


def wakeonlan(conn: Connection, run) -> WakeOnLanOption:
    macs = conn.execute(COMPUTER_MACS, {"items_id": run.items_id}).scalars().all()
    if not macs:
        raise CannotBuild("No MAC address found on the computer")
    return WakeOnLanOption(macs=tuple(dict.fromkeys(macs)))
