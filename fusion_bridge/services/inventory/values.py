"""Defensive readers for agent data and writers fitted to GLPI's columns.

Agent data arrives as ``xmltree.to_data`` produced it: a dict tag -> list of (str | dict). Any
element may be missing, repeated, empty, carry attributes (then it is a dict) or hold junk;
nothing here raises on such input. The readers themselves are ``protocol.readers``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import Column, String, Text

from fusion_bridge.domain.text import fit_utf8mb3
# Re-exported: the codec reads the network task messages with the same readers.
from protocol.readers import ip_texts, node, nodes, text, texts, unique  # noqa: F401

INT_MAX = 2**31 - 1  # int(11)
BIGINT_MAX = 2**63 - 1  # bigint(20)
# A MySQL TEXT column holds 65535 bytes; GLPI's utf8 takes up to 3 bytes a character.
TEXT_CHARS = 65535 // 3


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def number(value: str | None, *, maximum: int = INT_MAX, minimum: int = 0) -> int | None:
    """The leading number of ``value`` as an int clamped to [minimum, maximum]; None without one.

    Agents send ``1500``, ``100000000``, ``23``, sometimes ``12 %``, ``1.5`` or junk.
    """
    if value is None:
        return None
    match = _NUMBER.match(value.strip())
    if match is None:
        return None
    try:
        result = int(float(match.group())) if "." in match.group() else int(match.group())
    except (ValueError, OverflowError):
        return None
    return max(minimum, min(maximum, result))


# --- MAC and IP addresses -------------------------------------------------------------------

_MAC_DIGITS = re.compile(r"^[0-9a-f]{12}$")
NULL_MAC = "00:00:00:00:00:00"


def normalize_mac(value: str | None) -> str | None:
    """``aa:bb:cc:dd:ee:ff`` for any usual spelling (``AA-BB-…``, ``aabb.ccdd.eeff``,
    ``0:1a:2:…``); None when empty or not a MAC."""
    if not value:
        return None
    value = value.strip().lower()
    groups = re.split(r"[:\-]", value)
    if len(groups) == 6 and all(re.fullmatch(r"[0-9a-f]{1,2}", g) for g in groups):
        return ":".join(g.zfill(2) for g in groups)
    digits = re.sub(r"[:\-. ]", "", value)
    if _MAC_DIGITS.match(digits):
        return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    return None


def usable_mac(mac: str | None) -> bool:
    """A MAC that identifies a device (the plugin ignores the all-zero one)."""
    return bool(mac) and mac != NULL_MAC


@dataclass(frozen=True, slots=True)
class IP:
    """An address as ``glpi_ipaddresses`` stores it (GLPI's ``IPAddress``).

    IPv4 is kept as its IPv4-mapped IPv6 form: binary_0 = 0, binary_1 = 0, binary_2 = 0xffff,
    binary_3 = the address as an unsigned 32-bit integer; IPv6 as four 32-bit words.
    """

    version: int
    textual: str
    binary: tuple[int, int, int, int]

    @property
    def is_loopback(self) -> bool:
        return self.textual in ("127.0.0.1", "::1")

    def columns(self) -> dict:
        return {
            "version": self.version,
            "name": self.textual,
            "binary_0": self.binary[0],
            "binary_1": self.binary[1],
            "binary_2": self.binary[2],
            "binary_3": self.binary[3],
        }


def parse_ip(value: str | None) -> IP | None:
    """An IP from agent text (zone suffix dropped); None for junk and unspecified addresses."""
    if not value:
        return None
    value = value.strip().split("%", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if address.is_unspecified:
        return None
    if address.version == 4:
        return IP(4, str(address), (0, 0, 0xFFFF, int(address)))
    whole = int(address)
    words = tuple((whole >> shift) & 0xFFFFFFFF for shift in (96, 64, 32, 0))
    return IP(6, address.compressed, words)  # type: ignore[arg-type]


def parse_ips(values: Iterable[str | None]) -> list[IP]:
    return unique(ip for ip in (parse_ip(value) for value in values) if ip is not None)


# --- serials and UUIDs used for matching ----------------------------------------------------

_PLACEHOLDER_SERIALS = {
    "", "0", "none", "null", "n/a", "na", "unknown", "default", "default string", "not specified",
    "not available", "not applicable", "to be filled by o.e.m.", "to be filled by oem",
    "system serial number", "chassis serial number", "base board serial number", "serial number",
    "serialnumber", "serial", "sn", "123456789", "1234567890", "0123456789", "invalid", "oem",
    "o.e.m.", "empty", "x", "-", "."
}
_PLACEHOLDER_UUIDS = {
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "03000200-0400-0500-0006-000700080009",
    "00020003-0004-0005-0006-000700080009",
}


def meaningful_serial(serial: str | None) -> bool:
    """False for the empty and placeholder serials BIOSes and devices report."""
    if not serial:
        return False
    value = serial.strip().lower()
    if value in _PLACEHOLDER_SERIALS:
        return False
    # 0000000, xxxxxxx, ********, ........: one character repeated.
    return len(set(value.replace(" ", ""))) > 1


def meaningful_uuid(uuid: str | None) -> bool:
    if not uuid:
        return False
    return uuid.strip().lower() not in _PLACEHOLDER_UUIDS and len(set(uuid.replace("-", ""))) > 1


# --- writing --------------------------------------------------------------------------------

def fit(column: Column, value: Any) -> Any:
    """``value`` fitted to ``column``: 4-byte UTF-8 replaced and cut to the column's length.

    Non-text values pass through unchanged.
    """
    if value is None or not isinstance(value, str):
        return value
    column_type = column.type
    length = getattr(column_type, "length", None)
    if isinstance(column_type, Text) and length is None:
        length = TEXT_CHARS
    elif not isinstance(column_type, (String, Text)):
        length = None
    return fit_utf8mb3(value, length)


def fitted(table, values: dict) -> dict:
    """Every string of ``values`` fitted to its column of ``table``."""
    return {key: fit(table.c[key], value) for key, value in values.items()}


def changes(row, values: dict) -> dict:
    """The entries of ``values`` that differ from ``row`` (a mapping)."""
    return {key: value for key, value in values.items() if row[key] != value}
