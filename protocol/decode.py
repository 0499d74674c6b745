"""Request bytes in, one typed message out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection

from . import compression, messages as m
from .devices import read_discovered_device, read_inventoried_device
from .errors import ProtocolError
from .xmltree import DEFAULT_MAX_DEPTH, is_well_formed, parse_document, split_content, text_of, to_data

# An INVENTORY whose CONTENT is not read is checked without a tree from this size on
# (``xml_message``); below it the saving is nothing.
SPLIT_FROM_BYTES = 32 * 1024
# ``inventory_sections`` of a caller that reads no section, not even VERSIONCLIENT or the tag.
CONTENT_UNREAD: tuple[str, ...] = ()

# The DEVICEID column is varchar(255): a longer id is refused, never truncated.
MAX_DEVICE_ID = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Limits:
    max_decompressed: int = compression.DEFAULT_MAX_DECOMPRESSED
    max_depth: int = DEFAULT_MAX_DEPTH


@dataclass(frozen=True, slots=True)
class Decoded:
    message: m.Message
    encoding: str


def decode_request(body: bytes, content_type: str | None = None, limits: Limits = Limits(),
                   inventory_sections: Collection[str] | None = None) -> Decoded:
    """Decode an agent's POST body; raise ProtocolError with a reason otherwise.

    ``inventory_sections``: the CONTENT sections of an INVENTORY to turn into data (``None``:
    all). Converting a whole inventory costs ~30 times more than parsing the few sections an
    import reads, so callers name the ones they use; the document is validated whole either way.
    """
    if not body:
        raise ProtocolError("empty body: expected an XML REQUEST document")
    encoding = compression.sniff_encoding(body, content_type)
    xml = compression.decompress(body, encoding, limits.max_decompressed)
    return Decoded(xml_message(xml, encoding, limits, inventory_sections), encoding)


def xml_message(xml: bytes, encoding: str, limits: Limits = Limits(),
                inventory_sections: Collection[str] | None = None) -> m.Message:
    """The message of a decompressed XML body.

    With ``CONTENT_UNREAD`` (the relay: GLPI imports the document), a large INVENTORY is
    checked as a whole without building its tree: the REQUEST around an emptied CONTENT is
    parsed as usual (DEVICEID, QUERY, depth), the CONTENT element only checked well-formed
    (libxml2's own nesting limit applies inside it). Its ``version_client`` and ``tag`` stay
    None. Any other shape, or any doubt, takes the full parse, which gives the exact error.
    """
    if (inventory_sections is not None and not inventory_sections and len(xml) >= SPLIT_FROM_BYTES
            and b"<!DOCTYPE" not in xml and b"<!ENTITY" not in xml):
        message = _inventory_unread(xml, encoding, limits)
        if message is not None:
            return message
    root = parse_document(xml, limits.max_depth, encoding)
    return message_from_root(root, xml, encoding, inventory_sections)


def _inventory_unread(xml: bytes, encoding: str, limits: Limits) -> m.Inventory | None:
    split = split_content(xml)
    if split is None:
        return None
    skeleton, content = split
    try:
        root = parse_document(skeleton, limits.max_depth, encoding)
    except ProtocolError:
        return None
    if (text_of(root, "QUERY") or "").upper() != "INVENTORY" or not is_well_formed(content):
        return None
    message = message_from_root(root, xml, encoding, CONTENT_UNREAD)
    return message if isinstance(message, m.Inventory) else None


def message_from_root(root, xml: bytes, encoding: str = "none",
                      inventory_sections: Collection[str] | None = None) -> m.Message:
    if root.tag != "REQUEST":
        raise ProtocolError(f"root element is <{root.tag}>, expected <REQUEST>", encoding)
    query = (text_of(root, "QUERY") or "").upper()
    device_id = _device_id(root, encoding)
    parse = _BY_QUERY.get(query)
    if parse is None:
        shown = query[:40] or "(none)"
        raise ProtocolError(f"unknown QUERY {shown}", encoding)
    if parse is _inventory:
        return _inventory(root, device_id, xml, encoding, inventory_sections)
    return parse(root, device_id, xml, encoding)


def _device_id(root, encoding: str) -> str:
    device_id = text_of(root, "DEVICEID")
    if not device_id:
        raise ProtocolError("missing DEVICEID", encoding)
    if len(device_id) > MAX_DEVICE_ID:
        raise ProtocolError(f"DEVICEID longer than {MAX_DEVICE_ID} characters", encoding)
    if _CONTROL.search(device_id):
        raise ProtocolError("DEVICEID contains control characters", encoding)
    return device_id


def _prolog(root, device_id, xml, encoding):
    return m.Prolog(device_id=device_id, token=text_of(root, "TOKEN"))


def _inventory(root, device_id, xml, encoding, sections: Collection[str] | None = None):
    content = root.find("CONTENT")
    if content is None:
        return m.Inventory(device_id=device_id, content={}, xml=xml)
    if sections is None:
        data = to_data(content)
        data = data if isinstance(data, dict) else {}
    else:
        data = {}
        for child in content:
            if child.tag in sections:
                data.setdefault(child.tag, []).append(to_data(child))
    return m.Inventory(
        device_id=device_id,
        version_client=_leaf_text(content, "VERSIONCLIENT"),
        tag=_account_tag(content),
        content=data,
        xml=xml,
    )


def _leaf_text(element, tag: str) -> str | None:
    """Text of the first child ``tag`` when it is a leaf (what ``to_data`` gives as a string)."""
    child = element.find(tag)
    if child is None or len(child) or child.attrib:
        return None
    return (child.text or "").strip()


def _account_tag(content) -> str | None:
    for info in content.iterfind("ACCOUNTINFO"):
        if _leaf_text(info, "KEYNAME") == "TAG":
            return _leaf_text(info, "KEYVALUE") or ""
    return None


def _task_fields(content, encoding):
    number = text_of(content, "PROCESSNUMBER")
    process_number = None
    if number:
        try:
            process_number = int(number)
        except ValueError:
            raise ProtocolError(f"PROCESSNUMBER is not a number: {number[:40]}", encoding) from None
    return process_number, text_of(content, "MODULEVERSION")


def _content(root, encoding):
    content = root.find("CONTENT")
    if content is None:
        raise ProtocolError("missing CONTENT", encoding)
    return content


def _agent_flag(agent, name: str) -> bool:
    return agent is not None and bool(text_of(agent, name))


def _task_message(root, device_id, encoding, start: type, end: type):
    """What the NETDISCOVERY and SNMPQUERY messages share: (CONTENT, its AGENT, the fields of
    every message, and the ``start`` or ``end`` message when AGENT says START or END/EXIT,
    else None)."""
    content = _content(root, encoding)
    process_number, module_version = _task_fields(content, encoding)
    common = dict(device_id=device_id, process_number=process_number, module_version=module_version)
    agent = content.find("AGENT")
    if _agent_flag(agent, "START"):
        return content, agent, common, start(**common, agent_version=text_of(agent, "AGENTVERSION"))
    if _agent_flag(agent, "END") or _agent_flag(agent, "EXIT"):
        return content, agent, common, end(**common)
    return content, agent, common, None


def _netdiscovery(root, device_id, xml, encoding):
    content, agent, common, message = _task_message(root, device_id, encoding, m.NetDiscoveryStart,
                                                    m.NetDiscoveryEnd)
    if message is not None:
        return message
    if agent is not None and text_of(agent, "NBIP"):
        return m.NetDiscoveryNbIp(**common, nb_ip=_int(text_of(agent, "NBIP"), "NBIP", encoding))
    devices = tuple(read_discovered_device(to_data(device)) for device in content.iterfind("DEVICE"))
    return m.NetDiscoveryDevices(**common, devices=devices)


def _snmpquery(root, device_id, xml, encoding):
    content, _agent, common, message = _task_message(root, device_id, encoding, m.SnmpQueryStart,
                                                     m.SnmpQueryEnd)
    if message is not None:
        return message
    device = content.find("DEVICE")
    if device is not None:
        error = device.find("ERROR")
        if error is not None:
            return m.SnmpQueryError(
                **common,
                item_id=text_of(error, "ID"),
                message=text_of(error, "MESSAGE") or "",
                item_type=text_of(error, "TYPE"),
            )
    data = to_data(device) if device is not None else None
    return m.SnmpQueryResult(**common, device=read_inventoried_device(data))


def _int(text: str | None, name: str, encoding: str) -> int:
    try:
        return int(text or 0)
    except ValueError:
        raise ProtocolError(f"{name} is not a number", encoding) from None


_BY_QUERY = {
    "PROLOG": _prolog,
    "INVENTORY": _inventory,
    "NETDISCOVERY": _netdiscovery,
    "SNMPQUERY": _snmpquery,
    # Older agents' name for SNMPQUERY; the plugin treats both alike.
    "SNMPINVENTORY": _snmpquery,
}
