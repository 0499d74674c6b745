"""The criterion of a bridge dynamic deploy group: GLPI's stored form (PHP serialize of the
search criteria), read back, and the LIKE pattern GLPI's "contains" makes of a name."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from fusion_bridge.domain.group_criteria import (
    CriterionError,
    GroupCriterion,
    parse,
    php_serialize,
    php_unserialize,
)

# Written by GLPI's UI (the plugin's own test data), read as the bridge reads it.
GLPI_NAME_SEARCH = ('a:2:{s:8:"criteria";a:1:{i:0;a:4:{s:4:"link";s:3:"AND";s:5:"field";s:1:"1";'
                    's:10:"searchtype";s:8:"contains";s:5:"value";s:3:"^pc";}}s:12:"metacriteria";N;}')
GLPI_WITHOUT_LINK = ('a:2:{s:8:"criteria";a:1:{i:0;a:3:{s:5:"field";s:1:"1";s:10:"searchtype";s:8:"contains";'
                     's:5:"value";s:8:"computer";}}s:12:"metacriteria";s:0:"";}')


def test_glpis_own_name_searches_are_read():
    assert parse(GLPI_NAME_SEARCH) == GroupCriterion(name="^pc")
    assert parse(GLPI_WITHOUT_LINK) == GroupCriterion(name="computer")


def test_the_stored_form_is_glpis():
    criterion = GroupCriterion(name="^pc-", entity=2, entity_recursive=True, location=4, with_agent=True)
    assert criterion.fields_array() == (
        'a:2:{s:8:"criteria";a:4:{'
        'i:0;a:4:{s:4:"link";s:3:"AND";s:5:"field";s:1:"1";s:10:"searchtype";s:8:"contains";s:5:"value";s:4:"^pc-";}'
        'i:1;a:4:{s:4:"link";s:3:"AND";s:5:"field";s:2:"80";s:10:"searchtype";s:5:"under";s:5:"value";s:1:"2";}'
        'i:2;a:4:{s:4:"link";s:3:"AND";s:5:"field";s:1:"3";s:10:"searchtype";s:6:"equals";s:5:"value";s:1:"4";}'
        'i:3;a:4:{s:4:"link";s:7:"AND NOT";s:5:"field";s:4:"5160";s:10:"searchtype";s:8:"contains";'
        's:5:"value";s:4:"NULL";}}'
        's:12:"metacriteria";a:0:{}}')
    assert parse(criterion.fields_array()) == criterion


@pytest.mark.parametrize("stored", [
    None, "", "not serialized", GLPI_NAME_SEARCH.replace('s:1:"1"', 's:1:"5"'),  # another search option
    GLPI_NAME_SEARCH.replace('s:3:"AND"', 's:2:"OR"'),
    GLPI_NAME_SEARCH.replace('s:12:"metacriteria";N;', 's:12:"metacriteria";a:1:{i:0;s:1:"x";}'),
    'a:2:{s:8:"criteria";a:0:{}s:12:"metacriteria";N;}',  # no criterion: every computer
])
def test_anything_else_is_left_to_glpis_cache(stored):
    assert parse(stored) is None


@pytest.mark.parametrize("name, pattern", [
    ("pc", "%pc%"), ("^pc-", "pc-%"), ("-01$", "%-01"), ("^pc-01$", "pc-01"), ("  pc  ", "%pc%"),
    ("snake_case", "%snake\\_case%"), ("pc%01", "%pc%01%"),
])
def test_names_are_matched_as_glpis_contains(name, pattern):
    assert GroupCriterion(name=name).like_pattern() == pattern


@pytest.mark.parametrize("values, message", [
    ({}, "needs a criterion"), ({"name": "^$"}, "needs some text"), ({"name": "%"}, "needs some text"),
    ({"name": "a\\b"}, "backslash"), ({"entity_recursive": True, "with_agent": True}, "needs an entity"),
])
def test_criteria_that_cannot_be_stored(values, message):
    with pytest.raises(CriterionError, match=message):
        GroupCriterion(**values)


@given(st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=20),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children,
                                                                                       max_size=4),
                    max_leaves=12))
def test_php_serialize_round_trips(value):
    def as_php(item):  # PHP arrays are maps: lists come back keyed by their index
        if isinstance(item, list):
            return {i: as_php(v) for i, v in enumerate(item)}
        if isinstance(item, dict):
            return {k: as_php(v) for k, v in item.items()}
        return item

    assert php_unserialize(php_serialize(value)) == as_php(value)


def test_php_strings_count_bytes():
    assert php_serialize("é") == 's:2:"é";'
    assert php_unserialize('a:1:{s:1:"k";s:2:"é";}') == {"k": "é"}
    with pytest.raises(ValueError):
        php_unserialize('s:5:"é";')
