"""A protocol-level test agent: speaks the NETDISCOVERY exchange of the recorded agent 2.6
(fixtures/cases/netdiscovery) without scanning anything.

Run as a module from the repository's root (standard library only, so it can run inside the
test's network namespace):

    python3 -m tests.helpers.protocol_agent URL DEVICEID complete|silent

It sends a PROLOG (zlib body, the agent's User-Agent), reads the NETDISCOVERY OPTIONs of the
reply, and in ``complete`` mode reports each job as the real agent does
(``agent_requests.netdiscovery_report``). ``silent`` stops after the PROLOG: an agent that took
its job and died. It prints one JSON line: the jobs it received
(``[{"pid": ..., "ranges": [[start, end], ...]}]``).
"""

from __future__ import annotations

import json
import sys
import urllib.request
import zlib

from tests.helpers.agent_requests import (ZLIB_HEADERS, discovery_jobs, message_xml, netdiscovery_report,
                                          prolog_xml)


def post(url: str, xml: bytes) -> str:
    request = urllib.request.Request(url, data=zlib.compress(xml), method="POST", headers=ZLIB_HEADERS)
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return zlib.decompress(body).decode() if body else ""


def main(argv: list[str]) -> int:
    url, deviceid, mode = argv
    jobs = discovery_jobs(post(url, prolog_xml(deviceid)))
    if mode == "complete":
        for job in jobs:
            for content in netdiscovery_report(job["pid"], job["ranges"]):
                post(url, message_xml(deviceid, "NETDISCOVERY", content))
    print(json.dumps(jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
