"""Who is calling, behind a reverse proxy: the client's address, scheme and host, resolved once
per request at the WSGI level from the headers of trusted proxies only.

``FUSION_BRIDGE_TRUSTED_PROXIES`` lists the addresses or networks of the proxies in front of the
bridge. Only when the peer (``REMOTE_ADDR``) is one of them are the forwarding headers believed;
anyone else could write them. ``FUSION_BRIDGE_FORWARDED_HEADER`` says which family the proxies
write: ``x-forwarded`` (``X-Forwarded-For``/``-Proto``/``-Host``, the default) or ``forwarded``
(RFC 7239). Only that family is read, so a client cannot slip in the other one through a proxy
that passes it along untouched.

The client is found by walking the chain of addresses from the right (the nearest hop) past the
trusted proxies: the first address that is not trusted is the client. The proxies in front must
append to the chain (nginx's ``$proxy_add_x_forwarded_for``) and overwrite ``-Proto``/``-Host``.

``ForwardedHeaders`` rewrites the WSGI environ (``REMOTE_ADDR``, ``wsgi.url_scheme``,
``HTTP_HOST``) before anything else reads it, so the agents' fast paths, Flask and every log line
see the client; the peer's own address stays in ``environ[PEER_KEY]``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
PEER_KEY = "fusion_bridge.proxy_peer"  # the address of the proxy that forwarded the request
HEADER_FAMILIES = ("x-forwarded", "forwarded")
SCHEMES = ("http", "https")
# A host, an IPv4 address or a bracketed IPv6 address, with an optional port: nothing else is
# put in HTTP_HOST (it ends up in URLs handed to agents).
HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")


@dataclass(frozen=True)
class Origin:
    """Where a request comes from: the client's address, and the scheme and host it used
    (None: as the bridge itself saw them)."""

    address: str | None
    scheme: str | None = None
    host: str | None = None


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """``FUSION_BRIDGE_TRUSTED_PROXIES``: addresses or networks separated by commas or spaces."""
    networks = []
    for item in re.split(r"[\s,]+", value.strip()):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"FUSION_BRIDGE_TRUSTED_PROXIES: {item!r} is not an address or network") from None
    return tuple(networks)


@functools.lru_cache(maxsize=16384)  # agents' and proxies' addresses repeat: parsing costs µs
def _ip(text: str | None):
    """An address as written in a forwarding header (brackets, port, IPv4-mapped) or None."""
    if not text:
        return None
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=16384)
def _trusted(address, networks: tuple[IPNetwork, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def _list(header: str | None) -> list[str]:
    return [item.strip() for item in header.split(",")] if header else []


def forwarded_elements(header: str | None) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded``: one dict per hop (``for``, ``proto``, ``host``..., lower-case
    names, quotes removed). Commas and semicolons inside quoted values are kept."""
    elements: list[dict[str, str]] = []
    for element in re.findall(r'(?:[^,"]|"[^"]*")+', header or ""):
        pairs: dict[str, str] = {}
        for pair in re.findall(r'(?:[^;"]|"[^"]*")+', element):
            name, sep, value = pair.partition("=")
            if sep:
                pairs[name.strip().lower()] = value.strip().strip('"')
        elements.append(pairs)
    return elements


@functools.lru_cache(maxsize=16384)  # each agent sends the same headers through the same proxy
def resolve(peer: str | None, networks: tuple[IPNetwork, ...], family: str, *,
            forwarded: str | None = None, forwarded_for: str | None = None,
            forwarded_proto: str | None = None, forwarded_host: str | None = None) -> Origin:
    """The request's origin given its peer address and forwarding headers (pure).

    Headers are ignored unless ``peer`` is in ``networks``. The client is the rightmost address
    of the chain not in ``networks``; when the chain holds something that is not an address
    (``unknown``, an obfuscated name) there, the last trusted hop is the client as far as can be
    told. Scheme and host come with the client's hop: the element of ``Forwarded`` holding its
    ``for=``, or for ``X-Forwarded-Proto``/``-Host`` the value aligned from the right with the
    ``X-Forwarded-For`` chain (a single value is the outermost proxy's).
    """
    nearest = _ip(peer)
    if not _trusted(nearest, networks):
        return Origin(peer)
    if family == "forwarded":
        hops = forwarded_elements(forwarded)
        chain = [hop.get("for") for hop in hops]
        protos = [hop.get("proto") for hop in hops]
        hosts = [hop.get("host") for hop in hops]
    else:
        chain, protos, hosts = _list(forwarded_for), _list(forwarded_proto), _list(forwarded_host)
    client, index = nearest, None  # index in the chain, from the right, of the client's hop
    for position, entry in enumerate(reversed(chain)):
        address = _ip(entry)
        if address is None:
            break
        client, index = address, position
        if not _trusted(address, networks):
            break
    if index is None:
        return Origin(str(client))
    return Origin(str(client), _aligned(protos, index, len(chain), SCHEMES),
                  _aligned(hosts, index, len(chain), None))


def _aligned(values: list, index: int, chain_length: int, allowed: tuple[str, ...] | None) -> str | None:
    """The value of the hop ``index`` (from the right) of a chain of ``chain_length`` hops."""
    if not values:
        return None
    if len(values) == chain_length:
        value = values[len(values) - 1 - index]
    elif len(values) == 1:
        value = values[0]
    else:
        value = values[max(len(values) - 1 - index, 0)]
    if not value:
        return None
    if allowed is not None:
        value = value.lower()
        return value if value in allowed else None
    return value if HOST.match(value) else None


class ForwardedHeaders:
    """WSGI middleware: ``environ`` rewritten with the origin ``resolve`` finds (the outermost
    layer: everything inside sees the client). Without trusted proxies it is not installed."""

    def __init__(self, app, networks: tuple[IPNetwork, ...], family: str = "x-forwarded"):
        if family not in HEADER_FAMILIES:
            raise ValueError(f"FUSION_BRIDGE_FORWARDED_HEADER must be one of {', '.join(HEADER_FAMILIES)}, "
                             f"got {family!r}")
        self.app = app
        self._networks = networks
        self._family = family

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR")
        origin = resolve(peer, self._networks, self._family, forwarded=environ.get("HTTP_FORWARDED"),
                         forwarded_for=environ.get("HTTP_X_FORWARDED_FOR"),
                         forwarded_proto=environ.get("HTTP_X_FORWARDED_PROTO"),
                         forwarded_host=environ.get("HTTP_X_FORWARDED_HOST"))
        if origin.address != peer:
            environ[PEER_KEY] = peer
            environ["REMOTE_ADDR"] = origin.address
        if origin.scheme:
            environ["wsgi.url_scheme"] = origin.scheme
        if origin.host:
            environ["HTTP_HOST"] = origin.host
        return self.app(environ, start_response)
