"""Sans-IO codec for the FusionInventory agent's OCS/XML protocol, and GLPI Agent's JSON one
(``glpi_agent``).

Bytes in, typed messages out; typed reply values to bytes. No web framework, no database.
"""

from .compression import CONTENT_TYPES, GZIP, PLAIN, ZLIB, compress, decompress, sniff_encoding
from .decode import CONTENT_UNREAD, MAX_DEVICE_ID, Decoded, Limits, decode_request
from .devices import (DevicePort, DeviceInfo, DiscoveredDevice, InventoriedDevice, read_discovered_device,
                      read_inventoried_device)
from .errors import BodyTooLarge, ProtocolError
from .glpi_agent import (AGENT_ID_HEADER, ECHOED_HEADERS, JSON_CONTENT_TYPE, REQUEST_ID_HEADER, AnnouncedTask,
                         ContactReply, ContactRequest, JsonErrorReply, JsonInventory, JsonProtocolError, JsonReply,
                         JsonRequest, StatusReply, decode_agent_request, echoed_headers, read_contact,
                         read_json_inventory, read_json_request, write_json_reply)
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
from .replies import (Element, ReplyStyle, empty_reply, error_reply, leaf, option, prolog_reply, render_reply,
                      write_prolog, write_reply)
from .reply_values import (EmptyReply, IpRange, NetDiscoveryOption, PrologReply, Reply, ReplyOption,
                           SnmpAuthentication, SnmpQueryOption, SnmpTarget, WakeOnLanOption)


def encode_reply(xml: bytes, encoding: str) -> tuple[bytes, str]:
    """Compress a reply like its request; return (body, Content-Type)."""
    return compress(xml, encoding), CONTENT_TYPES[encoding]


__all__ = [
    "AGENT_ID_HEADER", "AnnouncedTask", "ContactReply", "ContactRequest", "ECHOED_HEADERS", "JSON_CONTENT_TYPE",
    "JsonErrorReply", "JsonInventory", "JsonProtocolError", "JsonReply", "JsonRequest", "REQUEST_ID_HEADER", "ReplyStyle", "StatusReply",
    "decode_agent_request", "echoed_headers", "read_contact", "read_json_inventory", "read_json_request", "write_json_reply",
    "BodyTooLarge", "CONTENT_TYPES", "Decoded", "DeviceInfo", "DevicePort", "DiscoveredDevice", "Element",
    "EmptyReply", "GZIP", "Inventory", "InventoriedDevice", "IpRange", "Limits", "MAX_DEVICE_ID", "Message",
    "NetDiscoveryDevices", "NetDiscoveryEnd", "NetDiscoveryNbIp", "NetDiscoveryOption", "NetDiscoveryStart",
    "CONTENT_UNREAD", "PLAIN", "Prolog", "PrologReply", "ProtocolError", "Reply", "ReplyOption", "SnmpAuthentication",
    "SnmpQueryEnd", "SnmpQueryError", "SnmpQueryOption", "SnmpQueryResult", "SnmpQueryStart", "SnmpTarget",
    "TaskMessage", "WakeOnLanOption", "ZLIB", "compress", "decode_request", "decompress", "empty_reply",
    "encode_reply", "error_reply", "leaf", "option", "prolog_reply", "read_discovered_device",
    "read_inventoried_device", "render_reply", "sniff_encoding", "write_prolog", "write_reply",
]
