"""Deploy packages, mirrors and files, on SQLite and MariaDB: the ``json`` column byte for byte
as GLPI's UI writes it, validation, locking rules, and deploying a package as a task."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
from sqlalchemy import select, update

import schema
from fusion_bridge.services.deploy import mirrors
from fusion_bridge.services.deploy import packages
from fusion_bridge.services.admin.definitions import DefinitionError, NotFound
from fusion_bridge.adapters.deploy_repository import FileRepository
from fusion_bridge.services.scheduling.preparation import prepare_runs
from schema.constants import ItemType
from tests.helpers.db import count, insert_row, row
from tests.helpers.inventory_rows import add_computer_with_agent
from tests.helpers.task_rows import NEW_PACKAGE_JSON


def stored_json(engine, package_id) -> str:
    return row(engine, schema.deploypackages, package_id)["json"]


# --- the JSON, exactly --------------------------------------------------------------------------


def test_a_new_package_has_the_plugins_empty_order(engine):
    package = packages.create_package(engine, "Firefox <esr>", comment="browser")
    stored = row(engine, schema.deploypackages, package["id"])
    assert stored["json"] == NEW_PACKAGE_JSON
    assert stored["name"] == "Firefox &lt;esr&gt;" and package["name"] == "Firefox <esr>"
    assert (stored["entities_id"], stored["is_recursive"],
            stored["plugin_fusioninventory_deploygroups_id"]) == (0, 0, 0)
    assert package["checks"] == package["actions"] == package["files"] == []


def test_checks_are_stored_as_the_ui_stores_them(engine):
    package = packages.create_package(engine, "checks")
    pid = package["id"]
    packages.add_check(engine, pid, {"type": "winvalueExists", "name": "Value exists",
                                     "path": r"HKLM\Software\FusionInventory-Agent\debug", "return": "skip"})
    packages.add_check(engine, pid, {"type": "freespaceGreater", "name": "More than 5.5 Gb", "path": "/tmp",
                                     "value": "5,5", "unit": "GB", "return": "info"})
    packages.add_check(engine, pid, {"type": "fileSizeGreater", "path": "/opt/app.bin", "value": 2, "unit": "KB"})
    packages.add_check(engine, pid, {"type": "winkeyEquals", "path": r"HKLM\A\b", "value": "9.20",
                                     "return": "startnow"})
    assert stored_json(engine, pid) == (
        '{"jobs":{"checks":['
        '{"name":"Value exists","type":"winvalueExists","path":"HKLM\\\\Software\\\\FusionInventory-Agent\\\\debug",'
        '"value":"","return":"skip"},'
        '{"name":"More than 5.5 Gb","type":"freespaceGreater","path":"/tmp","value":"5632","return":"info"},'
        '{"name":"","type":"fileSizeGreater","path":"/opt/app.bin","value":"2048","return":"error"},'
        '{"name":"","type":"winkeyEquals","path":"HKLM\\\\A\\\\b","value":"9.20","return":"startnow"}],'
        '"associatedFiles":[],"actions":[],"userinteractions":[]},"associatedFiles":[]}')


def test_actions_are_stored_as_the_ui_stores_them(engine):
    pid = packages.create_package(engine, "actions")["id"]
    packages.add_action(engine, pid, {"type": "cmd", "name": "Command ls", "exec": "ls -lah > /tmp/out",
                                      "logLineLimit": 100})
    packages.add_action(engine, pid, {"type": "move", "name": "Move to /tmp", "from": "*", "to": "/tmp/"})
    packages.add_action(engine, pid, {"type": "cmd", "exec": "sh install.sh",
                                      "retChecks": [{"type": "okCode", "values": [0, 3010]},
                                                    {"type": "errorPattern", "value": "FATAL"}]})
    packages.add_action(engine, pid, {"type": "mkdir", "list": "/opt/app"})
    packages.add_action(engine, pid, {"type": "delete", "list": ["/opt/old", "/var/old"], "name": "clean"})
    packages.add_action(engine, pid, {"type": "copy", "from": "app.conf", "to": "/etc/app/"})
    assert stored_json(engine, pid) == (
        '{"jobs":{"checks":[],"associatedFiles":[],"actions":['
        '{"cmd":{"exec":"ls -lah &gt; /tmp/out","name":"Command ls","logLineLimit":"100"}},'
        '{"move":{"from":"*","to":"/tmp/","name":"Move to /tmp"}},'
        '{"cmd":{"exec":"sh install.sh","name":"","logLineLimit":"10","retChecks":['
        '{"type":"okCode","values":["0","3010"]},{"type":"errorPattern","values":["FATAL"]}]}},'
        '{"mkdir":{"list":["/opt/app"],"name":""}},'
        '{"delete":{"list":["/opt/old","/var/old"],"name":"clean"}},'
        '{"copy":{"from":"app.conf","to":"/etc/app/","name":""}}],'
        '"userinteractions":[]},"associatedFiles":[]}')


def test_an_attached_file_turns_the_top_level_list_into_an_object(engine, tmp_path):
    repository = FileRepository(tmp_path / "repo")
    source = tmp_path / "setup.sh"
    source.write_bytes(b"#!/bin/sh\necho \xc3\xa9t\xc3\xa9\n")
    stored = mirrors.store_file(engine, repository, source, "setup.sh")
    sha = hashlib.sha512(source.read_bytes()).hexdigest()
    assert stored["sha512"] == sha and stored["added"] and stored["in_repository"]
    pid = packages.create_package(engine, "files")["id"]
    packages.attach_file(engine, pid, sha, repository=repository)
    expected = ('{"jobs":{"checks":[],"associatedFiles":["%s"],"actions":[],"userinteractions":[]},'
                '"associatedFiles":{"%s":{"name":"setup.sh","p2p":0,"p2p-retention-duration":0,"uncompress":0}}}'
                % (sha, sha))
    assert stored_json(engine, pid) == expected
    # Again by id, with other settings and a name with accents: one entry, updated in place.
    package = packages.attach_file(engine, pid, str(stored["id"]), name="dé.sh", p2p=True,
                                   p2p_retention_minutes=60)
    assert package["files"] == [{"sha512": sha, "name": "dé.sh", "p2p": 1, "p2p-retention-duration": 60,
                                 "uncompress": 0}]
    assert '"name":"d\\u00e9.sh","p2p":1,"p2p-retention-duration":60' in stored_json(engine, pid)
    # Removing the last file gives back the PHP empty array.
    packages.remove_entry(engine, pid, "file", 0)
    assert stored_json(engine, pid) == NEW_PACKAGE_JSON


def test_a_package_made_in_glpi_is_edited_without_losing_anything(engine):
    glpi_json = ('{"jobs":{"checks":[],"associatedFiles":[],"actions":[{"cmd":{"exec":"ls","name":"",'
                 '"logLineLimit":"-1","retChecks":[{"type":"okCode","values":["0"]}]}}],"userinteractions":'
                 '[{"name":"ask","title":"T","text":"x","type":"before","template":"1"}]},"associatedFiles":[]}')
    pid = insert_row(engine, schema.deploypackages, name="ls", entities_id=0, json=glpi_json)
    packages.add_check(engine, pid, {"type": "directoryExists", "path": "/srv"})
    order = json.loads(stored_json(engine, pid))
    assert order["jobs"]["actions"] == json.loads(glpi_json)["jobs"]["actions"]
    assert order["jobs"]["userinteractions"][0]["name"] == "ask"
    assert order["jobs"]["checks"] == [{"name": "", "type": "directoryExists", "path": "/srv", "value": "",
                                        "return": "error"}]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize("check, message", [
    ({"type": "fileExist", "path": "/x"}, "unknown check type 'fileExist'"),
    ({"type": "fileExists"}, "path of the fileExists check is required"),
    ({"type": "fileExists", "path": "/x", "value": "3"}, "a fileExists check takes no value"),
    ({"type": "fileSizeLower", "path": "/x"}, "(a size) is required"),
    ({"type": "fileSizeLower", "path": "/x", "value": "big"}, "must be a number"),
    ({"type": "fileSizeLower", "path": "/x", "value": "-3"}, "must be a positive number"),
    ({"type": "fileSizeLower", "path": "/x", "value": "3", "unit": "TB"}, "unit of value"),
    ({"type": "freespaceGreater", "path": "/x", "value": "3", "unit": "KB"}, "one of MB, GB"),
    ({"type": "fileSHA512", "path": "/x", "value": "abc"}, "must be a sha512"),
    ({"type": "winvalueType", "path": "HKLM\\x", "value": "REG_FOO"}, "must be one of REG_SZ"),
    ({"type": "fileExists", "path": "/x", "return": "abort job"}, "check return must be one of"),
    ({"type": "fileExists", "path": "/x", "colour": "red"}, "unknown check field(s): colour"),
])
def test_bad_checks_are_refused_with_a_reason(engine, check, message):
    pid = packages.create_package(engine, "p")["id"]
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        packages.add_check(engine, pid, check)
    assert stored_json(engine, pid) == NEW_PACKAGE_JSON


@pytest.mark.parametrize("action, message", [
    ({"type": "run", "exec": "ls"}, "unknown action type 'run'"),
    ({"type": "cmd"}, "command (exec) is required"),
    ({"type": "cmd", "exec": "ls", "logLineLimit": -2}, "logLineLimit must be at least -1"),
    ({"type": "cmd", "exec": "ls", "retChecks": [{"type": "okCode", "values": ["zero"]}]}, "whole number"),
    ({"type": "cmd", "exec": "ls", "retChecks": [{"type": "exitCode", "values": [0]}]}, "retCheck type"),
    ({"type": "cmd", "exec": "ls", "retChecks": "okCode"}, "retChecks must be a list"),
    ({"type": "move", "from": "*"}, "'to' of the move action is required"),
    ({"type": "mkdir", "list": []}, "needs at least one path"),
    ({"type": "mkdir", "list": ["/a"], "exec": "ls"}, "unknown mkdir action field(s): exec"),
])
def test_bad_actions_are_refused_with_a_reason(engine, action, message):
    pid = packages.create_package(engine, "p")["id"]
    with pytest.raises(DefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        packages.add_action(engine, pid, action)
    assert stored_json(engine, pid) == NEW_PACKAGE_JSON


def test_unknown_ids_and_bad_files(engine, tmp_path):
    with pytest.raises(NotFound, match="package 999 does not exist"):
        packages.add_check(engine, 999, {"type": "fileExists", "path": "/x"})
    pid = packages.create_package(engine, "p")["id"]
    with pytest.raises(NotFound, match="file 42 does not exist"):
        packages.attach_file(engine, pid, 42)
    with pytest.raises(NotFound, match="no file with sha512"):
        packages.attach_file(engine, pid, "a" * 128)
    with pytest.raises(DefinitionError, match="id or its sha512"):
        packages.attach_file(engine, pid, "setup.exe")
    file_id = insert_row(engine, schema.deployfiles, name="ghost.bin", mimetype="x", filesize=1, sha512="b" * 128,
                         shortsha512="bbbbbb", entities_id=0)
    with pytest.raises(DefinitionError, match="parts are not in the repository"):
        packages.attach_file(engine, pid, file_id, repository=FileRepository(tmp_path))
    with pytest.raises(DefinitionError, match="plain name"):
        packages.attach_file(engine, pid, file_id, name="../../etc/passwd")
    with pytest.raises(DefinitionError, match="entity 7 does not exist"):
        packages.create_package(engine, "p", entities_id=7)
    with pytest.raises(DefinitionError, match="package name is required"):
        packages.create_package(engine, "  ")
    assert stored_json(engine, pid) == NEW_PACKAGE_JSON


def test_content_is_frozen_while_agents_run_the_package(engine):
    pid = packages.create_package(engine, "p")["id"]
    packages.add_action(engine, pid, {"type": "cmd", "exec": "true"})
    computer, agent = add_computer_with_agent(engine, "pc01")
    task = packages.deploy_package(engine, pid, computers=[computer])
    run_id = insert_row(engine, schema.taskjobstates,
                        plugin_fusioninventory_taskjobs_id=task["actions"][0]["id"], items_id=pid,
                        itemtype=ItemType.DEPLOY_PACKAGE, state=1, plugin_fusioninventory_agents_id=agent,
                        uniqid="abc")
    with pytest.raises(DefinitionError, match=r"being deployed \(1 run\(s\) in agents' hands\)"):
        packages.add_check(engine, pid, {"type": "fileExists", "path": "/x"})
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobstates).where(schema.taskjobstates.c.id == run_id).values(state=3))
    assert packages.add_check(engine, pid, {"type": "fileExists", "path": "/x"})["checks"]
    with pytest.raises(DefinitionError, match=f"deployed by action\\(s\\) {task['actions'][0]['id']}"):
        packages.delete_package(engine, pid)


def test_concurrent_edits_are_all_kept(engine):
    pid = packages.create_package(engine, "p")["id"]
    errors = []

    def add(n):
        try:
            for i in range(5):
                packages.add_action(engine, pid, {"type": "cmd", "exec": f"echo {n}-{i}"})
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    actions = json.loads(stored_json(engine, pid))["jobs"]["actions"]
    assert sorted(a["cmd"]["exec"] for a in actions) == sorted(f"echo {n}-{i}" for n in range(4) for i in range(5))


# --- deploying --------------------------------------------------------------------------------


def test_deploying_creates_an_active_task_that_prepares_a_run_per_agent(engine):
    pid = packages.create_package(engine, "Tools")["id"]
    packages.add_action(engine, pid, {"type": "cmd", "exec": "true"})
    computer, agent = add_computer_with_agent(engine, "pc01")
    _, other_agent = add_computer_with_agent(engine, "pc02")
    task = packages.deploy_package(engine, pid, computers=[computer], agents=[other_agent])
    assert task["name"] == "Deploy Tools" and task["is_active"] and not task["reprepare_if_successful"]
    [action] = task["actions"]
    job = row(engine, schema.taskjobs, action["id"])
    assert job["method"] == "deployinstall"
    assert job["targets"] == f'[{{"PluginFusioninventoryDeployPackage":"{pid}"}}]'
    assert job["actors"] == f'[{{"Computer":"{computer}"}},{{"PluginFusioninventoryAgent":"{other_agent}"}}]'
    assert prepare_runs(engine, task_id=task["id"]).prepared == 2
    with engine.connect() as conn:
        runs = conn.execute(select(schema.taskjobstates.c.plugin_fusioninventory_agents_id,
                                   schema.taskjobstates.c.itemtype, schema.taskjobstates.c.items_id)
                            .order_by(schema.taskjobstates.c.id)).all()
    assert sorted(runs) == sorted([(agent, ItemType.DEPLOY_PACKAGE, pid),
                                   (other_agent, ItemType.DEPLOY_PACKAGE, pid)])
    # Once installed, an agent is not given the package again; a failed agent is.
    states = schema.taskjobstates
    with engine.begin() as conn:
        conn.execute(update(states).where(states.c.plugin_fusioninventory_agents_id == agent).values(state=3))
        conn.execute(update(states).where(states.c.plugin_fusioninventory_agents_id == other_agent).values(state=4))
    assert prepare_runs(engine, task_id=task["id"]).prepared == 1
    again = packages.deploy_package(engine, pid, agents=[agent], reprepare_if_successful=True)
    assert again["reprepare_if_successful"]


def test_deploying_refuses_bad_targets_and_writes_nothing(engine):
    pid = packages.create_package(engine, "p")["id"]
    computer, _ = add_computer_with_agent(engine, "pc01")
    with pytest.raises(DefinitionError, match="nothing to deploy"):
        packages.deploy_package(engine, pid, computers=[computer])
    packages.add_action(engine, pid, {"type": "cmd", "exec": "true"})
    with pytest.raises(DefinitionError, match="at least one computer"):
        packages.deploy_package(engine, pid)
    with pytest.raises(DefinitionError, match="Computer 999 does not exist"):
        packages.deploy_package(engine, pid, computers=[computer, 999])
    with pytest.raises(DefinitionError, match="PluginFusioninventoryDeployGroup 5 does not exist"):
        packages.deploy_package(engine, pid, deploygroups=[5])
    with pytest.raises(NotFound, match="package 998 does not exist"):
        packages.deploy_package(engine, 998, computers=[computer])
    assert count(engine, schema.tasks) == 0 and count(engine, schema.taskjobs) == 0


# --- mirrors and files ------------------------------------------------------------------------


def test_mirrors(engine):
    mirror = mirrors.add_mirror(engine, "Paris", "http://files.paris.example/deploy/", locations_id=3,
                                is_recursive=True)
    stored = row(engine, schema.deploymirrors, mirror["id"])
    assert (stored["url"], stored["is_active"], stored["is_recursive"], stored["locations_id"]) == \
        ("http://files.paris.example/deploy/", 1, 1, 3)
    assert [m["name"] for m in mirrors.list_mirrors(engine)] == ["Paris"]
    with pytest.raises(DefinitionError, match="http:// or https://"):
        mirrors.add_mirror(engine, "bad", "ftp://files/")
    with pytest.raises(DefinitionError, match="mirror name is required"):
        mirrors.add_mirror(engine, "", "http://files/")
    assert mirrors.remove_mirror(engine, mirror["id"]) == {"id": mirror["id"], "deleted": True}
    with pytest.raises(NotFound, match=f"mirror {mirror['id']} does not exist"):
        mirrors.remove_mirror(engine, mirror["id"])


def test_files_are_listed_with_their_presence_in_the_repository(engine, tmp_path):
    repository = FileRepository(tmp_path / "repo")
    source = tmp_path / "a.txt"
    source.write_text("hello")
    first = mirrors.store_file(engine, repository, source, "a.txt")
    again = mirrors.store_file(engine, repository, source, "a.txt")
    assert again["id"] == first["id"] and not again["added"]
    insert_row(engine, schema.deployfiles, name="elsewhere.bin", mimetype="x", filesize=1, sha512="c" * 128,
               shortsha512="cccccc", entities_id=0)
    listed = mirrors.list_files(engine, repository)
    assert [(f["name"], f["in_repository"]) for f in listed] == [("a.txt", True), ("elsewhere.bin", False)]
    with pytest.raises(DefinitionError, match="plain name"):
        mirrors.store_file(engine, repository, source, "x/y")


def test_a_package_with_broken_json_does_not_break_the_list(engine):
    good = packages.create_package(engine, "good")
    bad = packages.create_package(engine, "edited elsewhere")
    with engine.begin() as conn:
        conn.execute(update(schema.deploypackages).where(schema.deploypackages.c.id == bad["id"])
                     .values(json="{not json"))
    listed = {p["id"]: p for p in packages.list_packages(engine)}
    assert listed[good["id"]]["checks"] == 0 and "error" not in listed[good["id"]]
    assert "invalid JSON" in listed[bad["id"]]["error"] and listed[bad["id"]]["name"] == "edited elsewhere"
