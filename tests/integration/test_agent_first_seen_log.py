"""With the access log off (serve's default), a new agent is told in the log at INFO: once, when
its row is created, not at every request."""

from __future__ import annotations

import logging

from tests.helpers.agent_requests import USER_AGENT, ZLIB_HEADERS, inventory_xml, prolog

PATH = "/plugins/fusioninventory/"


def new_agent_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.INFO and r.getMessage().startswith("new agent ")]


def test_a_new_agent_is_logged_once(client, caplog):
    caplog.set_level(logging.INFO, logger="fusion_bridge")
    assert client.post(PATH, data=prolog("first-seen-1"), headers=ZLIB_HEADERS).status_code == 200
    [line] = new_agent_lines(caplog)
    assert line.startswith("new agent 'first-seen-1' (id ") and line.endswith(f", {USER_AGENT})"), line
    for body in (prolog("first-seen-1"), inventory_xml("first-seen-1"), prolog("first-seen-1")):
        assert client.post(PATH, data=body, headers=ZLIB_HEADERS).status_code == 200
    assert len(new_agent_lines(caplog)) == 1
    # An agent first seen through another message is told too.
    assert client.post(PATH, data=inventory_xml("first-seen-2"), headers=ZLIB_HEADERS).status_code == 200
    assert [line.split(" (")[0] for line in new_agent_lines(caplog)] == ["new agent 'first-seen-1'",
                                                                         "new agent 'first-seen-2'"]
