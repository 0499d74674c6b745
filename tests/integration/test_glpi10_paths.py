"""The agent paths of GLPI 10/11 with glpiinventory, through Flask: XML at GLPI's core and plugin
paths, getConfig and b/* under the glpiinventory folders with remotes that follow them
(docs/glpi10-protocol.md §2, §6)."""

import zlib

import pytest

from schema.constants import ItemType, Method
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.inventory_rows import add_agent
from tests.helpers.recorded_glpi10 import exchange
from tests.helpers.task_rows import add_job, add_run, add_task

DEVICE = "pc01-2024-03-05-10-22-33"


@pytest.mark.parametrize("path", [
    "/front/inventory.php", "/glpi/front/inventory.php", "/", "/index.php", "/plugins/glpiinventory/",
    "/marketplace/glpiinventory/", "/glpi/plugins/glpiinventory/front/plugin_fusioninventory.communication.php",
    "/marketplace/glpiinventory/index.php", "/plugins/glpiinventory/Communication",
])
def test_xml_prolog_is_answered_at_glpi_10_paths(client, path):
    response = client.post(path, data=prolog(DEVICE), headers=ZLIB_HEADERS)
    assert response.status_code == 200
    assert b"<PROLOG_FREQ>24</PROLOG_FREQ>" in zlib.decompress(response.data)


def test_getconfig_on_the_core_path_is_refused_as_glpi_10_refuses_it(client):
    recorded = exchange("03-fusioninventory-agent-2.6/run3-all-tasks-core-endpoint/002-GET-getConfig")
    response = client.get(recorded.path + f"?action=getConfig&machineid={DEVICE}&task%5BDeploy%5D=2.8")
    assert response.status_code == 400 and response.data == recorded.reply_decoded


@pytest.fixture
def collect_run(engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
        add_task(conn, 1)
        add_job(conn, 1, f'[{{"{ItemType.COLLECT}":"1"}}]', '[{"PluginFusioninventoryAgent":"3"}]', Method.COLLECT,
                job_id=1)
        add_run(conn, 1, 1, 3, ItemType.COLLECT, 1, 0)


@pytest.mark.parametrize("folder", ["/plugins/glpiinventory", "/glpi/marketplace/glpiinventory",
                                    "/plugins/fusioninventory"])
def test_getconfig_remotes_follow_the_plugin_folder(client, collect_run, folder):
    response = client.get(f"{folder}/?action=getConfig&machineid={DEVICE}&task%5BCollect%5D=2.9")
    assert response.status_code == 200
    remote = f"http://localhost{folder}/b/collect/".replace("/", "\\/")
    assert response.data.decode() == (
        '{"configValidityPeriod":600,"schedule":[{"task":"Collect","remote":"' + remote + '"}]}')


@pytest.mark.parametrize("folder", ["/plugins/glpiinventory", "/glpi/marketplace/glpiinventory"])
def test_rest_tasks_are_served_under_glpiinventory_folders(client, engine, folder):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
    for query in ("collect/?action=getJobs", "esx/?action=getJobs", "deploy/?action=getJobs&version=3.3",
                  "collect/?action=jobsDone&uuid=none"):
        ours = client.get(f"{folder}/b/{query}&machineid={DEVICE}")
        theirs = client.get(f"/plugins/fusioninventory/b/{query}&machineid={DEVICE}")
        assert (ours.status_code, ours.data) == (theirs.status_code, theirs.data)
        assert ours.status_code != 404 and ours.is_json
