"""Task definitions and the views of runs, on SQLite and MariaDB: rows exactly as GLPI's UI with the
plugin stores them, validation, transactions, and the history in words."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import update

import schema
from fusion_bridge.services.admin import definitions
from fusion_bridge.services.views import history
from fusion_bridge.services.admin import network
from fusion_bridge.services.admin import timeslots
from fusion_bridge.services.admin.definitions import DefinitionError, NotFound
from schema.constants import ItemType
from schema.plugin_network import ipranges_configsecurities
from tests.helpers.admin_api import discovery_task
from tests.helpers.db import count, insert_row, row, rows
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_run

IPRANGE, AGENT = ItemType.IP_RANGE, ItemType.AGENT


# --- stored values ---------------------------------------------------------------------------


def test_task_row_is_the_one_glpi_writes(engine):
    task = definitions.create_task(engine, "Discover <LAN>", comment="nightly")
    stored = row(engine, schema.tasks, task["id"])
    assert stored["name"] == "Discover &lt;LAN&gt;" and stored["comment"] == "nightly"
    assert (stored["entities_id"], stored["is_active"], stored["reprepare_if_successful"]) == (0, 0, 1)
    zeros = ("plugin_fusioninventory_timeslots_prep_id", "plugin_fusioninventory_timeslots_exec_id",
             "wakeup_agent_counter", "wakeup_agent_time", "is_deploy_on_demand")
    assert [stored[column] for column in zeros] == [0] * 5
    assert stored["datetime_start"] is None and stored["datetime_end"] is None
    assert abs((stored["date_creation"] - datetime.now()).total_seconds()) < 60
    assert task["name"] == "Discover <LAN>" and task["is_active"] is False


def test_action_targets_and_actors_are_byte_equal_to_the_plugins(engine):
    insert_row(engine, schema.ipranges, id=1, name="a", entities_id=0, ip_start="10.0.0.1", ip_end="10.0.0.9")
    insert_row(engine, schema.ipranges, id=4, name="b", entities_id=0, ip_start="10.0.1.1", ip_end="10.0.1.9")
    add_agent(engine, 3, name="pc03")
    entity = insert_row(engine, schema.glpi_entities, id=2, name="Branch", entities_id=0,
                        completename="Root > Branch")
    task = definitions.create_task(engine, "Discover", entities_id=entity)
    action = definitions.add_action(engine, task["id"], "LAN", "netdiscovery",
                                    ["iprange:1", (IPRANGE, 4), "iprange:1"],
                                    [{"itemtype": "agent", "id": 3}])
    stored = row(engine, schema.taskjobs, action["id"])
    assert stored["targets"] == '[{"PluginFusioninventoryIPRange":"1"},{"PluginFusioninventoryIPRange":"4"}]'
    assert stored["actors"] == '[{"PluginFusioninventoryAgent":"3"}]'
    assert (stored["method"], stored["name"], stored["plugin_fusioninventory_tasks_id"]) == \
        ("networkdiscovery", "LAN", task["id"])
    assert stored["entities_id"] == entity and stored["date_creation"] is not None
    assert stored["rescheduled_taskjob_id"] == 0
    assert [t["name"] for t in action["targets"]] == ["a", "b"]
    assert action["actors"] == [{"itemtype": AGENT, "id": 3, "name": "pc03"}]


def test_deploy_action_takes_every_actor_kind(engine):
    package = insert_row(engine, schema.plugin_deploy.deploypackages, name="firefox", entities_id=0)
    computer = insert_row(engine, schema.glpi_computers, name="pc-12")
    group = insert_row(engine, schema.glpi_groups, name="staff")
    deploy_group = insert_row(engine, schema.plugin_deploy.deploygroups, name="lab", type="STATIC")
    agent = add_agent(engine, name="pc01")
    task = definitions.create_task(engine, "Deploy")
    action = definitions.add_action(engine, task["id"], "firefox", "deployinstall", [f"package:{package}"],
                                    [f"agent:{agent}", f"computer:{computer}", f"group:{group}",
                                     f"deploygroup:{deploy_group}"])
    assert row(engine, schema.taskjobs, action["id"])["actors"] == (
        f'[{{"PluginFusioninventoryAgent":"{agent}"}},{{"Computer":"{computer}"}},{{"Group":"{group}"}},'
        f'{{"PluginFusioninventoryDeployGroup":"{deploy_group}"}}]')
    assert [a["name"] for a in action["actors"]] == ["pc01", "pc-12", "staff", "lab"]


def test_rows_written_by_glpi_are_read_in_object_form(engine):
    _, action, range_id, agent_id = discovery_task(engine)
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobs).where(schema.taskjobs.c.id == action["id"]).values(
            targets=f'{{"1":{{"PluginFusioninventoryIPRange":"{range_id}$#$LAN"}}}}',
            actors=f'[{{"PluginFusioninventoryAgent":{agent_id}}}]'))
    shown = definitions.get_action(engine, action["id"])
    assert shown["targets"] == [{"itemtype": IPRANGE, "id": range_id, "name": "LAN"}]
    assert shown["actors"] == [{"itemtype": AGENT, "id": agent_id, "name": "pc01"}]


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("fields, message", [
    ({"name": "  "}, "task name is required"),
    ({"name": "x" * 256}, "too long"),
    ({"name": "t", "entities_id": 99}, "entity 99 does not exist"),
    ({"name": "t", "datetime_end": "2024-01-01"}, "end needs a start"),
    ({"name": "t", "datetime_start": "2024-02-01", "datetime_end": "2024-01-01"}, "end is before start"),
    ({"name": "t", "datetime_start": "yesterday"}, "must be a date"),
    ({"name": "t", "timeslot_exec_id": 42}, "timeslot 42 does not exist"),
    ({"name": "t", "is_active": "maybe"}, "true or false"),
])
def test_task_validation(engine, fields, message):
    fields = dict(fields)
    name = fields.pop("name")
    with pytest.raises(DefinitionError, match=message):
        definitions.create_task(engine, name, **fields)
    assert count(engine, schema.tasks) == 0


@pytest.mark.parametrize("method, targets, actors, message", [
    ("scan", ["iprange:{r}"], ["agent:{a}"], "unknown method"),
    ("inventory", ["iprange:{r}"], ["agent:{a}"], "not a task action"),
    ("networkdiscovery", ["computer:{c}"], ["agent:{a}"], "cannot be a target of a networkdiscovery"),
    ("networkdiscovery", ["iprange:999"], ["agent:{a}"],
     "target PluginFusioninventoryIPRange 999 does not exist"),
    ("networkdiscovery", ["iprange:{r}"], [], "needs at least one actor"),
    ("networkdiscovery", [], ["agent:{a}"], "needs at least one target"),
    ("networkdiscovery", ["iprange:{r}"], ["computer:{c}"],
     "cannot be an actor of a networkdiscovery action"),
    ("wakeonlan", ["computer:{t}"], ["agent:{a}"], "is in the trash"),
    ("networkdiscovery", ["iprange:{r}"], ["agent:999"],
     "actor PluginFusioninventoryAgent 999 does not exist"),
])
def test_action_validation_writes_nothing(engine, method, targets, actors, message):
    agent = add_agent(engine, name="pc01")
    computer = insert_row(engine, schema.glpi_computers, name="pc")
    trashed = insert_row(engine, schema.glpi_computers, name="old", is_deleted=1)
    iprange = network.create_iprange(engine, "LAN", "10.0.0.1", "10.0.0.2")["id"]
    ids = {"r": iprange, "a": agent, "c": computer, "t": trashed}
    task = definitions.create_task(engine, "t")
    with pytest.raises(DefinitionError, match=message):
        definitions.add_action(engine, task["id"], "a", method, [t.format(**ids) for t in targets],
                               [a.format(**ids) for a in actors])
    assert count(engine, schema.taskjobs) == 0


def test_unknown_ids_are_not_found(engine):
    for call in (lambda: definitions.get_task(engine, 999), lambda: definitions.get_action(engine, 999),
                 lambda: definitions.add_action(engine, 999, "a", "networkdiscovery", [], []),
                 lambda: definitions.disable_task(engine, 999), lambda: network.get_iprange(engine, 999),
                 lambda: network.get_credential(engine, 999), lambda: timeslots.get_timeslot(engine, 999),
                 lambda: history.history(engine, run_id=999),
                 lambda: history.running_now(engine, agent_id=999)):
        with pytest.raises(NotFound):
            call()


# --- IP ranges and credentials ---------------------------------------------------------------


def test_iprange_with_ranked_credentials(engine):
    v3 = network.create_credential(engine, "v3", "3", username="admin", auth_protocol="SHA",
                                   auth_passphrase="authpass1", priv_protocol="AES",
                                   priv_passphrase="privpass1")
    created = network.create_iprange(engine, "Office", "10.1.0.1", "10.1.0.254", credentials=[v3["id"], 2])
    stored = row(engine, schema.ipranges, created["id"])
    assert (stored["name"], stored["entities_id"], stored["ip_start"], stored["ip_end"]) == \
        ("Office", 0, "10.1.0.1", "10.1.0.254")
    link = ipranges_configsecurities.c
    links = rows(engine, ipranges_configsecurities, link.plugin_fusioninventory_ipranges_id == created["id"])
    assert [(r["plugin_fusioninventory_configsecurities_id"], r["rank"]) for r in links] == \
        [(v3["id"], 1), (2, 2)]
    assert [c["id"] for c in created["credentials"]] == [v3["id"], 2]
    updated = network.update_iprange(engine, created["id"], {"credentials": [1], "ip_end": "10.1.0.9"})
    assert [(c["id"], c["rank"]) for c in updated["credentials"]] == [(1, 1)]
    assert updated["ip_end"] == "10.1.0.9"


@pytest.mark.parametrize("start, end, credentials, message", [
    ("10.0.0.300", "10.0.0.1", (), "start must be an IPv4 address"),
    ("10.0.0.1", "::1", (), "end must be an IPv4 address"),
    ("10.0.0.9", "10.0.0.1", (), "end 10.0.0.1 is before start 10.0.0.9"),
    ("10.0.0.1", "10.0.0.9", (999,), "SNMP credential 999 does not exist"),
    ("10.0.0.1", "10.0.0.9", (1, 1), "given twice"),
])
def test_iprange_validation_writes_nothing(engine, start, end, credentials, message):
    with pytest.raises(DefinitionError, match=message):
        network.create_iprange(engine, "r", start, end, credentials=credentials)
    assert count(engine, schema.ipranges) == 0 and count(engine, ipranges_configsecurities) == 0


def test_iprange_in_use_is_not_deleted(engine):
    _, action, range_id, _ = discovery_task(engine)
    with pytest.raises(DefinitionError, match=f"target of action\\(s\\) {action['id']}"):
        network.delete_iprange(engine, range_id)
    definitions.remove_action(engine, action["id"])
    network.create_iprange(engine, "other", "10.0.0.1", "10.0.0.2", credentials=[1])
    assert network.delete_iprange(engine, range_id)["deleted"]
    assert [r["name"] for r in network.list_ipranges(engine)] == ["other"]


def test_credentials_are_stored_like_the_ui_stores_them(engine):
    v2 = network.create_credential(engine, "lan v2c", "2c", community="s3cret")
    v3 = network.create_credential(engine, "v3 md5 des", "3", username="u", auth_protocol="md5",
                                   auth_passphrase="12345678", priv_protocol="des",
                                   priv_passphrase="87654321")
    noauth = network.create_credential(engine, "v3 noauth", "v3", username="guest")
    stored = [row(engine, schema.configsecurities, c["id"]) for c in (v2, v3, noauth)]
    columns = ("snmpversion", "community", "username", "authentication", "auth_passphrase", "encryption",
               "priv_passphrase", "is_deleted")
    assert [tuple(s[c] for c in columns) for s in stored] == [
        ("2", "s3cret", "", "0", "", "0", "", 0),
        ("3", "", "u", "1", "12345678", "1", "87654321", 0),
        ("3", "", "guest", "0", "", "0", "", 0),
    ]
    assert (v3["version"], v3["auth_protocol"], v3["priv_protocol"], v3["auth_passphrase_set"]) == \
        ("3", "MD5", "DES", True)
    assert "12345678" not in repr(network.list_credentials(engine))
    assert [c["name"] for c in network.list_credentials(engine)][:2] == \
        ["Public community v1", "Public community v2c"]


@pytest.mark.parametrize("fields, message", [
    ({"name": "x" * 65, "version": "1", "community": "public"}, "at most 64"),
    ({"name": "c", "version": "4", "community": "public"}, "must be 1, 2c or 3"),
    ({"name": "c", "version": "2c"}, "community is required"),
    ({"name": "c", "version": "2c", "community": "p", "username": "u"}, "only for SNMP version 3"),
    ({"name": "c", "version": "3", "community": "public", "username": "u"},
     "only for SNMP versions 1 and 2c"),
    ({"name": "c", "version": "3"}, "username is required"),
    ({"name": "c", "version": "3", "username": "u", "auth_protocol": "SHA", "auth_passphrase": "short"},
     "at least 8"),
    ({"name": "c", "version": "3", "username": "u", "auth_protocol": "SHA256", "auth_passphrase": "12345678"},
     "unknown auth protocol"),
    ({"name": "c", "version": "3", "username": "u", "priv_protocol": "AES", "priv_passphrase": "12345678"},
     "needs an auth protocol"),
    ({"name": "c", "version": "3", "username": "u", "auth_protocol": "SHA", "auth_passphrase": "12345678",
      "priv_protocol": "3DES", "priv_passphrase": "12345678"}, "Triple-DES"),
    ({"name": "c", "version": "3", "username": "u", "auth_passphrase": "12345678"},
     "without an auth protocol"),
])
def test_credential_validation_writes_nothing(engine, fields, message):
    fields = dict(fields)
    with pytest.raises(DefinitionError, match=message):
        network.create_credential(engine, fields.pop("name"), fields.pop("version"), **fields)
    assert count(engine, schema.configsecurities) == 2


# --- timeslots -------------------------------------------------------------------------------


def test_timeslot_entries(engine):
    slot = timeslots.create_timeslot(engine, "office", ["1 08:00-18:00", "sun 00:00-24:00", (3, 3600, 7200)],
                                     entities_id=0, is_recursive=True)
    stored = rows(engine, schema.timeslotentries,
                  schema.timeslotentries.c.plugin_fusioninventory_timeslots_id == slot["id"])
    assert [(e["day"], e["begin"], e["end"], e["is_recursive"], e["entities_id"]) for e in stored] == \
        [(1, 28800, 64800, 1, 0), (3, 3600, 7200, 1, 0), (7, 0, 86400, 1, 0)]
    assert [e["text"] for e in slot["entries"]] == ["Mon 08:00-18:00", "Wed 01:00-02:00", "Sun 00:00-24:00"]
    task = definitions.create_task(engine, "t", timeslot_prep_id=slot["id"])
    with pytest.raises(DefinitionError, match=f"used by task\\(s\\) {task['id']}"):
        timeslots.delete_timeslot(engine, slot["id"])
    definitions.delete_task(engine, task["id"])
    timeslots.delete_timeslot(engine, slot["id"])
    assert count(engine, schema.timeslotentries) == 0


@pytest.mark.parametrize("entries, message", [
    (["8 08:00-18:00"], "day must be 1"),
    (["1 18:00-08:00"], "end must be after"),
    (["1 08:00-25:00"], "between 00:00 and 24:00"),
    (["1 08:61-09:00"], "not a time of day"),
    (["monday"], "written like"),
    (["1 08:00-12:00", "1 11:00-13:00"], "overlap"),
    ([], "at least one entry"),
])
def test_timeslot_validation_writes_nothing(engine, entries, message):
    with pytest.raises(DefinitionError, match=message):
        timeslots.create_timeslot(engine, "slot", entries)
    assert count(engine, schema.timeslots) == 0


# --- enable, disable, update, delete ---------------------------------------------------------


def test_disable_cancels_only_prepared_runs_with_the_plugins_log(engine):
    task, action, range_id, agent = discovery_task(engine)
    other_task, other_action, _, _ = discovery_task(engine, agent)
    prepared = add_run(engine, job_id=action["id"], agent_id=agent, state=0, items_id=range_id,
                       logs=[(7, "")])
    started = add_run(engine, job_id=action["id"], agent_id=agent, state=1, items_id=range_id,
                      logs=[(7, ""), (1, "")])
    finished = add_run(engine, job_id=action["id"], agent_id=agent, state=3, items_id=range_id)
    elsewhere = add_run(engine, job_id=other_action["id"], agent_id=agent, state=0, items_id=range_id)
    assert definitions.enable_task(engine, task["id"])["is_active"] is True
    assert row(engine, schema.tasks, task["id"])["is_active"] == 1
    disabled = definitions.disable_task(engine, task["id"])
    assert disabled["is_active"] is False and disabled["cancelled_runs"] == 1
    assert row(engine, schema.tasks, task["id"])["is_active"] == 0
    states = {run_id: row(engine, schema.taskjobstates, run_id)["state"]
              for run_id in (prepared, started, finished, elsewhere)}
    assert states == {prepared: 5, started: 1, finished: 3, elsewhere: 0}
    logs = rows(engine, schema.taskjoblogs,
                schema.taskjoblogs.c.plugin_fusioninventory_taskjobstates_id == prepared)
    assert [(r["state"], r["comment"], r["itemtype"], r["items_id"]) for r in logs] == \
        [(7, "", AGENT, 0), (5, "Task has been disabled", AGENT, 0)]
    assert abs((logs[-1]["date"] - datetime.now()).total_seconds()) < 60
    assert count(engine, schema.taskjoblogs,
                 schema.taskjoblogs.c.plugin_fusioninventory_taskjobstates_id == started) == 2
    assert other_task["id"] != task["id"]


def test_update_task_and_action(engine):
    task, action, range_id, agent = discovery_task(engine)
    slot = timeslots.create_timeslot(engine, "nights", ["1 22:00-24:00"])
    updated = definitions.update_task(engine, task["id"], {
        "name": "Nightly", "datetime_start": "2024-06-01T22:00", "timeslot_exec_id": slot["id"],
        "reprepare_if_successful": False})
    stored = row(engine, schema.tasks, task["id"])
    assert (stored["name"], stored["datetime_start"], stored["plugin_fusioninventory_timeslots_exec_id"],
            stored["reprepare_if_successful"]) == ("Nightly", datetime(2024, 6, 1, 22, 0), slot["id"], 0)
    assert updated["datetime_start"] == "2024-06-01 22:00:00"
    with pytest.raises(DefinitionError, match="unknown task field"):
        definitions.update_task(engine, task["id"], {"wakeup_agent_time": 5})
    second = network.create_iprange(engine, "DMZ", "172.16.0.1", "172.16.0.20")
    changed = definitions.update_action(engine, action["id"], {"targets": [f"iprange:{second['id']}"],
                                                               "method": "networkinventory"})
    assert row(engine, schema.taskjobs, action["id"])["targets"] == \
        f'[{{"PluginFusioninventoryIPRange":"{second["id"]}"}}]'
    assert changed["method"] == "networkinventory"
    with pytest.raises(DefinitionError, match="cannot be a target of a wakeonlan"):
        definitions.update_action(engine, action["id"], {"method": "wakeonlan"})


def test_delete_task_and_remove_action_take_their_runs_and_logs(engine):
    task, action, range_id, agent = discovery_task(engine)
    second = definitions.add_action(engine, task["id"], "again", "networkdiscovery", [f"iprange:{range_id}"],
                                    [f"agent:{agent}"])
    _, kept_action, _, _ = discovery_task(engine, agent)
    add_run(engine, job_id=action["id"], agent_id=agent, state=3, logs=[(7, ""), (1, ""), (2, "done")])
    add_run(engine, job_id=second["id"], agent_id=agent, state=0, logs=[(7, "")])
    kept = add_run(engine, job_id=kept_action["id"], agent_id=agent, state=0, logs=[(7, "")])
    removed = definitions.remove_action(engine, second["id"])
    assert (removed["runs"], removed["logs"]) == (1, 1)
    deleted = definitions.delete_task(engine, task["id"])
    assert (deleted["actions"], deleted["runs"], deleted["logs"]) == (1, 1, 3)
    assert count(engine, schema.tasks, schema.tasks.c.id == task["id"]) == 0
    assert [r["id"] for r in rows(engine, schema.taskjobstates)] == [kept]
    assert count(engine, schema.taskjoblogs) == 1


def test_list_and_show(engine):
    task, action, _, agent = discovery_task(engine)
    add_run(engine, job_id=action["id"], agent_id=agent, state=3)
    add_run(engine, job_id=action["id"], agent_id=agent, state=4)
    add_run(engine, job_id=action["id"], agent_id=agent, state=0)
    definitions.create_task(engine, "empty")
    assert [(t["name"], t["actions"]) for t in definitions.list_tasks(engine)] == \
        [("Discover", 1), ("empty", 0)]
    shown = definitions.get_task(engine, task["id"])
    assert [a["id"] for a in shown["actions"]] == [action["id"]]
    assert shown["runs"] == {"Prepared": 1, "Ok": 1, "Error": 1}
    assert [a["id"] for a in definitions.list_actions(engine, task["id"])] == [action["id"]]


# --- what is running, history ----------------------------------------------------------------


def test_running_now_in_words_with_names_and_last_log(engine):
    task, action, range_id, agent = discovery_task(engine)
    switch = insert_row(engine, schema.glpi_networkequipments, name="core-sw")
    inventory = definitions.add_action(engine, task["id"], "snmp", "networkinventory",
                                       [f"networkequipment:{switch}"], [f"agent:{agent}"])
    prepared = add_run(engine, job_id=action["id"], agent_id=agent, state=0, items_id=range_id,
                       logs=[(7, "")])
    started = add_run(engine, job_id=action["id"], agent_id=agent, state=1, items_id=range_id,
                      logs=[(7, ""), (1, "")])
    running = add_run(engine, job_id=inventory["id"], agent_id=agent, state=2, itemtype="NetworkEquipment",
                      items_id=switch, logs=[(7, ""), (1, ""), (6, "==devicesqueried==")])
    for state in (3, 4, 5, 6):
        add_run(engine, job_id=action["id"], agent_id=agent, state=state, items_id=range_id)
    found = history.running_now(engine)
    assert [(r["id"], r["state"], r["state_word"]) for r in found] == \
        [(prepared, 0, "Prepared"), (started, 1, "Started"), (running, 2, "Running")]
    last = found[2]
    assert last["task"] == {"id": task["id"], "name": "Discover"}
    assert last["action"] == {"id": inventory["id"], "name": "snmp", "method": "networkinventory"}
    assert last["target"] == {"itemtype": "NetworkEquipment", "id": switch, "name": "core-sw"}
    assert last["agent"] == {"id": agent, "name": "pc01"}
    assert (last["last_log"]["word"], last["last_log"]["comment"], last["last_log"]["date"]) == \
        ("Running", "devices queried", "2024-03-05 10:02:00")
    assert last["last_log"]["stored_comment"] == "==devicesqueried=="
    assert found[0]["target"]["name"] == "LAN" and found[0]["last_log"]["word"] == "Prepared"
    assert [r["id"] for r in history.running_now(engine, agent_id=agent, limit=1)] == [prepared]
    assert history.running_now(engine, task_id=definitions.create_task(engine, "idle")["id"]) == []


def test_history_of_a_task_an_agent_and_a_run(engine):
    task, action, range_id, agent = discovery_task(engine)
    other_agent = add_agent(engine, name="pc02")
    ok = add_run(engine, job_id=action["id"], agent_id=agent, state=3, items_id=range_id,
                 logs=[(7, ""), (1, ""), (6, "==devicesfound==: 3"), (2, "Processed:3 Created:1 Updated:2")])
    failed = add_run(engine, job_id=action["id"], agent_id=other_agent, state=4, items_id=range_id,
                     logs=[(7, ""), (4, "crash")])
    cancelled = add_run(engine, job_id=action["id"], agent_id=agent, state=5, items_id=range_id,
                        logs=[(7, ""), (5, "gone")])
    by_task = history.history(engine, task_id=task["id"])
    assert [(r["id"], r["state_word"]) for r in by_task] == \
        [(cancelled, "Cancelled"), (failed, "Error"), (ok, "Ok")]
    assert [(line["word"], line["comment"]) for line in by_task[2]["logs"]] == [
        ("Prepared", ""), ("Started", ""), ("Running", "devices found: 3"),
        ("Ok", "Processed:3 Created:1 Updated:2")]
    assert [line["date"] for line in by_task[2]["logs"]][:2] == ["2024-03-05 10:00:00", "2024-03-05 10:01:00"]
    assert [r["id"] for r in history.history(engine, agent_id=other_agent)] == [failed]
    assert [r["id"] for r in history.history(engine, task_id=task["id"], agent_id=agent)] == [cancelled, ok]
    [one] = history.history(engine, run_id=ok)
    assert one["agent"]["name"] == "pc01" and one["target"]["name"] == "LAN" and not one["logs_truncated"]
    assert [r["id"] for r in history.history(engine, action_id=action["id"], limit=2)] == [cancelled, failed]
    cut = history.history(engine, task_id=task["id"], log_limit=3)
    assert [len(r["logs"]) for r in cut] == [2, 1, 0]
    assert [r["logs_truncated"] for r in cut] == [False, True, True]


def test_names_of_missing_targets_are_none(engine):
    _, action, _, agent = discovery_task(engine)
    add_run(engine, job_id=action["id"], agent_id=agent, state=0, itemtype=ItemType.IP_RANGE, items_id=999)
    [run] = history.running_now(engine)
    assert run["target"] == {"itemtype": IPRANGE, "id": 999, "name": None} and run["last_log"] is None
