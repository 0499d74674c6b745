"""Agents' addresses: as recorded from a request's source, and the base URL of the agent's
HTTP server that a wake-up calls."""

from __future__ import annotations

from fusion_bridge.services.agent.addresses import normalise
from fusion_bridge.services.push import wakeup


def test_normalise():
    assert normalise("192.0.2.7") == "192.0.2.7"
    assert normalise("::ffff:192.0.2.7") == "192.0.2.7"
    assert normalise("2001:DB8:0::1") == "2001:db8::1"
    assert normalise("fe80::1%eth0") == "fe80::1"
    assert normalise("") is None and normalise(None) is None and normalise("unix:/run/x.sock") is None


def test_base_url_brackets_ipv6():
    assert wakeup.base_url("192.0.2.1", 62354) == "http://192.0.2.1:62354"
    assert wakeup.base_url("2001:db8::1", 62354) == "http://[2001:db8::1]:62354"
    assert wakeup.base_url("pc01.example", 80) == "http://pc01.example:80"
