"""Body (de)compression for the OCS/XML transport.

Detection is by magic bytes, the Content-Type is only a hint for bodies whose first bytes
say nothing (the agent and the injector disagree on header spellings). Decompression is
streamed with a hard cap on the output so a compression bomb costs at most ``max_size``
bytes of memory.

Replies must be zlib at level 6: agent 2.6 finds a zlib reply only by the header bytes
``78 9C``; any other level is refused by the agent.
"""

from __future__ import annotations

import zlib

from zlib_ng import zlib_ng

from .errors import BodyTooLarge, ProtocolError

ZLIB = "zlib"
GZIP = "gzip"
PLAIN = "none"

CONTENT_TYPES = {
    ZLIB: "application/x-compress-zlib",
    GZIP: "application/x-compress-gzip",
    PLAIN: "application/xml",
}

DEFAULT_MAX_DECOMPRESSED = 64 * 1024 * 1024
_CHUNK = 256 * 1024
# zlib window-bits: 15 = zlib header, 31 = gzip header.
_WBITS = {ZLIB: 15, GZIP: 31}


def sniff_encoding(body: bytes, content_type: str | None = None) -> str:
    """Return ZLIB, GZIP or PLAIN for ``body``."""
    if len(body) >= 2:
        first, second = body[0], body[1]
        if first == 0x1F and second == 0x8B:
            return GZIP
        # A zlib header: CM=8 (deflate) in the low nibble and a valid FCHECK.
        if first & 0x0F == 8 and (first << 8 | second) % 31 == 0:
            return ZLIB
    stripped = body.lstrip()
    if stripped.startswith(b"<") or stripped.startswith(b"\xef\xbb\xbf<"):
        return PLAIN
    hint = (content_type or "").lower()
    if "gzip" in hint:
        return GZIP
    if "zlib" in hint or "x-compress" in hint:
        return ZLIB
    return PLAIN


def decompress(body: bytes, encoding: str, max_size: int = DEFAULT_MAX_DECOMPRESSED) -> bytes:
    """Inflate ``body``; refuse output larger than ``max_size`` or a broken stream."""
    if encoding == PLAIN:
        if len(body) > max_size:
            raise BodyTooLarge(f"body larger than {max_size} bytes", encoding)
        return body
    inflater = zlib_ng.decompressobj(_WBITS[encoding])
    parts: list[bytes] = []
    produced = 0
    pending = body
    try:
        while True:
            budget = max_size - produced + 1
            chunk = inflater.decompress(pending, min(budget, _CHUNK))
            produced += len(chunk)
            if produced > max_size:
                raise BodyTooLarge(f"decompressed body exceeds {max_size} bytes", encoding)
            parts.append(chunk)
            pending = inflater.unconsumed_tail
            if not pending:
                break
        tail = inflater.flush()
    except zlib_ng.error as exc:
        raise ProtocolError(f"cannot decompress {encoding} body: {exc}", encoding) from None
    produced += len(tail)
    if produced > max_size:
        raise BodyTooLarge(f"decompressed body exceeds {max_size} bytes", encoding)
    parts.append(tail)
    if not inflater.eof:
        raise ProtocolError(f"truncated {encoding} body", encoding)
    return b"".join(parts)


def compress(payload: bytes, encoding: str) -> bytes:
    """Encode a reply the way the request came in."""
    if encoding == ZLIB:
        # Level 6 is what makes the header 78 9C, the only zlib header agent 2.6 decodes.
        return zlib.compress(payload, 6)
    if encoding == GZIP:
        return _gzip(payload)
    return payload


def _gzip(payload: bytes) -> bytes:
    deflater = zlib.compressobj(6, zlib.DEFLATED, 31)
    return deflater.compress(payload) + deflater.flush()
