"""IPv4 addresses as integers, to compare them with ranges (MySQL's INET_ATON is not portable)."""

from __future__ import annotations

import ipaddress


def ipv4_int(text: str | None) -> int | None:
    """The address as an integer; None for anything but a dotted IPv4 address."""
    try:
        return int(ipaddress.IPv4Address((text or "").strip()))
    except ValueError:
        return None
