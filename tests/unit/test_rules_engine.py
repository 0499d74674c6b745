"""The rule engine (fusion_bridge/domain/rules.py) on the plugin's default import rules and on
site rules, without a database: the "already present" search is a dictionary here."""

from __future__ import annotations

import pytest

from fusion_bridge.domain import rules as R
from schema.default_rules import DEFAULT_IMPORT_RULES


def default_rules() -> list[R.Rule]:
    return [R.Rule(id=100 + ranking, name=name, sub_type=R.IMPORT_RULES, ranking=ranking,
                   criteria=tuple(R.Criterion(*c) for c in criteria),
                   actions=(R.Action("assign", "_fusion", fusion),))
            for ranking, (name, active, fusion, criteria) in enumerate(DEFAULT_IMPORT_RULES) if active]


def discovered(*, itemtype=None, serial=None, mac=None, ip=None, name=None, entity="0", tag=None):
    """The plugin's discovery input order: serial, mac, ip, name, entities_id, itemtype."""
    values = []
    if serial:
        values.append(("serial", serial))
    if mac:
        values.append(("mac", (mac,)))
    if ip:
        values.append(("ip", (ip,)))
    if name:
        values.append(("name", name))
    values.append(("entities_id", entity))
    if itemtype:
        values.append(("itemtype", itemtype))
    return R.RuleInput(tuple(values), (("tag", tag),) if tag else ())


class Assets:
    """A finder over a few assets: {(itemtype, id): {"serial":…, "macs": […], "ips": […], "name":…}}."""

    def __init__(self, **assets):
        self.assets = {tuple(key.split("_")): value for key, value in assets.items()}
        self.searches = []

    def __call__(self, search: R.Search):
        self.searches.append(search)
        for itemtype in search.itemtypes:
            for (kind, items_id), asset in sorted(self.assets.items()):
                if kind != itemtype:
                    continue
                if search.serial is not None and asset.get("serial") != search.serial:
                    continue
                if search.name is not None and asset.get("name") != search.name:
                    continue
                if search.macs and not set(search.macs) & set(asset.get("macs", ())):
                    continue
                if search.ips and not set(search.ips) & set(asset.get("ips", ())):
                    continue
                return kind, int(items_id)
        return None


def names(decision):
    return decision.kind, decision.rule.name if decision.rule else None, decision.itemtype, decision.items_id


def test_ping_only_host_is_refused_by_global_import_denied():
    decision = R.decide_import(default_rules(), discovered(ip="10.0.0.9", name="10.0.0.9"), Assets())
    assert names(decision) == ("refused", "Global import denied", None, None)
    assert decision.skipped == ()


def test_host_without_any_name_is_refused_by_the_global_name_constraint():
    decision = R.decide_import(default_rules(), discovered(ip="10.0.0.9"), Assets())
    assert names(decision) == ("refused", "Global constraint (name)", None, None)


def test_network_device_is_linked_by_serial_else_created_else_refused_without_serial():
    assets = Assets(NetworkEquipment_7={"serial": "FOC1"})
    found = R.decide_import(default_rules(), discovered(itemtype="NetworkEquipment", serial="FOC1", name="sw"),
                            assets)
    assert names(found) == ("link", "NetworkEquipment update (by serial)", "NetworkEquipment", 7)
    assert assets.searches[-1] == R.Search(itemtypes=("NetworkEquipment",), serial="FOC1")
    new = R.decide_import(default_rules(), discovered(itemtype="NetworkEquipment", serial="FOC2", name="sw"),
                          assets)
    assert names(new) == ("create", "NetworkEquipment import (by serial)", "NetworkEquipment", None)
    refused = R.decide_import(default_rules(), discovered(itemtype="NetworkEquipment", name="sw"), assets)
    assert names(refused) == ("refused", "NetworkEquipment import denied", None, None)


def test_computers_are_linked_by_name_and_created_by_name():
    assets = Assets(Computer_3={"name": "pc1"})
    assert names(R.decide_import(default_rules(), discovered(itemtype="Computer", name="pc1"), assets)) == \
        ("link", "Computer update (by name)", "Computer", 3)
    assert names(R.decide_import(default_rules(), discovered(itemtype="Computer", name="pc2"), assets)) == \
        ("create", "Computer import (by name)", "Computer", None)
    assert names(R.decide_import(default_rules(), discovered(itemtype="Computer"), assets))[:2] == \
        ("refused", "Computer constraint (name)")


