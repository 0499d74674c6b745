"""Log comments in words, as GLPI's UI shows the plugin's codes; counts with English plurals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fusion_bridge.domain.text import plural
from fusion_bridge.services.scheduling.cleanup import timeout_comment
from fusion_bridge.services.views.log_text import in_words, references

NAMES = {("NetworkEquipment", 12): ("core-sw", False), ("Printer", 4): ("old printer", True),
         ("Computer", 3): (None, False)}


@pytest.mark.parametrize("stored, shown", [
    ("1 ==devicesfound==", "1 device found"),
    ("12 ==devicesfound==", "12 devices found"),
    ("0 ==devicesqueried==", "0 devices queried"),
    ("==inventorystarted==", "Inventory started"),
    ("[==detail==] ==addtheitem== Network devices [[NetworkEquipment::12]]",
     "[Detail] Add the item Network devices core-sw (NetworkEquipment 12)"),
    ("[==detail==] ==updatetheitem== Printers [[Printer::4]]",
     "[Detail] Update the item Printers old printer (Printer 4) (in the trash)"),
    ("[==detail==] Update Computers [[Computer::3]]", "[Detail] Update Computers Computer 3"),
    ("[==detail==] No informations [[NetworkEquipment::99]]",
     "[Detail] No informations NetworkEquipment 99 (deleted)"),
    ("==importdenied== [ip]:10.0.0.1,[mac]:aa:bb", "Import denied [ip]:10.0.0.1\n[mac]:aa:bb"),
    ("==badtoken==", "Agent communication error, impossible to start agent"),
    ("==agentcrashed==", "Agent stopped/crashed"),
    ("==somethingnew== stays", "==somethingnew== stays"),
    ("Actions:tar xzf a.tgz &amp;&amp; ./install &lt;quiet&gt;<br />\nline 2<br />\nline 3",
     "Actions:tar xzf a.tgz && ./install <quiet>\nline 2\nline 3"),
    ("&lt;br /&gt; is text", "<br /> is text"),
    ("Processed:3 Created:1  Updated:2", "Processed:3 Created:1  Updated:2"),
    ("", ""),
    (None, None),
])
def test_codes_in_words(stored, shown):
    assert in_words(stored, NAMES) == shown


def test_references_are_the_items_linked():
    assert references("a [[NetworkEquipment::12]] b [[PluginFusioninventoryAgent::3]] [[bad]]") == [
        ("NetworkEquipment", 12), ("PluginFusioninventoryAgent", 3)]


def test_plural_rules():
    assert [plural(n, "minute") for n in (0, 1, 2)] == ["0 minutes", "1 minute", "2 minutes"]
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"


def test_the_timeout_comment_says_1_minute():
    assert timeout_comment(timedelta(minutes=1)).startswith("No message from the agent for 1 minute: ")
    assert timeout_comment(timedelta(hours=4)).startswith("No message from the agent for 240 minutes: ")
