"""Who the client is behind reverse proxies (fusion_bridge/http/forwarded.py)."""

import pytest

from fusion_bridge.http.forwarded import ForwardedHeaders, Origin, forwarded_elements, parse_networks, resolve

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/8 ::1")


def xff(peer, chain=None, proto=None, host=None, networks=PROXIES):
    return resolve(peer, networks, "x-forwarded", forwarded_for=chain, forwarded_proto=proto, forwarded_host=host)


def test_parse_networks():
    assert [str(n) for n in parse_networks(" 127.0.0.1,10.1.2.3/8  ::1 ")] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match="'nginx' is not an address"):
        parse_networks("127.0.0.1, nginx")


def test_untrusted_peer_headers_ignored():
    assert xff("192.0.2.7", "198.51.100.1", "https", "evil.example") == Origin("192.0.2.7")
    assert resolve("192.0.2.7", PROXIES, "forwarded", forwarded="for=198.51.100.1;proto=https") == Origin("192.0.2.7")


def test_no_trusted_proxies_means_no_headers():
    assert xff("127.0.0.1", "198.51.100.1", "https", networks=()) == Origin("127.0.0.1")


def test_trusted_peer_gives_client_scheme_host():
    assert xff("127.0.0.1", "198.51.100.1", "https", "bridge.example:8443") == \
        Origin("198.51.100.1", "https", "bridge.example:8443")


def test_rightmost_untrusted_wins_over_spoofed_left_entries():
    # The client wrote "203.0.113.9" itself; nginx appended the address it saw.
    assert xff("127.0.0.1", "203.0.113.9, 198.51.100.1").address == "198.51.100.1"
    # Two trusted hops before the client.
    assert xff("127.0.0.1", "203.0.113.9, 198.51.100.1, 10.2.3.4").address == "198.51.100.1"


def test_chain_of_trusted_only_gives_leftmost():
    assert xff("127.0.0.1", "10.0.0.5, 10.0.0.6").address == "10.0.0.5"


def test_garbage_in_chain_stops_at_last_trusted_hop():
    assert xff("127.0.0.1", "198.51.100.1, unknown, 10.0.0.6").address == "10.0.0.6"
    assert xff("127.0.0.1", "unknown").address == "127.0.0.1"


def test_no_chain_nothing_believed():
    assert xff("127.0.0.1", None, "https") == Origin("127.0.0.1")


def test_scheme_and_host_validated():
    assert xff("127.0.0.1", "198.51.100.1", "javascript", "a b/c") == Origin("198.51.100.1")
    assert xff("127.0.0.1", "198.51.100.1", "HTTPS", "[2001:db8::1]:443") == \
        Origin("198.51.100.1", "https", "[2001:db8::1]:443")


def test_scheme_aligned_with_chain():
    # One value per hop: the client's hop is the second from the right.
    origin = xff("127.0.0.1", "198.51.100.1, 10.0.0.6", "https, http", "outer.example, inner.example")
    assert origin == Origin("198.51.100.1", "https", "outer.example")


def test_addresses_with_ports_and_mapped():
    assert xff("::ffff:127.0.0.1", "198.51.100.1:5555").address == "198.51.100.1"
    assert xff("::1", "[2001:db8::7]:80").address == "2001:db8::7"


def test_rfc7239():
    header = 'for=203.0.113.9;proto=http, for="[2001:db8::7]:4711";proto=https;host="bridge.example", for=10.0.0.6'
    assert forwarded_elements('for=1.2.3.4;host="a,b";proto=https') == [{"for": "1.2.3.4", "host": "a,b", "proto": "https"}]
    assert resolve("127.0.0.1", PROXIES, "forwarded", forwarded=header) == \
        Origin("2001:db8::7", "https", "bridge.example")
    # The other family is not read.
    assert resolve("127.0.0.1", PROXIES, "forwarded", forwarded_for="198.51.100.1") == Origin("127.0.0.1")
    assert xff("127.0.0.1", None) == Origin("127.0.0.1")


def test_middleware_rewrites_environ():
    seen = {}

    def app(environ, start_response):
        seen.update(environ)
        return [b""]

    environ = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.1",
               "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "bridge.example",
               "HTTP_HOST": "127.0.0.1:8080", "wsgi.url_scheme": "http"}
    ForwardedHeaders(app, PROXIES)(environ, None)
    assert (seen["REMOTE_ADDR"], seen["wsgi.url_scheme"], seen["HTTP_HOST"]) == ("198.51.100.1", "https", "bridge.example")
    assert seen["fusion_bridge.proxy_peer"] == "127.0.0.1"
    with pytest.raises(ValueError, match="FORWARDED_HEADER"):
        ForwardedHeaders(app, PROXIES, "x-real-ip")
