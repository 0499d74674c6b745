"""Reply writers producing the bytes FusionInventory for GLPI 9.5+4.2 produces.

The plugin renders with SimpleXML then puts every element on its own line, indented by three
spaces per level; leaves with attributes stay self-closed without a space before ``/>``;
attributes keep insertion order. OPTIONs come first, then RESPONSE, then PROLOG_FREQ. The
agent itself does not care about whitespace or order, but tests compare bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
INDENT = "   "


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


EMPTY_REPLY = (DECLARATION + "<REPLY>\n</REPLY>\n").encode()


def empty_reply() -> bytes:
    """What the plugin answers to INVENTORY, NETDISCOVERY and SNMPQUERY messages."""
    return EMPTY_REPLY


def error_reply(reason: str) -> bytes:
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