def test_untyped_device_with_a_serial_is_linked_in_any_type_or_created_unmanaged():
    assets = Assets(Printer_4={"serial": "S1"})
    decision = R.decide_import(default_rules(), discovered(serial="S1", name="x"), assets)
    assert names(decision) == ("link", "Global update (by serial)", "Printer", 4)
    assert assets.searches[-1].itemtypes == R.SEARCHED_TYPES
    assert names(R.decide_import(default_rules(), discovered(serial="S2", name="x"), assets)) == \
        ("create", "Global import (by serial)", R.UNMANAGED, None)


def site_rule(rule_id, ranking, criteria, fusion="1", sub_type=R.IMPORT_RULES, actions=None, match="AND"):
    return R.Rule(rule_id, f"site rule {rule_id}", sub_type, ranking, match,
                  tuple(R.Criterion(*c) for c in criteria),
                  actions if actions is not None else (R.Action("assign", "_fusion", fusion),))


def test_a_mac_link_rule_links_instead_of_creating():
    mac_rule = site_rule(1, -1, [("mac", 8, "1"), ("mac", 10, "1")])
    assets = Assets(PluginFusioninventoryUnmanaged_5={"macs": ["aa:bb:cc:dd:ee:ff"]})
    device = discovered(mac="aa:bb:cc:dd:ee:ff", ip="10.0.0.9", name="h")
    assert names(R.decide_import([mac_rule, *default_rules()], device, assets)) == \
        ("link", "site rule 1", R.UNMANAGED, 5)
    # Unknown MAC: the rule's search finds nothing, the default set refuses.
    other = discovered(mac="aa:bb:cc:dd:ee:00", ip="10.0.0.9", name="h")
    assert names(R.decide_import([mac_rule, *default_rules()], other, assets))[:2] == \
        ("refused", "Global import denied")


def test_same_port_restriction_and_only_these_criteria():
    rule = site_rule(1, 0, [("mac", 10, "1"), ("ip", 10, "1"), ("link_criteria_port", 203, "1")])
    assets = Assets(NetworkEquipment_2={"macs": ["aa:bb:cc:dd:ee:ff"], "ips": ["10.0.0.1"]})
    device = discovered(mac="aa:bb:cc:dd:ee:ff", ip="10.0.0.1")
    assert names(R.decide_import([rule], device, assets)) == ("link", "site rule 1", "NetworkEquipment", 2)
    assert assets.searches[-1].same_port and assets.searches[-1].macs == ("aa:bb:cc:dd:ee:ff",)
    # entities_id is always in a discovery's input and never a global criterion: never matches.
    only = site_rule(2, 0, [("mac", 8, "1"), ("only_these_criteria", 204, "1")])
    assert R.decide_import([only], device, assets).kind == "no rule"


def test_unsupported_criterion_condition_and_action_are_skipped_and_reported():
    unknown_criterion = site_rule(1, 0, [("hostgroup", 0, "x")], fusion="2")
    under = site_rule(2, 1, [("entities_id", 11, "0")], fusion="2")
    odd_action = site_rule(3, 2, [("ip", 8, "1")], actions=(R.Action("assign", "states_id", "3"),))
    bad_regex = site_rule(4, 3, [("name", 6, "/(unclosed/")], fusion="2")
    decision = R.decide_import([unknown_criterion, under, odd_action, bad_regex, *default_rules()],
                               discovered(ip="10.0.0.9", name="h"), Assets())
    assert names(decision)[:2] == ("refused", "Global import denied")
    assert [(rule.id, reason.split()[0]) for rule, reason in decision.skipped] == [
        (1, "criterion"), (2, "condition"), (3, "action"), (4, "regular")]


def test_no_rule_matched():
    assert R.decide_import([], discovered(ip="1.2.3.4"), Assets()).kind == "no rule"


