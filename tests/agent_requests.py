"""Agent request bodies as the real agent writes them (XML::TreePP layout)."""

import zlib

USER_AGENT = "FusionInventory-Agent_v2.6-3"
ZLIB_HEADERS = {"Content-Type": "application/x-compress-zlib", "User-Agent": USER_AGENT}


def prolog_xml(device_id: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>{device_id}</DEVICEID>\n'
            f"  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n").encode()


def prolog(device_id: str) -> bytes:
    return zlib.compress(prolog_xml(device_id))


def message_xml(device_id: str, query: str, content: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <CONTENT>{content}</CONTENT>\n'
            f"  <DEVICEID>{device_id}</DEVICEID>\n  <QUERY>{query}</QUERY>\n</REQUEST>\n").encode()


def inventory_xml(device_id: str, name: str = "pc01") -> bytes:
    return message_xml(device_id, "INVENTORY",
                       f"<HARDWARE><NAME>{name}</NAME></HARDWARE>"
                       f"<VERSIONCLIENT>{USER_AGENT}</VERSIONCLIENT>")


def netdiscovery_start_xml(device_id: str, process_number: int = 11) -> bytes:
    return message_xml(device_id, "NETDISCOVERY",
                       "<AGENT><AGENTVERSION>2.6-3</AGENTVERSION><START>1</START></AGENT>"
                       f"<MODULEVERSION>4.2</MODULEVERSION><PROCESSNUMBER>{process_number}</PROCESSNUMBER>")
