"""Decoding agent requests: what the real agent sends, and what a hostile client sends."""

import gzip
import time
import zlib

import pytest

import protocol
from protocol import ProtocolError, decode_request

PROLOG = (
    b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST>\n  <DEVICEID>pc01-2024-03-05-10-22-33</DEVICEID>\n'
    b"  <QUERY>PROLOG</QUERY>\n  <TOKEN>12345678</TOKEN>\n</REQUEST>\n"
)
EXPECTED_PROLOG = protocol.Prolog(device_id="pc01-2024-03-05-10-22-33", token="12345678")


def request(query: str, content: str = "", device: str = "pc01-2024-03-05-10-22-33") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST><CONTENT>{content}</CONTENT>'
            f"<DEVICEID>{device}</DEVICEID><QUERY>{query}</QUERY></REQUEST>\n").encode()


@pytest.mark.parametrize("body, encoding", [
    (zlib.compress(PROLOG), "zlib"),
    (zlib.compress(PROLOG, 9), "zlib"),
    (zlib.compress(PROLOG, 1), "zlib"),
    (gzip.compress(PROLOG), "gzip"),
    (PROLOG, "none"),
    (b"\xef\xbb\xbf" + PROLOG, "none"),
])
def test_prolog_in_every_encoding(body, encoding):
    decoded = decode_request(body, "application/x-compress-zlib")
    assert decoded.message == EXPECTED_PROLOG
    assert decoded.encoding == encoding


def test_content_type_is_only_a_hint():
    assert decode_request(zlib.compress(PROLOG), "application/xml").encoding == "zlib"
    assert decode_request(PROLOG, "application/x-compress-gzip").encoding == "none"


def test_element_order_repeats_and_entities_are_accepted():
    body = (b"<REQUEST><TOKEN>1</TOKEN><QUERY>INVENTORY</QUERY><DEVICEID>d-1</DEVICEID><CONTENT>"
            b"<VERSIONCLIENT>FusionInventory-Agent_v2.6-3</VERSIONCLIENT>"
            b"<ACCOUNTINFO><KEYNAME>TAG</KEYNAME><KEYVALUE>it&apos;s</KEYVALUE></ACCOUNTINFO>"
            b"<CONTROLLERS><TYPE>a</TYPE><TYPE>b</TYPE></CONTROLLERS><CONTROLLERS><NAME>c</NAME></CONTROLLERS>"
            b"</CONTENT></REQUEST>")
    message = decode_request(body).message
    assert isinstance(message, protocol.Inventory)
    assert message.version_client == "FusionInventory-Agent_v2.6-3"
    assert message.tag == "it's"
    assert message.content["CONTROLLERS"] == [{"TYPE": ["a", "b"]}, {"NAME": ["c"]}]
    assert message.xml == body


def test_latin1_document_without_declaration():
    body = "<REQUEST><DEVICEID>caf\xe9-2024-01-01-00-00-00</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>".encode("latin-1")
    assert decode_request(body).message.device_id == "caf\xe9-2024-01-01-00-00-00"


def test_netdiscovery_messages():
    start = decode_request(request("NETDISCOVERY", "<AGENT><AGENTVERSION>2.6-3</AGENTVERSION><START>1</START></AGENT>"
                                   "<MODULEVERSION>4.2</MODULEVERSION><PROCESSNUMBER>11</PROCESSNUMBER>")).message
    assert start == protocol.NetDiscoveryStart(device_id="pc01-2024-03-05-10-22-33", process_number=11,
                                               module_version="4.2", agent_version="2.6-3")
    nbip = decode_request(request("NETDISCOVERY", "<AGENT><NBIP>8</NBIP></AGENT><PROCESSNUMBER>11</PROCESSNUMBER>")).message
    assert isinstance(nbip, protocol.NetDiscoveryNbIp) and nbip.nb_ip == 8 and nbip.module_version is None
    device = decode_request(request("NETDISCOVERY", "<DEVICE><IP>192.0.2.7</IP><MAC>aa:bb:cc:dd:ee:ff</MAC></DEVICE>"
                                    "<MODULEVERSION>4.2</MODULEVERSION><PROCESSNUMBER>11</PROCESSNUMBER>")).message
    assert isinstance(device, protocol.NetDiscoveryDevices)
    assert device.devices == (protocol.DiscoveredDevice(ip="192.0.2.7", ips=("192.0.2.7",), mac="aa:bb:cc:dd:ee:ff"),)
    end = decode_request(request("NETDISCOVERY", "<AGENT><END>1</END></AGENT><MODULEVERSION>4.2</MODULEVERSION>"
                                 "<PROCESSNUMBER>11</PROCESSNUMBER>")).message
    assert end == protocol.NetDiscoveryEnd(device_id="pc01-2024-03-05-10-22-33", process_number=11, module_version="4.2")


