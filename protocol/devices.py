"""Typed, immutable values for the devices agents report from network tasks.

A NETDISCOVERY DEVICE becomes a ``DiscoveredDevice``, an SNMPQUERY DEVICE an
``InventoriedDevice`` (its INFO and PORTS/PORT). Each holds the fields the server uses, read
with ``readers``: a text is stripped, None when absent or empty, the first usable one when the
element repeats; junk (an element where text was expected) is skipped, never an error. Fields
the server does not use (MODEL, MANUFACTURER, LOCATION, IFTYPE, ...) are not kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .readers import ip_texts, node, nodes, text


@dataclass(frozen=True, slots=True)
class DiscoveredDevice:
    """A device network discovery found; ``ips`` is IP then IPS/IP, each address once."""

    ip: str | None = None
    ips: tuple[str, ...] = ()
    mac: str | None = None
    dns_hostname: str | None = None
    snmp_hostname: str | None = None
    netbios_name: str | None = None
    type: str | None = None
    serial: str | None = None
    description: str | None = None
    # The id of the SNMP credential that answered (AUTHSNMP), as text.
    authsnmp: str | None = None
    uptime: str | None = None
    user_session: str | None = None
    # The entity of the range the device was found in (ENTITY), as text.
    entity: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The INFO of an SNMP inventory result: what the device says of itself."""

    id: str | None = None
    type: str | None = None
    name: str | None = None
    serial: str | None = None
    # sysDescr.
    comments: str | None = None
    ram: str | None = None
    memory: str | None = None
    uptime: str | None = None
    cpu: str | None = None
    mac: str | None = None
    ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DevicePort:
    """One PORTS/PORT of an SNMP inventory result (interface counters arrive as text)."""

    ifnumber: str | None = None
    ifname: str | None = None
    ifdescr: str | None = None
    mac: str | None = None
    ifalias: str | None = None
    ifmtu: str | None = None
    ifspeed: str | None = None
    ifinternalstatus: str | None = None
    ifstatus: str | None = None
    iflastchange: str | None = None
    ifinoctets: str | None = None
    ifoutoctets: str | None = None
    ifinerrors: str | None = None
    ifouterrors: str | None = None
    ifportduplex: str | None = None
    trunk: str | None = None
    # The port aggregates others (it has an AGGREGATE element).
    aggregate: bool = False
    ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InventoriedDevice:
    """An SNMP inventory result: INFO and the PORT entries of the first PORTS."""

    info: DeviceInfo = DeviceInfo()
    ports: tuple[DevicePort, ...] = ()


def read_discovered_device(data: Any) -> DiscoveredDevice:
    """A NETDISCOVERY DEVICE from its plain data (anything else reads as an empty device)."""
    return DiscoveredDevice(
        ip=text(data, "IP"),
        ips=tuple(ip_texts(data)),
        mac=text(data, "MAC"),
        dns_hostname=text(data, "DNSHOSTNAME"),
        snmp_hostname=text(data, "SNMPHOSTNAME"),
        netbios_name=text(data, "NETBIOSNAME"),
        type=text(data, "TYPE"),
        serial=text(data, "SERIAL"),
        description=text(data, "DESCRIPTION"),
        authsnmp=text(data, "AUTHSNMP"),
        uptime=text(data, "UPTIME"),
        user_session=text(data, "USERSESSION"),
        entity=text(data, "ENTITY"),
    )


def read_inventoried_device(data: Any) -> InventoriedDevice:
    """An SNMPQUERY DEVICE from its plain data (anything else reads as an empty device)."""
    info = node(data, "INFO")
    return InventoriedDevice(
        info=DeviceInfo(
            id=text(info, "ID"),
            type=text(info, "TYPE"),
            name=text(info, "NAME"),
            serial=text(info, "SERIAL"),
            comments=text(info, "COMMENTS"),
            ram=text(info, "RAM"),
            memory=text(info, "MEMORY"),
            uptime=text(info, "UPTIME"),
            cpu=text(info, "CPU"),
            mac=text(info, "MAC"),
            ips=tuple(ip_texts(info)),
        ),
        ports=tuple(_port(entry) for entry in nodes(node(data, "PORTS"), "PORT")),
    )


def _port(entry: dict) -> DevicePort:
    return DevicePort(
        ifnumber=text(entry, "IFNUMBER"),
        ifname=text(entry, "IFNAME"),
        ifdescr=text(entry, "IFDESCR"),
        mac=text(entry, "MAC"),
        ifalias=text(entry, "IFALIAS"),
        ifmtu=text(entry, "IFMTU"),
        ifspeed=text(entry, "IFSPEED"),
        ifinternalstatus=text(entry, "IFINTERNALSTATUS"),
        ifstatus=text(entry, "IFSTATUS"),
        iflastchange=text(entry, "IFLASTCHANGE"),
        ifinoctets=text(entry, "IFINOCTETS"),
        ifoutoctets=text(entry, "IFOUTOCTETS"),
        ifinerrors=text(entry, "IFINERRORS"),
        ifouterrors=text(entry, "IFOUTERRORS"),
        ifportduplex=text(entry, "IFPORTDUPLEX"),
        trunk=text(entry, "TRUNK"),
        aggregate=bool(nodes(entry, "AGGREGATE")),
        ips=tuple(ip_texts(entry)),
    )
