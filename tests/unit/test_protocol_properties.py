"""Property tests: whatever arrives, the decoder returns a message or a clean ProtocolError."""

import gzip
import zlib

from hypothesis import given, settings, strategies as st

import protocol
from protocol import ProtocolError, decode_request

LIMITS = protocol.Limits(max_decompressed=256 * 1024, max_depth=16)


def decodes_cleanly(body: bytes, content_type: str | None = None) -> None:
    try:
        decoded = decode_request(body, content_type, LIMITS)
    except ProtocolError as error:
        assert error.reason
        assert error.encoding in ("zlib", "gzip", "none")
    else:
        assert isinstance(decoded.message, protocol.Message)
        assert 0 < len(decoded.message.device_id) <= protocol.MAX_DEVICE_ID


@settings(max_examples=2 * settings.default.max_examples, deadline=None)  # CI: 400
@given(st.binary(max_size=2048), st.sampled_from([None, "application/x-compress-zlib", "application/xml",
                                                   "application/x-compress-gzip", "text/html"]))
def test_any_bytes(body, content_type):
    decodes_cleanly(body, content_type)


@settings(max_examples=2 * settings.default.max_examples, deadline=None)  # CI: 400
@given(st.binary(max_size=2048), st.sampled_from(["zlib", "gzip"]))
def test_any_compressed_bytes(payload, wrapper):
    decodes_cleanly(zlib.compress(payload) if wrapper == "zlib" else gzip.compress(payload))


TAGS = st.sampled_from(["REQUEST", "DEVICEID", "QUERY", "CONTENT", "AGENT", "START", "END", "NBIP",
                        "DEVICE", "INFO", "ERROR", "ID", "PROCESSNUMBER", "MODULEVERSION", "TOKEN", "X"])
TEXT = st.one_of(st.sampled_from(["PROLOG", "INVENTORY", "NETDISCOVERY", "SNMPQUERY", "1", "", "-3", "x"]),
                 st.text(max_size=30))


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


elements = st.recursive(
    st.builds(lambda tag, text: f"<{tag}>{escape(text)}</{tag}>", TAGS, TEXT),
    lambda children: st.builds(lambda tag, kids: f"<{tag}>{''.join(kids)}</{tag}>", TAGS,
                               st.lists(children, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=2 * settings.default.max_examples, deadline=None)  # CI: 400
@given(elements, st.sampled_from(["none", "zlib", "gzip"]))
def test_any_well_formed_document(document, encoding):
    try:
        body = document.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be sent as UTF-8 at all
        return
    decodes_cleanly(protocol.compress(body, encoding))


@settings(max_examples=settings.default.max_examples, deadline=None)  # CI: 200
@given(st.text(min_size=1, max_size=255).filter(lambda s: s.strip() == s and s.isprintable()),
       st.sampled_from(["none", "zlib", "gzip"]))
def test_prolog_round_trip(device_id, encoding):
    body = f"<REQUEST><DEVICEID>{escape(device_id)}</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>".encode()
    decoded = decode_request(protocol.compress(body, encoding))
    assert decoded.message == protocol.Prolog(device_id=device_id) and decoded.encoding == encoding
