"""Agent paths of FusionInventory, glpiinventory and GLPI's core, and getConfig remotes under the
plugin folder the agent used (docs/glpi10-protocol.md §2, §6)."""

import pytest

from fusion_bridge.http.agent import remotes_under
from fusion_bridge.http.paths import (is_agent_path, is_core_agent_path, is_plugin_agent_path, is_rest_task_path,
                                      plugin_dir_of)


@pytest.mark.parametrize("path", [
    "/plugins/glpiinventory/", "/glpi/plugins/glpiinventory/index.php", "/marketplace/glpiinventory/",
    "/marketplace/glpiinventory/front/communication.php", "/plugins/glpiinventory/Communication",
    "/x/marketplace/glpiinventory/front/plugin_fusioninventory.communication.php", "/plugins/fusioninventory/",
    "/ocsinventory",
])
def test_plugin_paths_take_xml_and_getconfig(path):
    assert is_agent_path(path) and is_plugin_agent_path(path) and not is_core_agent_path(path)


@pytest.mark.parametrize("path", ["/front/inventory.php", "/glpi/front/inventory.php", "/", "", "/index.php"])
def test_core_paths_take_xml_only(path):
    assert is_agent_path(path) and is_core_agent_path(path) and not is_plugin_agent_path(path)


@pytest.mark.parametrize("path", ["/glpi/", "/api/", "/api/tasks", "/plugins/other/", "/glpi/index.php",
                                  "/front/inventory.phpx", "/plugins/glpiinventory/b/deploy/"])
def test_other_paths_are_not_the_agent_endpoint(path):
    assert not is_agent_path(path)


@pytest.mark.parametrize("path", ["/plugins/glpiinventory/b/deploy/", "/glpi/marketplace/glpiinventory/b/esx",
                                  "/plugins/fusioninventory/b/collect/"])
def test_rest_task_paths(path):
    assert is_rest_task_path(path)


def test_plugin_dir_follows_the_path():
    assert plugin_dir_of("/glpi/marketplace/glpiinventory/") == "/marketplace/glpiinventory"
    assert plugin_dir_of("/plugins/glpiinventory/b/deploy/") == "/plugins/glpiinventory"
    assert plugin_dir_of("/ocsinventory") == "/plugins/fusioninventory"


def test_remotes_move_to_the_plugin_dir():
    answer = {"configValidityPeriod": 600, "schedule": [
        {"task": "Deploy", "remote": "http://h/glpi/plugins/fusioninventory/b/deploy/"},
        {"task": "ESX", "periodicity": 3600, "remote": "https://base.example/plugins/fusioninventory/b/esx/"}]}
    moved = remotes_under(answer, "/marketplace/glpiinventory")
    assert [entry["remote"] for entry in moved["schedule"]] == [
        "http://h/glpi/marketplace/glpiinventory/b/deploy/", "https://base.example/marketplace/glpiinventory/b/esx/"]
    assert moved["schedule"][1]["periodicity"] == 3600
    assert remotes_under(answer, "/plugins/fusioninventory") is answer
