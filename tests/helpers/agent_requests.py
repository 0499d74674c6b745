"""Agent request bodies as the real agent writes them (XML::TreePP layout), and what the agent
reads in a PROLOG reply. Standard library only: tests/helpers/protocol_agent.py uses it in a
network namespace."""

import ipaddress
import re
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


def discovery_jobs(reply: str) -> list[dict]:
    """The NETDISCOVERY jobs of a PROLOG reply: ``[{"pid": 11, "ranges": [[start, end], ...]}]``."""
    jobs = []
    for block in re.findall(r"<OPTION>(.*?)</OPTION>", reply, re.S):
        if not re.search(r"<NAME>NETDISCOVERY</NAME>", block):
            continue
        pid = re.search(r'<PARAM [^>]*PID="(\d+)"', block)
        ranges = re.findall(r'<RANGEIP [^>]*IPSTART="([\d.]+)" IPEND="([\d.]+)"', block)
        jobs.append({"pid": int(pid.group(1)) if pid else None, "ranges": [list(r) for r in ranges]})
    return jobs


def netdiscovery_report(pid: int, ranges: list[tuple[str, str]] | list[list[str]]) -> list[str]:
    """The CONTENTs of the NETDISCOVERY messages the agent 2.x sends for a job that found
    nothing: START once per range, NBIP (the ranges' address count), then END twice."""
    tail = f"<MODULEVERSION>4.2</MODULEVERSION><PROCESSNUMBER>{pid}</PROCESSNUMBER>"
    count = sum(int(ipaddress.IPv4Address(end)) - int(ipaddress.IPv4Address(start)) + 1
                for start, end in ranges)
    return ([f"<AGENT><AGENTVERSION>2.6-3</AGENTVERSION><START>1</START></AGENT>{tail}" for _ in ranges]
            + [f"<AGENT><NBIP>{count}</NBIP></AGENT><PROCESSNUMBER>{pid}</PROCESSNUMBER>"]
            + [f"<AGENT><END>1</END></AGENT>{tail}"] * 2)
