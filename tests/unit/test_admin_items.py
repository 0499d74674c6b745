"""Items of task definitions (targets, actors) as the admin API and the CLI read them, and the
JSON they are stored in, as GLPI's UI writes it."""

from __future__ import annotations

import pytest

from fusion_bridge.services.admin.base import encode_items, parse_item, php_json
from fusion_bridge.services.admin.definitions import DefinitionError
from schema.constants import ItemType

IPRANGE, AGENT = ItemType.IP_RANGE, ItemType.AGENT


def test_php_json_is_compact_with_escaped_slashes_and_ascii():
    assert php_json([{"A/B": "1"}, {"é": "2"}]) == '[{"A\\/B":"1"},{"\\u00e9":"2"}]'
    assert encode_items([(IPRANGE, 1), (IPRANGE, 4)]) == \
        '[{"PluginFusioninventoryIPRange":"1"},{"PluginFusioninventoryIPRange":"4"}]'


@pytest.mark.parametrize("given, expected", [
    ("iprange:1", (IPRANGE, 1)),
    ("PluginFusioninventoryIPRange:7", (IPRANGE, 7)),
    (("agent", "3"), (AGENT, 3)),
    ({"itemtype": "computer", "id": 12}, ("Computer", 12)),
    ({"PluginFusioninventoryDeployGroup": "2"}, ("PluginFusioninventoryDeployGroup", 2)),
    ("networkequipment:5", ("NetworkEquipment", 5)),
    ("deploygroup:2", ("PluginFusioninventoryDeployGroup", 2)),
])
def test_items_are_read_in_every_form(given, expected):
    assert parse_item(given) == expected


@pytest.mark.parametrize("given", ["iprange", "iprange:x", "iprange:0", "router:1", {"a": 1, "b": 2}, 5])
def test_bad_items_are_refused(given):
    with pytest.raises(DefinitionError):
        parse_item(given)
