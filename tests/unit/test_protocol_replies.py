"""Reply writers: the plugin's bytes (docs/plugin-semantics.md §2.2, §3, §4)."""

import gzip
import zlib

import protocol
from protocol import leaf, option
from tests.helpers.plugin_replies import PLUGIN_PROLOG_SEND, PLUGIN_PROLOG_WITH_JOBS


def test_prolog_reply_is_the_plugins_bytes():
    assert protocol.prolog_reply(send_inventory=True, prolog_freq=24) == PLUGIN_PROLOG_SEND


def test_prolog_reply_without_inventory_has_only_prolog_freq():
    assert protocol.prolog_reply(send_inventory=False, prolog_freq="12") == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n   <PROLOG_FREQ>12</PROLOG_FREQ>\n</REPLY>\n'
    )


def test_prolog_reply_with_options_orders_options_response_freq():
    options = (
        option("NETDISCOVERY", leaf("PARAM", THREADS_DISCOVERY=20, TIMEOUT=1, PID=42),
               leaf("RANGEIP", ID=1, IPSTART="192.168.0.1", IPEND="192.168.0.254", ENTITY=0),
               leaf("AUTHENTICATION", ID=1, VERSION=1, COMMUNITY="public")),
        option("SNMPQUERY", leaf("PARAM", THREADS_QUERY=10, TIMEOUT=15, PID=43),
               leaf("DEVICE", TYPE="NETWORKING", ID=7, IP="10.0.0.2", AUTHSNMP_ID=2),
               leaf("AUTHENTICATION", ID=2, VERSION="2c", COMMUNITY="public")),
        option("WAKEONLAN", leaf("PARAM", MAC="00:11:22:33:44:55")),
    )
    assert protocol.prolog_reply(options, send_inventory=True, prolog_freq=24) == PLUGIN_PROLOG_WITH_JOBS


def test_empty_reply_is_open_and_close_tags():
    # <REPLY/> is refused by the agent; the plugin sends an open/close pair.
    assert protocol.empty_reply() == b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n</REPLY>\n'


def test_error_reply_escapes_text():
    assert protocol.error_reply("a < b & c") == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n   <ERROR>a &lt; b &amp; c</ERROR>\n</REPLY>\n'
    )


def test_attributes_are_escaped_with_quotes():
    reply = protocol.prolog_reply((option("X", leaf("AUTHENTICATION", COMMUNITY='p"&<>')),), False, 1)
    assert b'COMMUNITY="p&quot;&amp;&lt;&gt;"' in reply


def test_zlib_reply_starts_with_78_9c_whatever_the_payload():
    for payload in (PLUGIN_PROLOG_SEND, PLUGIN_PROLOG_WITH_JOBS, b"", b"x" * 100000):
        body, content_type = protocol.encode_reply(payload, protocol.ZLIB)
        assert body[:2] == b"\x78\x9c"
        assert zlib.decompress(body) == payload
        assert content_type == "application/x-compress-zlib"


def test_gzip_and_plain_replies_mirror_the_request():
    body, content_type = protocol.encode_reply(PLUGIN_PROLOG_SEND, protocol.GZIP)
    assert body[:3] == b"\x1f\x8b\x08" and gzip.decompress(body) == PLUGIN_PROLOG_SEND
    assert content_type == "application/x-compress-gzip"
    body, content_type = protocol.encode_reply(PLUGIN_PROLOG_SEND, protocol.PLAIN)
    assert body == PLUGIN_PROLOG_SEND and content_type == "application/xml"
