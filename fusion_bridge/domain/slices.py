"""Pure arithmetic of load balancing: IP ranges cut into contiguous slices, items into chunks.

A slice is ``(first, count)``: ``count`` addresses starting ``first`` addresses after the
range's first one, written in a run's ``specificity`` as ``"<first>-<count>"`` (2.x style).
"""

from __future__ import annotations

import re
from typing import Sequence, TypeVar

T = TypeVar("T")

_SPECIFICITY = re.compile(r"^\s*(\d+)-(\d+)\s*$")


def split_range(total: int, parts: int) -> list[tuple[int, int]]:
    """``total`` addresses in ``min(parts, total)`` contiguous slices whose counts differ by at
    most one (the first ones get the extra address)."""
    if total <= 0 or parts <= 0:
        return []
    parts = min(parts, total)
    base, extra = divmod(total, parts)
    slices, first = [], 0
    for index in range(parts):
        count = base + (1 if index < extra else 0)
        slices.append((first, count))
        first += count
    return slices


def chunk(items: Sequence[T], parts: int) -> list[list[T]]:
    """``items`` in order, cut in chunks of ``ceil(len / parts)`` (2.3.0's Wake-on-LAN split):
    at most ``parts`` chunks, fewer when there are fewer items."""
    if not items or parts <= 0:
        return []
    size = -(-len(items) // parts)
    return [list(items[start:start + size]) for start in range(0, len(items), size)]


def specificity(first: int, count: int) -> str:
    return f"{first}-{count}"


def parse_specificity(text: str | None) -> tuple[int, int] | None:
    match = _SPECIFICITY.match(text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None
