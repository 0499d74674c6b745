"""Agent messages decoded as the bridge decodes them, from hand-written XML."""

from __future__ import annotations

import protocol
from protocol.decode import message_from_root
from protocol.xmltree import parse_document


def message(xml: str):
    data = xml.encode("utf-8")
    return message_from_root(parse_document(data), data)


def device(content: str) -> protocol.DiscoveredDevice:
    """The one device of a NETDISCOVERY message whose DEVICE element holds ``content``."""
    msg = message(f"<REQUEST><CONTENT><DEVICE>{content}</DEVICE><PROCESSNUMBER>5</PROCESSNUMBER></CONTENT>"
                  "<DEVICEID>a</DEVICEID><QUERY>NETDISCOVERY</QUERY></REQUEST>")
    [found] = msg.devices
    return found
