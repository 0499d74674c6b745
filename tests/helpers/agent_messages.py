"""Agent messages decoded as the bridge decodes them, from hand-written XML or from the bodies
agents really sent (recorded in fixtures/cases)."""

from __future__ import annotations

import json
from pathlib import Path

import protocol
from protocol.decode import message_from_root
from protocol.xmltree import parse_document

CASES = Path(__file__).resolve().parents[2] / "fixtures" / "cases"
REAL_INVENTORY = ("inventory_zlib", "01-INVENTORY")  # (case, step) of a real agent's full inventory


def message(xml: str):
    data = xml.encode("utf-8")
    return message_from_root(parse_document(data), data)


def device(content: str) -> protocol.DiscoveredDevice:
    """The one device of a NETDISCOVERY message whose DEVICE element holds ``content``."""
    msg = message(f"<REQUEST><CONTENT><DEVICE>{content}</DEVICE><PROCESSNUMBER>5</PROCESSNUMBER></CONTENT>"
                  "<DEVICEID>a</DEVICEID><QUERY>NETDISCOVERY</QUERY></REQUEST>")
    [found] = msg.devices
    return found


def recorded(case: str, step: str):
    """The message an agent really sent, decoded from the recorded body."""
    [folder] = (CASES / case).glob(f"{step}*")
    meta = json.loads((folder / "request.json").read_text())
    return protocol.decode_request((folder / "request.body").read_bytes(), meta["content_type"]).message


def inventory(device_id: str, content: str):
    """An INVENTORY message of agent ``device_id`` whose CONTENT element holds ``content``."""
    return message(f"<?xml version='1.0' encoding='UTF-8'?><REQUEST><CONTENT>{content}</CONTENT>"
                   f"<DEVICEID>{device_id}</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>")
