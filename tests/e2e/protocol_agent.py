"""A protocol-level test agent: speaks the NETDISCOVERY exchange of the recorded agent 2.6
(fixtures/cases/netdiscovery) without scanning anything.

Run as a script (stdlib only, so it can run inside the test's network namespace):

    python3 protocol_agent.py URL DEVICEID complete|silent

It sends a PROLOG (zlib body, the agent's User-Agent), reads the NETDISCOVERY OPTIONs of the
reply, and in ``complete`` mode reports each job as the real agent does: START once per
RANGEIP, NBIP (the range's address count), then END twice. ``silent`` stops after the PROLOG:
an agent that took its job and died. It prints one JSON line: the jobs it received
(``[{"pid": ..., "ranges": [[start, end], ...]}]``).
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
import urllib.request
import zlib

USER_AGENT = "FusionInventory-Agent_v2.6-3"


def post(url: str, xml: str) -> str:
    request = urllib.request.Request(url, data=zlib.compress(xml.encode()), method="POST", headers={
        "Content-Type": "application/x-compress-zlib", "User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return zlib.decompress(body).decode() if body else ""


def message(deviceid: str, query: str, content: str) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <CONTENT>\n{content}  </CONTENT>\n'
            f"  <DEVICEID>{deviceid}</DEVICEID>\n  <QUERY>{query}</QUERY>\n</REQUEST>\n")


def prolog(url: str, deviceid: str) -> str:
    return post(url, f'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>{deviceid}</DEVICEID>\n'
                     f"  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n")


def discovery_jobs(reply: str) -> list[dict]:
    jobs = []
    for block in re.findall(r"<OPTION>(.*?)</OPTION>", reply, re.S):
        if not re.search(r"<NAME>NETDISCOVERY</NAME>", block):
            continue
        pid = re.search(r'<PARAM [^>]*PID="(\d+)"', block)
        ranges = re.findall(r'<RANGEIP [^>]*IPSTART="([\d.]+)" IPEND="([\d.]+)"', block)
        jobs.append({"pid": int(pid.group(1)) if pid else None, "ranges": [list(r) for r in ranges]})
    return jobs


def report(url: str, deviceid: str, job: dict) -> None:
    pid = job["pid"]
    tail = f"    <MODULEVERSION>4.2</MODULEVERSION>\n    <PROCESSNUMBER>{pid}</PROCESSNUMBER>\n"
    for _ in job["ranges"]:
        post(url, message(deviceid, "NETDISCOVERY",
                          "    <AGENT>\n      <AGENTVERSION>2.6-3</AGENTVERSION>\n      <START>1</START>\n"
                          "    </AGENT>\n" + tail))
    count = sum(int(ipaddress.IPv4Address(end)) - int(ipaddress.IPv4Address(start)) + 1
                for start, end in job["ranges"])
    post(url, message(deviceid, "NETDISCOVERY", f"    <AGENT>\n      <NBIP>{count}</NBIP>\n    </AGENT>\n"
                      f"    <PROCESSNUMBER>{pid}</PROCESSNUMBER>\n"))
    for _ in range(2):  # the real agent sends END twice
        post(url, message(deviceid, "NETDISCOVERY", "    <AGENT>\n      <END>1</END>\n    </AGENT>\n" + tail))


def main(argv: list[str]) -> int:
    url, deviceid, mode = argv
    jobs = discovery_jobs(prolog(url, deviceid))
    if mode == "complete":
        for job in jobs:
            report(url, deviceid, job)
    print(json.dumps(jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
