"""The agent endpoint through Flask, on SQLite and MariaDB."""

import gzip
import json
import threading
import zlib

import pytest
from sqlalchemy import select, update

import schema
from schema.constants import Module
from tests.helpers.task_rows import add_job, add_run, add_task, set_module
from tests.helpers.agent_requests import (USER_AGENT, ZLIB_HEADERS, inventory_xml, netdiscovery_start_xml,
                                          prolog, prolog_xml)

DEVICE = "pc01-2024-03-05-10-22-33"
PLUGIN_PROLOG_SEND = (b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n   <RESPONSE>SEND</RESPONSE>\n'
                      b"   <PROLOG_FREQ>24</PROLOG_FREQ>\n</REPLY>\n")
EMPTY_REPLY = b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n</REPLY>\n'


def agent_rows(engine, device_id=DEVICE):
    with engine.connect() as conn:
        return conn.execute(select(schema.agents).where(schema.agents.c.device_id == device_id)).mappings().all()


def post(client, body, path="/plugins/fusioninventory/", headers=ZLIB_HEADERS):
    return client.post(path, data=body, headers=headers)


def test_prolog_creates_the_agent_and_answers_the_plugins_bytes(client, engine):
    response = post(client, prolog(DEVICE))
    assert response.status_code == 200
    assert response.content_type == "application/x-compress-zlib"
    assert response.data[:2] == b"\x78\x9c"
    assert zlib.decompress(response.data) == PLUGIN_PROLOG_SEND
    assert response.headers["server-type"].startswith("fusion-bridge ")
    [row] = agent_rows(engine)
    assert (row["name"], row["device_id"], row["entities_id"]) == (DEVICE, DEVICE, 0)
    assert (row["threads_networkdiscovery"], row["threads_networkinventory"]) == (0, 0)
    assert (row["useragent"], row["token"]) == (USER_AGENT, "12345678")
    assert row["last_contact"] is not None


def test_second_prolog_updates_the_same_row(client, engine):
    post(client, prolog(DEVICE))
    with engine.begin() as conn:
        conn.execute(update(schema.agents).values(last_contact=None, useragent="old"))
    post(client, prolog(DEVICE), headers={**ZLIB_HEADERS, "User-Agent": "FusionInventory-Agent_v2.6"})
    [row] = agent_rows(engine)
    assert row["useragent"] == "FusionInventory-Agent_v2.6" and row["last_contact"] is not None


@pytest.mark.parametrize("path", [
    "/plugins/fusioninventory/", "/glpi/plugins/fusioninventory/", "/plugins/fusioninventory/index.php",
    "/plugins/fusioninventory/front/communication.php", "/glpi/plugins/fusioninventory/front/communication.php",
    "/a/b/plugins/fusioninventory/front/plugin_fusioninventory.communication.php", "/ocsinventory",
])
def test_every_agent_path(client, path):
    response = post(client, prolog(DEVICE), path=path)
    assert response.status_code == 200 and zlib.decompress(response.data) == PLUGIN_PROLOG_SEND


def test_unknown_path_is_404(client):
    response = post(client, prolog(DEVICE), path="/plugins/other/")
    assert response.status_code == 404 and "no agent endpoint" in response.get_json()["error"]


def test_plain_and_gzip_requests_get_plain_and_gzip_replies(client):
    response = post(client, prolog_xml(DEVICE), headers={"Content-Type": "application/xml"})
    assert response.data == PLUGIN_PROLOG_SEND and response.content_type == "application/xml"
    response = post(client, gzip.compress(prolog_xml(DEVICE)), headers={"Content-Type": "application/x-compress-gzip"})
    assert gzip.decompress(response.data) == PLUGIN_PROLOG_SEND
    assert response.content_type == "application/x-compress-gzip"


def test_inventory_module_switch_and_exceptions(client, engine):
    post(client, prolog(DEVICE))
    agent_id = agent_rows(engine)[0]["id"]
    without_send = b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n   <PROLOG_FREQ>24</PROLOG_FREQ>\n</REPLY>\n'
    for is_active, exceptions, expected in [
        (1, [], PLUGIN_PROLOG_SEND),
        (1, [str(agent_id)], without_send),
        (0, [], without_send),
        (0, [str(agent_id)], PLUGIN_PROLOG_SEND),
    ]:
        set_module(engine, Module.INVENTORY, is_active, exceptions)
        assert zlib.decompress(post(client, prolog(DEVICE)).data) == expected, (is_active, exceptions)


