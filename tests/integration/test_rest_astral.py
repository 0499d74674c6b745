"""A 4-byte UTF-8 character (emoji, rare CJK) in a REST query parameter (issue 10, item 2).

GLPI 9.5's columns are 3-byte ``utf8``: on MariaDB, comparing them with such a value mixes
collations and the statement fails. The REST calls handle it as the XML path does (the value as
it would have been stored, U+FFFD in place of the character): no such agent or run exists, so
the answer is the call's usual 4xx, without a database error."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest

from schema.constants import ItemType, Method
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_job, add_run, add_task

DEVICE = "pc-2026-01-01-00-00-00"
ASTRAL = "pc\U0001F600-2026-01-01-00-00-00"
PART = "/a/ab/" + "ab" * 64
BASE = "/plugins/fusioninventory/b"


@pytest.fixture
def agent_with_runs(engine):
    """An agent with a deploy, a collect and an ESX run handed out, so that calls get past the
    agent to the run lookup by uuid."""
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
        add_task(conn, 1)
        for job_id, method, itemtype in ((1, Method.DEPLOY, ItemType.DEPLOY_PACKAGE),
                                         (2, Method.COLLECT, ItemType.COLLECT),
                                         (3, Method.ESX, ItemType.CREDENTIAL_IP)):
            add_job(conn, 1, f'[{{"{itemtype}":"1"}}]', '[{"PluginFusioninventoryAgent":"3"}]', method, job_id=job_id)
            add_run(conn, job_id, job_id, 3, itemtype, 1, state=1)


CALLS = {
    # name: (path and query, expected status)
    "getConfig machineid": ("/plugins/fusioninventory/?action=getConfig&machineid={astral}&task%5BCollect%5D=2.6", 400),
    "Deploy getJobs machineid": (f"{BASE}/deploy/?action=getJobs&machineid={{astral}}", 400),
    "Deploy getFilePart machineid": (f"{BASE}/deploy/?action=getFilePart&machineid={{astral}}&file={PART}", 403),
    "Deploy setStatus machineid": (f"{BASE}/deploy/?action=setStatus&machineid={{astral}}&uuid=x&status=ok&msg=m", 400),
    "Deploy setStatus uuid": (f"{BASE}/deploy/?action=setStatus&machineid={DEVICE}&uuid={{astral}}&status=ok&msg=m", 403),
    "Deploy setUserEvent uuid": (f"{BASE}/deploy/?action=setUserEvent&machineid={DEVICE}&uuid={{astral}}"
                                 "&behavior=continue&type=after&event=ok", 403),
    "Collect getJobs machineid": (f"{BASE}/collect/?action=getJobs&machineid={{astral}}", 400),
    "Collect setAnswer uuid": (f"{BASE}/collect/?action=setAnswer&uuid={{astral}}&_sid=1&path=/x", 400),
    "Collect jobsDone uuid": (f"{BASE}/collect/?action=jobsDone&uuid={{astral}}", 400),
    "ESX getJobs machineid": (f"{BASE}/esx/?action=getJobs&machineid={{astral}}", 400),
    "ESX setLog machineid": (f"{BASE}/esx/?action=setLog&machineid={{astral}}&uuid=x&code=running&msg=m", 400),
    "ESX setLog uuid": (f"{BASE}/esx/?action=setLog&machineid={DEVICE}&uuid={{astral}}&code=running&msg=m", 400),
}


@pytest.mark.parametrize("call", CALLS)
def test_a_four_byte_character_is_a_4xx_without_database_error(call, client, agent_with_runs, caplog):
    url, status = CALLS[call]
    with caplog.at_level(logging.WARNING):
        response = client.get(url.format(astral=quote(ASTRAL)))
    assert response.status_code == status, response.data
    assert "error" in response.json
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_an_agent_whose_deviceid_has_one_is_found_as_the_xml_path_stored_it(client):
    assert client.post("/plugins/fusioninventory/", data=prolog(ASTRAL), headers=ZLIB_HEADERS).status_code == 200
    response = client.get(f"/plugins/fusioninventory/?action=getConfig&machineid={quote(ASTRAL)}&task%5BESX%5D=2.6")
    assert response.status_code == 200
    assert response.data == b'{"configValidityPeriod":600,"schedule":[]}'
    response = client.get(f"{BASE}/esx/?action=getJobs&machineid={quote(ASTRAL)}")
    assert (response.status_code, response.data) == (200, b"{}")


@pytest.mark.parametrize("url", [
    f"{BASE}/deploy/?action=setStatus&machineid={DEVICE}&uuid=uniq000000001&status=info&msg={{astral}}",
    f"{BASE}/deploy/?action=setUserEvent&machineid={DEVICE}&uuid=uniq000000001&behavior=continue&type=after"
    "&event=ok&user={astral}",
    f"{BASE}/esx/?action=setLog&machineid={DEVICE}&uuid=uniq000000003&code=running&msg={{astral}}",
])
def test_a_four_byte_character_in_a_message_is_written_replaced(url, client, agent_with_runs, caplog):
    response = client.get(url.format(astral=quote(ASTRAL)))
    assert (response.status_code, response.data) == (200, b"{}")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
