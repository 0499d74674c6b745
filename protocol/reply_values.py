"""Typed, immutable values for what the server answers (``replies`` writes them as bytes).

A PROLOG is answered with a ``PrologReply``: the OPTIONs of the runs handed out (one per run,
docs/plugin-semantics.md §7), then whether the agent must send its inventory (RESPONSE SEND), then
its next-contact delay (PROLOG_FREQ). Every other message is answered with an ``EmptyReply``.
Deploy, Collect and ESX runs never travel as OPTIONs: the agent fetches them over REST.

Values hold what goes on the wire, already in the agent's vocabulary ("2c", "NETWORKING",
"SHA"); ids are ints, numbers the plugin copies from its configuration are its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union


@dataclass(frozen=True, slots=True)
class SnmpAuthentication:
    """One SNMP credential (AUTHENTICATION). ``version`` "1" and "2c" use ``community``; "3"
    uses the others, and a protocol that is None is left out (the credential has none)."""

    id: int
    version: str
    community: str = ""
    username: str = ""
    auth_protocol: str | None = None
    auth_passphrase: str = ""
    priv_protocol: str | None = None
    priv_passphrase: str = ""


@dataclass(frozen=True, slots=True)
class IpRange:
    """A block of addresses to scan (RANGEIP) and the entity found devices go to."""

    id: int
    start: str
    end: str
    entity: int


@dataclass(frozen=True, slots=True)
class NetDiscoveryOption:
    """Scan ``ranges`` (the run id ``pid`` comes back as PROCESSNUMBER)."""

    pid: int
    threads: str
    timeout: str
    ranges: tuple[IpRange, ...]
    authentications: tuple[SnmpAuthentication, ...] = ()
    name: ClassVar[str] = "NETDISCOVERY"


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    """A device to inventory over SNMP (DEVICE): ``type`` NETWORKING or PRINTER, ``id`` the
    asset's id, ``authsnmp_id`` the AUTHENTICATION to query it with (0: none)."""

    type: str
    id: int
    ip: str
    authsnmp_id: int


@dataclass(frozen=True, slots=True)
class SnmpQueryOption:
    """Inventory ``devices`` over SNMP (the run id ``pid`` comes back as PROCESSNUMBER)."""

    pid: int
    threads: str
    timeout: str
    devices: tuple[SnmpTarget, ...]
    authentications: tuple[SnmpAuthentication, ...] = ()
    name: ClassVar[str] = "SNMPQUERY"


@dataclass(frozen=True, slots=True)
class WakeOnLanOption:
    """Send magic packets to ``macs`` (the agent reports nothing back)."""

    macs: tuple[str, ...]
    name: ClassVar[str] = "WAKEONLAN"


ReplyOption = Union[NetDiscoveryOption, SnmpQueryOption, WakeOnLanOption]


@dataclass(frozen=True, slots=True)
class PrologReply:
    """``prolog_freq`` is in hours, as text or a number."""

    options: tuple[ReplyOption, ...] = ()
    send_inventory: bool = True
    prolog_freq: str | int = 24


@dataclass(frozen=True, slots=True)
class EmptyReply:
    """The answer to INVENTORY, NETDISCOVERY and SNMPQUERY messages."""


Reply = Union[PrologReply, EmptyReply]
