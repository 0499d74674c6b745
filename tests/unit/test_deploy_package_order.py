"""The ``json`` order of a deploy package, read and written without a database."""

from __future__ import annotations

import pytest

from fusion_bridge.services.deploy import content
from fusion_bridge.services.admin.definitions import DefinitionError
from tests.helpers.task_rows import NEW_PACKAGE_JSON


def test_order_helpers_without_a_database():
    assert content.encode_order(content.new_order()) == NEW_PACKAGE_JSON
    assert content.decode_order(None, 1) == content.new_order()
    with pytest.raises(DefinitionError, match="invalid JSON"):
        content.decode_order("{", 1)
    # A list PHP turned into an object after removing its first entry reads as a list.
    order = content.decode_order('{"jobs":{"checks":{"1":{"type":"fileExists"}}},"associatedFiles":[]}', 1)
    assert order["jobs"]["checks"] == [{"type": "fileExists"}] and order["jobs"]["actions"] == []