def test_prolog_freq_comes_from_inventory_frequence(client, engine):
    with engine.begin() as conn:
        conn.execute(update(schema.configs).where(schema.configs.c.type == "inventory_frequence").values(value="6"))
    assert b"<PROLOG_FREQ>6</PROLOG_FREQ>" in zlib.decompress(post(client, prolog(DEVICE)).data)


def test_inventory_records_version_and_keeps_the_document(client, engine):
    xml = inventory_xml(DEVICE)
    response = post(client, zlib.compress(xml))
    assert response.status_code == 200 and zlib.decompress(response.data) == EMPTY_REPLY
    [row] = agent_rows(engine)
    assert json.loads(row["version"]) == {"INVENTORY": "v2.6-3"}
    with engine.connect() as conn:
        stored = conn.execute(select(schema.bridge_inventories)).mappings().one()
    assert stored["plugin_fusioninventory_agents_id"] == row["id"]
    assert zlib.decompress(stored["content"]) == xml and stored["size"] == len(xml)
    post(client, zlib.compress(inventory_xml(DEVICE, name="pc02")))
    with engine.connect() as conn:
        [stored] = conn.execute(select(schema.bridge_inventories)).mappings().all()
    assert b"pc02" in zlib.decompress(stored["content"])


def test_network_messages_merge_module_versions(client, engine):
    post(client, prolog(DEVICE))
    agent_id = agent_rows(engine)[0]["id"]
    with engine.begin() as conn:
        conn.execute(update(schema.agents).values(version="v2.5.2"))  # a pre-JSON value
        add_task(conn, 1)
        add_job(conn, 1, '[{"PluginFusioninventoryIPRange":"1"}]',
                f'[{{"PluginFusioninventoryAgent":"{agent_id}"}}]', "networkdiscovery", job_id=1)
        add_run(conn, 11, 1, agent_id, "PluginFusioninventoryIPRange", 1, state=1)
    response = post(client, zlib.compress(netdiscovery_start_xml(DEVICE)))
    assert zlib.decompress(response.data) == EMPTY_REPLY
    assert agent_rows(engine)[0]["version"] == '{"INVENTORY":"v2.5.2","NETWORKDISCOVERY":"4.2"}'


def test_four_byte_utf8_is_stored_replaced(client, engine):
    device = "pc\U0001F600-2024-03-05-10-22-33"
    response = post(client, prolog(device), headers={**ZLIB_HEADERS, "User-Agent": "agent \U0001F680"})
    assert response.status_code == 200
    [row] = agent_rows(engine, "pc\ufffd-2024-03-05-10-22-33")
    assert row["useragent"] == "agent \ufffd"


def test_concurrent_first_prologs_create_one_agent(app, engine):
    barrier = threading.Barrier(20)
    statuses = []

    def contact():
        client = app.test_client()
        barrier.wait()
        statuses.append(post(client, prolog("racer-2024-01-01-00-00-00")).status_code)

    threads = [threading.Thread(target=contact) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert len(agent_rows(engine, "racer-2024-01-01-00-00-00")) == 1


def test_get_config_for_known_and_unknown_agents(client):
    post(client, prolog(DEVICE))
    response = client.get(f"/plugins/fusioninventory/?action=getConfig&machineid={DEVICE}&task%5BDeploy%5D=2.8")
    assert response.status_code == 200
    assert response.data == b'{"configValidityPeriod":600,"schedule":[]}'
    assert response.headers["server-type"].startswith("fusion-bridge ")
    response = client.get("/plugins/fusioninventory/?action=getConfig&machineid=nobody&task%5BESX%5D=2.6")
    assert response.status_code == 400 and "unknown" in response.get_json()["error"]


def test_locked_agent_gets_no_config(client, engine):
    post(client, prolog(DEVICE))
    with engine.begin() as conn:
        conn.execute(update(schema.agents).values(lock=1))
    assert client.get(f"/plugins/fusioninventory/?action=getConfig&machineid={DEVICE}").status_code == 400
