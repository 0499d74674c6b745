"""Reply writers: reply values (``reply_values``) to the bytes a server produces, in one of two
styles (``ReplyStyle``). Pure functions; values are turned into ``Element`` trees, written by a
renderer of the style.

``FUSIONINVENTORY`` (the default) is FusionInventory for GLPI 9.5+4.2: SimpleXML, then every
element on its own line, indented by three spaces per level; leaves with attributes stay
self-closed without a space before ``/>``; attributes keep insertion order. OPTIONs come first,
then RESPONSE, then PROLOG_FREQ; AUTHENTICATION fields are attributes.

``GLPI10`` is GLPI 10/11 core with glpiinventory (docs/glpi10-protocol.md §3): a declaration
without encoding, a newline, then the document on one unindented line; PROLOG_FREQ, RESPONSE,
then the OPTIONs; AUTHENTICATION fields are child elements. Where GLPI 10 answers something
agent 2.x refuses (``<REPLY/>`` to a result post) this style writes what both agents accept
(docs/glpi10-protocol.md §7).

The agents do not care about whitespace or order, but tests compare bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from .reply_values import (EmptyReply, NetDiscoveryOption, PrologReply, Reply, ReplyOption,
                           SnmpAuthentication, SnmpQueryOption, WakeOnLanOption)

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
INDENT = "   "
GLPI10_DECLARATION = '<?xml version="1.0"?>\n'


class ReplyStyle(Enum):
    """Whose bytes the writers reproduce."""

    FUSIONINVENTORY = "fusioninventory"  # FusionInventory for GLPI 9.5+4.2
    GLPI10 = "glpi10"  # GLPI 10/11 core + glpiinventory (docs/glpi10-protocol.md §3)


@dataclass(frozen=True, slots=True)
class Element:
    tag: str
    attributes: tuple[tuple[str, str], ...] = ()
    text: str | None = None
    children: tuple["Element", ...] = ()


def option(name: str, *children: Element) -> Element:
    """An ``<OPTION>`` block: ``<NAME>`` then the given PARAM/RANGEIP/DEVICE/... elements."""
    return Element("OPTION", children=(Element("NAME", text=name), *children))


def leaf(tag: str, **attributes: object) -> Element:
    """A self-closed element; attribute order is the keyword order."""
    return Element(tag, attributes=tuple((key, str(value)) for key, value in attributes.items()))


def prolog_reply(options: tuple[Element, ...] = (), send_inventory: bool = True, prolog_freq: int | str = 24) -> bytes:
    if not options:
        return _bare_prolog(send_inventory, str(prolog_freq))
    children = list(options)
    if send_inventory:
        children.append(Element("RESPONSE", text="SEND"))
    children.append(Element("PROLOG_FREQ", text=str(prolog_freq)))
    return render_reply(tuple(children))


@lru_cache(maxsize=64)
def _bare_prolog(send_inventory: bool, prolog_freq: str) -> bytes:
    children = (Element("RESPONSE", text="SEND"),) if send_inventory else ()
    return render_reply(children + (Element("PROLOG_FREQ", text=prolog_freq),))


def write_reply(reply: Reply, style: ReplyStyle = ReplyStyle.FUSIONINVENTORY) -> bytes:
    """The bytes of a reply value, in ``style``."""
    if style is ReplyStyle.GLPI10:
        return _write_glpi10(reply)
    if isinstance(reply, PrologReply):
        return write_prolog(reply)
    if isinstance(reply, EmptyReply):
        return EMPTY_REPLY
    raise TypeError(f"not a reply: {type(reply).__name__}")


def write_prolog(reply: PrologReply) -> bytes:
    if not reply.options:
        # Most PROLOGs: no run to hand out, one of a few cached documents.
        return _bare_prolog(reply.send_inventory, str(reply.prolog_freq))
    return prolog_reply(tuple(option_element(each) for each in reply.options), reply.send_inventory,
                        reply.prolog_freq)


def option_element(value: ReplyOption) -> Element:
    """An OPTION value as the element the plugin writes (attribute order is the plugin's)."""
    return _OPTION_WRITERS[type(value)](value)


def _netdiscovery(value: NetDiscoveryOption) -> Element:
    return option(
        value.name,
        leaf("PARAM", THREADS_DISCOVERY=value.threads, TIMEOUT=value.timeout, PID=value.pid),
        *(leaf("RANGEIP", ID=block.id, IPSTART=block.start, IPEND=block.end, ENTITY=block.entity)
          for block in value.ranges),
        *(authentication_element(each) for each in value.authentications),
    )


def _snmpquery(value: SnmpQueryOption) -> Element:
    return option(
        value.name,
        leaf("PARAM", THREADS_QUERY=value.threads, TIMEOUT=value.timeout, PID=value.pid),
        *(leaf("DEVICE", TYPE=device.type, ID=device.id, IP=device.ip, AUTHSNMP_ID=device.authsnmp_id)
          for device in value.devices),
        *(authentication_element(each) for each in value.authentications),
    )


def _wakeonlan(value: WakeOnLanOption) -> Element:
    return option(value.name, *(leaf("PARAM", MAC=mac) for mac in value.macs))


_OPTION_WRITERS = {
    NetDiscoveryOption: _netdiscovery,
    SnmpQueryOption: _snmpquery,
    WakeOnLanOption: _wakeonlan,
}


def authentication_fields(value: SnmpAuthentication) -> dict[str, object]:
    """ID, VERSION, then COMMUNITY (v1, v2c) or the v3 fields, a protocol only when the
    credential has one (both servers use this order)."""
    fields: dict[str, object] = {"ID": value.id, "VERSION": value.version}
    if value.version == "3":
        fields["USERNAME"] = value.username
        if value.auth_protocol is not None:
            fields["AUTHPROTOCOL"] = value.auth_protocol
        fields["AUTHPASSPHRASE"] = value.auth_passphrase
        if value.priv_protocol is not None:
            fields["PRIVPROTOCOL"] = value.priv_protocol
        fields["PRIVPASSPHRASE"] = value.priv_passphrase
    else:
        fields["COMMUNITY"] = value.community
    return fields


def authentication_element(value: SnmpAuthentication) -> Element:
    """``PluginFusioninventoryToolbox::addAuth``: the fields as attributes."""
    return leaf("AUTHENTICATION", **authentication_fields(value))


EMPTY_REPLY = (DECLARATION + "<REPLY>\n</REPLY>\n").encode()


def empty_reply() -> bytes:
    """What the plugin answers to INVENTORY, NETDISCOVERY and SNMPQUERY messages."""
    return EMPTY_REPLY


def error_reply(reason: str, style: ReplyStyle = ReplyStyle.FUSIONINVENTORY) -> bytes:
    if style is ReplyStyle.GLPI10:
        # GLPI 10 wraps the reason in CDATA; escaped text reads the same to an agent.
        return _render_glpi10((Element("ERROR", text=reason),))
    return render_reply((Element("ERROR", text=reason),))


def render_reply(children: tuple[Element, ...]) -> bytes:
    lines = [DECLARATION, "<REPLY>\n"]
    for child in children:
        _render(child, 1, lines)
    lines.append("</REPLY>\n")
    return "".join(lines).encode("utf-8")


def _render(element: Element, level: int, out: list[str]) -> None:
    pad = INDENT * level
    attrs = "".join(f' {name}="{escape_attribute(value)}"' for name, value in element.attributes)
    if element.children:
        out.append(f"{pad}<{element.tag}{attrs}>\n")
        for child in element.children:
            _render(child, level + 1, out)
        out.append(f"{pad}</{element.tag}>\n")
    elif element.text is not None and element.text != "":
        out.append(f"{pad}<{element.tag}{attrs}>{escape_text(element.text)}</{element.tag}>\n")
    else:
        out.append(f"{pad}<{element.tag}{attrs}/>\n")


def escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_attribute(value: str) -> str:
    return escape_text(value).replace('"', "&quot;")


# --- GLPI 10 style (docs/glpi10-protocol.md §3) ------------------------------------------------

GLPI10_EMPTY_REPLY = (GLPI10_DECLARATION + "<REPLY></REPLY>").encode()


def _write_glpi10(reply: Reply) -> bytes:
    if isinstance(reply, EmptyReply):
        # GLPI 10 writes <REPLY/>, which agent 2.x refuses: an open/close pair instead
        # (docs/glpi10-protocol.md §7).
        return GLPI10_EMPTY_REPLY
    if not isinstance(reply, PrologReply):
        raise TypeError(f"not a reply: {type(reply).__name__}")
    children = [Element("PROLOG_FREQ", text=str(reply.prolog_freq))]
    if reply.send_inventory:
        children.append(Element("RESPONSE", text="SEND"))
    children.extend(_glpi10_option(each) for each in reply.options)
    return _render_glpi10(tuple(children))


def _glpi10_option(value: ReplyOption) -> Element:
    """The 9.5 OPTION with each AUTHENTICATION's fields turned into child elements."""
    element = option_element(value)
    return Element(element.tag, element.attributes, element.text, tuple(
        _authentication_children(child) if child.tag == "AUTHENTICATION" else child
        for child in element.children))


def _authentication_children(element: Element) -> Element:
    return Element("AUTHENTICATION", children=tuple(
        Element(name, text=text) for name, text in element.attributes))


def _render_glpi10(children: tuple[Element, ...]) -> bytes:
    out = [GLPI10_DECLARATION, "<REPLY>"]
    for child in children:
        _render_line(child, out)
    out.append("</REPLY>")
    return "".join(out).encode("utf-8")


def _render_line(element: Element, out: list[str]) -> None:
    attrs = "".join(f' {name}="{escape_attribute(value)}"' for name, value in element.attributes)
    if element.children:
        out.append(f"<{element.tag}{attrs}>")
        for child in element.children:
            _render_line(child, out)
        out.append(f"</{element.tag}>")
    elif element.text:
        out.append(f"<{element.tag}{attrs}>{escape_text(element.text)}</{element.tag}>")
    else:
        out.append(f"<{element.tag}{attrs}/>")