@pytest.mark.parametrize("condition, pattern, value, expected", [
    (0, "Switch", "switch", True), (1, "switch", "SWITCH", False), (2, "core", "sw-CORE-1", True),
    (2, "", "x", False), (3, "core", "sw-edge", True), (4, "sw", "SW1", True), (5, "-1", "sw-1", True),
    (6, "/^sw-(\\d+)$/", "SW-12", True), (6, "/^sw$/", "xsw", False), (7, "/^sw/", "router", True),
    (8, "1", "0", False), (8, "1", "x", True), (9, "1", "", True), (30, "1", "anything", True),
    (333, "10.20.0.0/16", "10.20.3.4", True), (333, "10.20.0.0/16", "10.21.0.1", False),
    (334, "10.20.0.0/16", "10.21.0.1", True), (6, "#a.c#i", "ABC", True), (6, "{x&gt;y}", "x>y", True),
])
def test_conditions(condition, pattern, value, expected):
    assert R.match_value(R.Criterion("name", condition, pattern), value, []) is expected


def test_list_values_negative_conditions_need_every_element():
    rule_input = R.RuleInput((("ip", ("10.0.0.1", "192.168.1.1")),))
    assert R.check_criterion(R.Criterion("ip", 2, "192.168"), rule_input, [])
    assert not R.check_criterion(R.Criterion("ip", 3, "192.168"), rule_input, [])
    assert R.check_criterion(R.Criterion("ip", 9, "1"), R.RuleInput((("ip", ()),)), [])
    assert R.check_criterion(R.Criterion("ip", 333, "192.168.0.0/16"), rule_input, [])
    assert not R.check_criterion(R.Criterion("ip", 334, "192.168.0.0/16"), rule_input, [])


def test_refusal_text_and_criteria_json_are_the_plugins():
    device = discovered(mac="aa:bb:cc:dd:ee:ff", ip="10.0.0.9", name="a/b", tag="site-a")
    assert device.text() == "[mac]:aa:bb:cc:dd:ee:ff, [ip]:10.0.0.9, [name]:a/b, [entities_id]:0"
    assert device.as_json() == '{"mac":["aa:bb:cc:dd:ee:ff"],"ip":["10.0.0.9"],"name":"a\\/b","entities_id":"0"}'
    assert device.get("tag") == "site-a" and "tag" not in device.keys()


def test_entity_rule_by_ip_range_and_entity_from_tag():
    by_range = site_rule(1, 0, [("ip", 333, "10.20.0.0/16")], sub_type=R.ENTITY_RULES,
                         actions=(R.Action("assign", "entities_id", "2"),))
    by_tag = site_rule(2, 1, [("tag", 6, "/^site-(.*)$/")], sub_type=R.ENTITY_RULES,
                       actions=(R.Action("regex_result", "_affect_entity_by_tag", "#0"),))
    tags = {"b": 5}
    inside = discovered(ip="10.20.1.2", name="x", tag="site-b")
    assert R.decide_assignment([by_range, by_tag], R.ENTITY_RULES, inside, tags.get).entities_id == 2
    outside = discovered(ip="10.30.1.2", name="x", tag="site-b")
    decided = R.decide_assignment([by_range, by_tag], R.ENTITY_RULES, outside, tags.get)
    assert (decided.rule.id, decided.entities_id) == (2, 5)
    unknown_tag = discovered(ip="10.30.1.2", name="x", tag="site-z")
    assert R.decide_assignment([by_range, by_tag], R.ENTITY_RULES, unknown_tag, tags.get).rule is None


def test_location_rule_assigns_and_unsupported_regex_result_is_skipped():
    assign = site_rule(1, 1, [("name", 4, "sw-")], sub_type=R.LOCATION_RULES,
                       actions=(R.Action("assign", "locations_id", "9"),))
    by_regex = site_rule(2, 0, [("name", 6, "/^sw-(.*)/")], sub_type=R.LOCATION_RULES,
                         actions=(R.Action("regex_result", "locations_id", "#0"),))
    decided = R.decide_assignment([assign, by_regex], R.LOCATION_RULES, discovered(name="sw-lab"))
    assert (decided.rule.id, decided.locations_id) == (1, 9)
    assert [rule.id for rule, _ in decided.skipped] == [2]
