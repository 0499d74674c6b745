"""Defensive readers for agent data in the plain-data form ``xmltree.to_data`` produces.

Such data is a dict tag -> list of (str | dict). Any element may be missing, repeated, empty,
carry attributes (then it is a dict) or hold junk; nothing here raises on such input.
"""

from __future__ import annotations

from typing import Any, Iterable


def node(data: Any, key: str) -> dict:
    """First child ``key`` of ``data`` that is an element with children, else {}."""
    if isinstance(data, dict):
        for value in data.get(key) or ():
            if isinstance(value, dict):
                return value
    return {}


def nodes(data: Any, key: str) -> list[dict]:
    """Every child ``key`` of ``data`` that is an element with children."""
    if not isinstance(data, dict):
        return []
    return [value for value in data.get(key) or () if isinstance(value, dict)]


def text(data: Any, key: str) -> str | None:
    """Text of the first child ``key`` (stripped); None when absent or empty."""
    if not isinstance(data, dict):
        return None
    for value in data.get(key) or ():
        if isinstance(value, str):
            value = value.strip()
            return value or None
    return None


def texts(data: Any, key: str) -> list[str]:
    """Non-empty texts of every child ``key``."""
    if not isinstance(data, dict):
        return []
    return [value.strip() for value in data.get(key) or () if isinstance(value, str) and value.strip()]


def ip_texts(data: Any) -> list[str]:
    """The addresses of a DEVICE, INFO or PORT: ``IP`` and ``IPS/IP``, in order, once each."""
    found = texts(data, "IP")
    for ips in nodes(data, "IPS"):
        found.extend(texts(ips, "IP"))
    return unique(found)


def unique(values: Iterable) -> list:
    seen = set()
    out = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out
