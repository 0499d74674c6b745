"""Log comments in words, as GLPI's UI shows them; the database keeps the plugin's codes.

The plugin writes a small mark-up into ``taskjoblogs.comment``, which its UI renders
(``PluginFusioninventoryTaskjoblog::convertComment``):

* ``==code==`` is a sentence of the plugin's (``==devicesfound==`` "devices found", …); a count
  before ``devicesfound``/``devicesqueried`` takes the singular for 1 ("1 device found");
* ``[[Itemtype::id]]`` is a link to the item: here its name, type and id;
* ``,[`` starts a new line at the ``[``.

Deploy messages are stored HTML-escaped with ``<br />`` before each line break (``nl2br``, see
``services/deploy/status``): the UI shows them unescaped, and so does this.
"""

from __future__ import annotations

import html
import re
from typing import Iterable

from sqlalchemy.engine import Connection

from fusion_bridge.domain.text import plural
from fusion_bridge.services.admin.base import ITEM_TABLES, item_names

# The English of the plugin's codes, as its UI shows them.
CODE_WORDS = {
    "devicesqueried": "devices queried",
    "devicesfound": "devices found",
    "addtheitem": "Add the item",
    "updatetheitem": "Update the item",
    "inventorystarted": "Inventory started",
    "detail": "Detail",
    "badtoken": "Agent communication error, impossible to start agent",
    "agentcrashed": "Agent stopped/crashed",
    "importdenied": "Import denied",
}
_COUNTED = re.compile(r"\b(\d+) ?==devices(found|queried)==")
_CODE = re.compile(r"==([A-Za-z0-9]+)==")
_REFERENCE = re.compile(r"\[\[([A-Za-z_][A-Za-z0-9_]*)::(\d+)\]\]")
_BREAK_TAG = re.compile(r"<br\s*/?>(\r?\n)?", re.IGNORECASE)

Item = tuple[str, int]


def references(comment: str | None) -> list[Item]:
    return [(itemtype, int(item_id)) for itemtype, item_id in _REFERENCE.findall(comment or "")]


def _item_text(item: Item, names: dict) -> str:
    itemtype, item_id = item
    known = names.get(item)
    if known is None:
        return f"{itemtype} {item_id}" + (" (deleted)" if itemtype in ITEM_TABLES else "")
    name, in_trash = known
    text = f"{name} ({itemtype} {item_id})" if name else f"{itemtype} {item_id}"
    return text + (" (in the trash)" if in_trash else "")


def in_words(comment: str | None, names: dict[Item, tuple[str | None, bool]]) -> str | None:
    """``comment`` as GLPI's UI shows it; ``names``: ``item_names(..., with_flags=True)`` of its
    references."""
    if not comment:
        return comment
    text = html.unescape(_BREAK_TAG.sub("\n", comment)).replace(",[", "\n[")
    text = _COUNTED.sub(lambda m: plural(int(m.group(1)), "device") + (" found" if m.group(2) == "found"
                                                                      else " queried"), text)
    text = _CODE.sub(lambda m: CODE_WORDS.get(m.group(1), m.group(0)), text)
    return _REFERENCE.sub(lambda m: _item_text((m.group(1), int(m.group(2))), names), text)


def render(conn: Connection, lines: Iterable[dict]) -> None:
    """Each log line's ``comment`` in words; the stored text stays in ``stored_comment``."""
    lines = list(lines)
    wanted = {item for line in lines for item in references(line["comment"])}
    names = item_names(conn, wanted, with_flags=True) if wanted else {}
    for line in lines:
        line["stored_comment"] = line["comment"]
        line["comment"] = in_words(line["comment"], names)
