"""Decoding an INVENTORY whose CONTENT nobody reads (the relay): checked without a tree, with
the same outcome as the full parse for every document but the ones nested deeper than the
depth cap inside CONTENT."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import protocol
from protocol.decode import SPLIT_FROM_BYTES, xml_message
from protocol.xmltree import split_content

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "cases" / "inventory_zlib" / "01-INVENTORY" / "request.xml"
XML = RECORDED.read_bytes()
LIMITS = protocol.Limits()
UNREAD = protocol.CONTENT_UNREAD


def outcome(xml: bytes, sections):
    """(kind, device id) of the decoded message, or the refusal's reason."""
    try:
        message = xml_message(xml, protocol.PLAIN, LIMITS, sections)
    except protocol.ProtocolError as error:
        return "refused", str(error)
    return type(message).__name__, message.device_id


def test_the_recorded_inventory_is_taken_without_its_content():
    assert len(XML) >= SPLIT_FROM_BYTES
    message = xml_message(XML, protocol.PLAIN, LIMITS, UNREAD)
    assert isinstance(message, protocol.Inventory)
    assert message.device_id == xml_message(XML, protocol.PLAIN, LIMITS, ("HARDWARE",)).device_id
    assert (message.content, message.version_client, message.tag) == ({}, None, None)
    assert message.xml == XML  # stored as it came


def test_the_split_keeps_everything_but_the_content():
    skeleton, content = split_content(XML)
    assert content.startswith(b'<?xml version="1.0" encoding="UTF-8" ?><CONTENT>')
    assert content.endswith(b"</CONTENT>")
    assert b"<CONTENT/>" in skeleton and b"<DEVICEID>" in skeleton and b"<QUERY>INVENTORY</QUERY>" in skeleton
    assert split_content(b"<REQUEST><DEVICEID>x</DEVICEID><CONTENT></CONTENT></REQUEST>") is None  # not first


@pytest.mark.parametrize("change", [
    (b"<BIOS>", b"<BIOS><X>"),                  # unclosed element inside CONTENT
    (b"</CONTENT>", b"</CONTENT></CONTENT>"),   # one close too many
    (b"<QUERY>INVENTORY", b"<QUERY>PROLOG"),      # another message: parsed whole
    (b"<DEVICEID>", b"<DEVICEID></DEVICEID><X>"),
    (b"<BIOS>", b"<BIOS>&undefined;"),
    (b"<BIOS>", b"<BIOS>\x00"),
])
def test_broken_documents_get_the_full_parse_answer(change):
    broken = XML.replace(*change, 1)
    assert outcome(broken, UNREAD) == outcome(broken, None)


def test_a_document_type_declaration_is_refused():
    doctype = XML.replace(b"<REQUEST>", b'<!DOCTYPE REQUEST [<!ENTITY a "b">]><REQUEST>', 1)
    assert outcome(doctype, UNREAD)[0] == "refused"


def test_nesting_inside_content_is_bounded_by_libxml2_only():
    deep = XML.replace(b"<BIOS>", b"<BIOS>" + b"<A>" * 40 + b"</A>" * 40, 1)
    assert outcome(deep, None)[0] == "refused"          # 32 levels when the tree is built
    assert outcome(deep, UNREAD)[0] == "Inventory"      # not built: libxml2's 256
    deeper = XML.replace(b"<BIOS>", b"<BIOS>" + b"<A>" * 300 + b"</A>" * 300, 1)
    assert outcome(deeper, UNREAD)[0] == "refused"


@given(position=st.integers(0, len(XML) - 1), insert=st.sampled_from([b"<", b">", b"/", b"</CONTENT>", b"<CONTENT>",
                                                                      b"<!--", b"-->", b"&", b"<![CDATA[", b"]]>", b""]),
       cut=st.integers(0, 12))
def test_any_damage_gets_the_same_answer_as_the_full_parse(position, insert, cut):
    damaged = XML[:position] + insert + XML[position + cut:]
    assert outcome(damaged, UNREAD) == outcome(damaged, ("HARDWARE",))
