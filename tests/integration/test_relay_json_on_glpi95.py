"""A JSON inventory on a GLPI 9.5 database in relay mode is refused (docs/glpi10-protocol.md §4.6):
its upstream, the FusionInventory plugin, imports XML only, so the bridge does not queue what GLPI
would refuse; GLPI Agent is kept on the XML protocol there (CONTACT lists ``inventory`` as disabled)."""

from __future__ import annotations

import json
import zlib

import pytest

from fusion_bridge.app import create_app
from tests.helpers.agent_requests import ZLIB_HEADERS
from tests.helpers.relay import document
from tests.helpers.relay_upstream import relay_config

pytestmark = pytest.mark.parametrize("database_url", [
    "sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)], indirect=True)

INVENTORY = {"action": "inventory", "deviceid": "pc-2026-12-05-00-00-00", "content": {"hardware": {"name": "pc"}}}
CONTACT = {"action": "contact", "deviceid": "pc-2026-12-05-00-00-00", "enabled-tasks": ["inventory"]}


def test_relaying_to_the_95_plugin_keeps_glpi_agent_on_xml(database_url, engine, upstream):
    app = create_app(relay_config(database_url, upstream.url))
    try:
        client = app.test_client()
        contact = client.post("/plugins/fusioninventory/", data=zlib.compress(json.dumps(CONTACT).encode()),
                              headers=ZLIB_HEADERS)
        assert json.loads(zlib.decompress(contact.data))["disabled"] == ["inventory"]
        response = client.post("/plugins/fusioninventory/", data=zlib.compress(json.dumps(INVENTORY).encode()),
                               headers=ZLIB_HEADERS)
        assert response.status_code == 400
        assert "taken only when an inventory upstream (GLPI 10/11)" in json.loads(zlib.decompress(response.data))["message"]
        assert document(engine) is None and upstream.requests == []
    finally:
        app.extensions["fusion_bridge"].dispose()