def test_snmpquery_messages():
    result = decode_request(request("SNMPQUERY", "<DEVICE><INFO><ID>72</ID><NAME>sw</NAME></INFO></DEVICE>"
                                    "<MODULEVERSION>4.2</MODULEVERSION><PROCESSNUMBER>12</PROCESSNUMBER>")).message
    assert isinstance(result, protocol.SnmpQueryResult) and result.item_id == "72" and result.process_number == 12
    error = decode_request(request("SNMPQUERY", "<DEVICE><ERROR><ID>73</ID><MESSAGE>no response</MESSAGE>"
                                   "<TYPE>PRINTER</TYPE></ERROR></DEVICE><PROCESSNUMBER>12</PROCESSNUMBER>")).message
    assert error == protocol.SnmpQueryError(device_id="pc01-2024-03-05-10-22-33", process_number=12,
                                            item_id="73", message="no response", item_type="PRINTER")
    start = decode_request(request("SNMPQUERY", "<AGENT><START>1</START></AGENT><PROCESSNUMBER>12</PROCESSNUMBER>")).message
    assert isinstance(start, protocol.SnmpQueryStart)
    end = decode_request(request("SNMPQUERY", "<AGENT><END>1</END></AGENT><PROCESSNUMBER>12</PROCESSNUMBER>")).message
    assert isinstance(end, protocol.SnmpQueryEnd)


XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       b"<REQUEST><DEVICEID>&x;</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>")
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">' +
          b"".join(b'<!ENTITY %s "%s">' % (b"b%d" % i, (b"&b%d;" % (i - 1) if i else b"&a;") * 10) for i in range(9)) +
          b"]><REQUEST><DEVICEID>&b8;</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>")


@pytest.mark.parametrize("body, reason", [
    (b"", "empty body"),
    (b"\x00\x01garbage", "not XML"),
    (zlib.compress(b"hello, not xml"), "not XML"),
    (zlib.compress(PROLOG)[:-6], "truncated"),
    (b"\x78\x9c" + b"\xff" * 40, "cannot decompress"),
    (b"<REQUEST><DEVICEID>x</DEVICEID>", "not well formed"),
    (XXE, "DTD"),
    (zlib.compress(LAUGHS), "DTD"),
    (b"<A>" * 40 + b"</A>" * 40, "deeper"),
    (b"<REPLY><DEVICEID>x</DEVICEID><QUERY>PROLOG</QUERY></REPLY>", "expected <REQUEST>"),
    (b"<REQUEST><QUERY>PROLOG</QUERY></REQUEST>", "missing DEVICEID"),
    (request("PROLOG", device="x" * 256), "longer than 255"),
    (request("DOWNLOAD"), "unknown QUERY DOWNLOAD"),
    (request("NETDISCOVERY", "<PROCESSNUMBER>abc</PROCESSNUMBER>"), "PROCESSNUMBER"),
])
def test_refusals_carry_a_reason(body, reason):
    with pytest.raises(ProtocolError) as caught:
        decode_request(body)
    assert reason in caught.value.reason
    assert not isinstance(caught.value, protocol.BodyTooLarge)


def test_refusal_remembers_the_encoding_for_the_error_reply():
    with pytest.raises(ProtocolError) as caught:
        decode_request(zlib.compress(request("DOWNLOAD")))
    assert caught.value.encoding == "zlib"


def test_device_id_of_exactly_255_characters_is_accepted():
    assert decode_request(request("PROLOG", device="x" * 255)).message.device_id == "x" * 255


def test_compression_bomb_is_stopped_at_the_cap_quickly():
    bomb = zlib.compress(b"<REQUEST>" + b" " * (200 * 1024 * 1024), 9)  # 200 MiB in ~200 KB
    started = time.monotonic()
    with pytest.raises(protocol.BodyTooLarge):
        decode_request(bomb, limits=protocol.Limits(max_decompressed=1024 * 1024))
    assert time.monotonic() - started < 1.0
    gz_bomb = gzip.compress(b" " * (50 * 1024 * 1024))
    with pytest.raises(protocol.BodyTooLarge):
        decode_request(gz_bomb, limits=protocol.Limits(max_decompressed=1024 * 1024))


def test_document_right_at_the_cap_is_accepted():
    body = request("PROLOG")
    assert decode_request(zlib.compress(body), limits=protocol.Limits(max_decompressed=len(body))).message
    with pytest.raises(protocol.BodyTooLarge):
        decode_request(zlib.compress(body), limits=protocol.Limits(max_decompressed=len(body) - 1))
