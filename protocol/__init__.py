"""Sans-IO codec for the FusionInventory agent's OCS/XML protocol.

Bytes in, typed messages out; replies to bytes. No web framework, no database.
"""

from .compression import CONTENT_TYPES, GZIP, PLAIN, ZLIB, compress, decompress, sniff_encoding
from .decode import MAX_DEVICE_ID, Decoded, Limits, decode_request
from .errors import BodyTooLarge, ProtocolError
from .messages import (
    Inventory,
    Message,
    NetDiscoveryDevices,
    NetDiscoveryEnd,
    NetDiscoveryNbIp,
    NetDiscoveryStart,
    Prolog,
    SnmpQueryEnd,
    SnmpQueryError,
    SnmpQueryResult,
    SnmpQueryStart,
    TaskMessage,
)
from .replies import Element, empty_reply, error_reply, leaf, option, prolog_reply, render_reply


def encode_reply(xml: bytes, encoding: str) -> tuple[bytes, str]:
    """Compress a reply like its request; return (body, Content-Type)."""
    return compress(xml, encoding), CONTENT_TYPES[encoding]


__all__ = [
    "BodyTooLarge", "CONTENT_TYPES", "Decoded", "Element", "GZIP", "Inventory", "Limits",
    "MAX_DEVICE_ID", "Message", "NetDiscoveryDevices", "NetDiscoveryEnd", "NetDiscoveryNbIp",
    "NetDiscoveryStart", "PLAIN", "Prolog", "ProtocolError", "SnmpQueryEnd", "SnmpQueryError",
    "SnmpQueryResult", "SnmpQueryStart", "TaskMessage", "ZLIB", "compress", "decode_request",
    "decompress", "empty_reply", "encode_reply", "error_reply", "leaf", "option", "prolog_reply",
    "render_reply", "sniff_encoding",
]
