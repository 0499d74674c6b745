"""The decoder turns into data only the CONTENT sections a caller reads, and still validates and
reads VERSIONCLIENT and the TAG from the whole document."""

import zlib
from pathlib import Path

import pytest

import protocol
from protocol import ProtocolError, decode_request

RECORDED = (Path(__file__).resolve().parents[2] / "fixtures" / "cases" / "inventory_zlib" / "01-INVENTORY"
            / "request.body")
BODY = (b"<REQUEST><QUERY>INVENTORY</QUERY><DEVICEID>d-1</DEVICEID><CONTENT>"
        b"<VERSIONCLIENT>FusionInventory-Agent_v2.6-3</VERSIONCLIENT>"
        b"<ACCOUNTINFO><KEYNAME>OTHER</KEYNAME><KEYVALUE>x</KEYVALUE></ACCOUNTINFO>"
        b"<ACCOUNTINFO><KEYNAME>TAG</KEYNAME><KEYVALUE> site-a </KEYVALUE></ACCOUNTINFO>"
        b"<HARDWARE><NAME>pc</NAME></HARDWARE><SOFTWARES><NAME>a</NAME></SOFTWARES><BIOS><SSN>1</SSN></BIOS>"
        b"<HARDWARE><NAME>second</NAME></HARDWARE></CONTENT></REQUEST>")


def test_only_the_named_sections_become_data():
    message = decode_request(BODY, inventory_sections=("HARDWARE", "BIOS")).message
    assert message.content == {"HARDWARE": [{"NAME": ["pc"]}, {"NAME": ["second"]}], "BIOS": [{"SSN": ["1"]}]}
    assert (message.version_client, message.tag) == ("FusionInventory-Agent_v2.6-3", "site-a")
    assert message.xml == BODY


def test_no_sections_and_all_sections_agree_on_the_rest():
    none = decode_request(BODY, inventory_sections=()).message
    everything = decode_request(BODY).message
    assert none.content == {} and "SOFTWARES" in everything.content
    assert (none.device_id, none.version_client, none.tag) == \
        (everything.device_id, everything.version_client, everything.tag)


def test_the_recorded_inventory_with_the_import_sections():
    body = RECORDED.read_bytes()
    full = decode_request(body).message
    some = decode_request(body, inventory_sections=("HARDWARE", "BIOS", "NETWORKS")).message
    assert some.content == {key: full.content[key] for key in ("HARDWARE", "BIOS", "NETWORKS")}
    assert (some.version_client, some.tag) == (full.version_client, full.tag)


@pytest.mark.parametrize("xml", [
    b"<REQUEST><QUERY>INVENTORY</QUERY><CONTENT/></REQUEST>",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]><REQUEST><QUERY>INVENTORY</QUERY><DEVICEID>d</DEVICEID></REQUEST>",
    b"<REQUEST><QUERY>INVENTORY</QUERY><DEVICEID>d</DEVICEID><CONTENT><HARDWARE></CONTENT></REQUEST>",
])
def test_the_whole_document_is_still_validated(xml):
    with pytest.raises(ProtocolError):
        decode_request(zlib.compress(xml), inventory_sections=())


def test_tag_and_versionclient_that_are_not_leaves_are_ignored_as_before():
    body = (b"<REQUEST><QUERY>INVENTORY</QUERY><DEVICEID>d</DEVICEID><CONTENT><VERSIONCLIENT><X>1</X></VERSIONCLIENT>"
            b"<ACCOUNTINFO><KEYNAME>TAG</KEYNAME></ACCOUNTINFO></CONTENT></REQUEST>")
    for sections in (None, ()):
        message = decode_request(body, inventory_sections=sections).message
        assert isinstance(message, protocol.Inventory)
        assert (message.version_client, message.tag) == (None, "")
