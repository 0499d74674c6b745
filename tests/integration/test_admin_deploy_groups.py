"""Deploy groups, static and dynamic, in the CLI (``deploy group ...``) and the API
(``/api/deploy/groups``), on SQLite and MariaDB — and a dynamic group's criterion evaluated by
the bridge at preparation, without GLPI's search engine, with GLPI's cache kept up to date."""

from __future__ import annotations

import json

from sqlalchemy import insert, select, update

import schema
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.admin import collect_definitions, definitions
from fusion_bridge.services.scheduling.preparation import prepare_runs
from schema.plugin_deploy import deploygroups_dynamicdatas, deploygroups_staticdatas
from tests.helpers.admin_api import call
from tests.helpers.admin_verbs import cli, cli_error, cli_json
from tests.helpers.db import count, insert_row, rows
from tests.helpers.inventory_rows import add_agent


def _park(engine):
    """Computers: pc-01 (root entity), pc-02 (entity 5, under the root), srv-01, all with an
    agent; pc-03 in the trash and pc-04 without an agent."""
    with engine.begin() as conn:
        conn.execute(insert(schema.glpi_entities).values(id=5, name="branch", entities_id=0, level=2))
    ids = {}
    for name, entity, deleted, agent in (("pc-01", 0, 0, True), ("PC-02", 5, 0, True), ("srv-01", 0, 0, True),
                                         ("pc-03", 0, 1, True), ("pc-04", 0, 0, False)):
        ids[name] = insert_row(engine, schema.glpi_computers, name=name, entities_id=entity, is_deleted=deleted,
                               locations_id=7 if name == "pc-01" else 0)
        if agent:
            ids[f"agent {name}"] = add_agent(engine, name=name.lower(), computers_id=ids[name])
    return ids


def _cache(engine, group_id):
    with engine.connect() as conn:
        raw = conn.execute(select(deploygroups_dynamicdatas.c.computers_id_cache).where(
            deploygroups_dynamicdatas.c.plugin_fusioninventory_deploygroups_id == group_id)).scalar()
    return sorted(int(key) for key in json.loads(raw)) if raw not in (None, "[]") else []


def test_cli_static_groups(database_url, engine):
    park = _park(engine)
    group = cli_json(database_url, "deploy", "group", "create", "--name", "lab", "--static",
                     "--computer", str(park["pc-01"]), "--computer", str(park["srv-01"]))
    assert [c["name"] for c in group["computers"]] == ["pc-01", "srv-01"]
    assert [(r["itemtype"], r["items_id"]) for r in rows(engine, deploygroups_staticdatas)] == \
        [("Computer", park["pc-01"]), ("Computer", park["srv-01"])]
    added = cli(database_url, "deploy", "group", "add-computer", str(group["id"]), str(park["pc-01"]),
                str(park["PC-02"])).stdout
    assert "computers (3):" in added and count(engine, deploygroups_staticdatas) == 3
    assert "is in the trash" in cli_error(database_url, "deploy", "group", "add-computer", str(group["id"]),
                                          str(park["pc-03"]))
    removed = cli_json(database_url, "deploy", "group", "remove-computer", str(group["id"]), str(park["pc-01"]))
    assert [c["name"] for c in removed["computers"]] == ["PC-02", "srv-01"]
    renamed = cli_json(database_url, "deploy", "group", "update", str(group["id"]), "--name", "lab 2",
                       "--comment", "2nd floor")
    assert (renamed["name"], renamed["comment"]) == ("lab 2", "2nd floor")
    assert "only for a dynamic group" in cli_error(database_url, "deploy", "group", "update", str(group["id"]),
                                                   "--computer-name", "pc")
    listing = cli(database_url, "deploy", "group", "list").stdout.splitlines()
    assert listing[0].split() == ["ID", "NAME", "TYPE", "COMPUTERS", "CRITERION"]
    assert listing[1].split()[:5] == [str(group["id"]), "lab", "2", "static", "2"]
    assert "say --static or --dynamic" in cli(database_url, "deploy", "group", "create", "--name", "x",
                                              expect=2).output


def test_cli_dynamic_groups_are_evaluated_by_the_bridge(database_url, engine):
    park = _park(engine)
    group = cli_json(database_url, "deploy", "group", "create", "--name", "pcs", "--dynamic",
                     "--computer-name", "^pc-", "--with-agent")
    assert group["criterion"] == {"computer_name": "^pc-", "entity": None, "entity_recursive": False,
                                  "location": None, "with_agent": True}
    assert group["evaluated_by"] == "the bridge"
    assert [c["name"] for c in group["computers"]] == ["pc-01", "PC-02"]
    assert _cache(engine, group["id"]) == sorted([park["pc-01"], park["PC-02"]])
    [data] = rows(engine, deploygroups_dynamicdatas)
    assert data["fields_array"].startswith('a:2:{s:8:"criteria";a:2:{i:0;a:4:{s:4:"link";s:3:"AND";s:5:"field";s:1:"1"')
    only_root = cli_json(database_url, "deploy", "group", "update", str(group["id"]), "--entity", "0")
    assert [c["name"] for c in only_root["computers"]] == ["pc-01"]
    below = cli_json(database_url, "deploy", "group", "update", str(group["id"]), "--entity-recursive")
    assert [c["name"] for c in below["computers"]] == ["pc-01", "PC-02"]
    located = cli(database_url, "deploy", "group", "update", str(group["id"]), "--location", "7", "--entity", "").stdout
    assert "criterion: name contains '^pc-' and location 7 and has an agent" in located
    assert "computers (1): " in located
    assert "needs a criterion" in cli_error(database_url, "deploy", "group", "create", "--name", "all", "--dynamic")
    assert "only for a static group" in cli_error(database_url, "deploy", "group", "create", "--name", "x",
                                                  "--dynamic", "--with-agent", "--computer", str(park["pc-01"]))

    task = definitions.create_task(engine, "collect")
    collect = collect_definitions.create_collect(engine, "c", "file")
    action = definitions.add_action(engine, task["id"], "c", "collect", [("collect", collect["id"])],
                                    [("deploygroup", group["id"])])
    assert "is used by action(s)" in cli_error(database_url, "deploy", "group", "delete", str(group["id"]))
    definitions.remove_action(engine, action["id"])
    assert cli(database_url, "deploy", "group", "delete", str(group["id"])).stdout.strip() == \
        f"deploy group {group['id']} deleted"
    assert count(engine, deploygroups_dynamicdatas) == count(engine, schema.deploygroups) == 0


def test_preparation_evaluates_a_dynamic_group_without_glpi(database_url, engine):
    park = _park(engine)
    group = cli_json(database_url, "deploy", "group", "create", "--name", "pcs", "--dynamic",
                     "--computer-name", "^pc-", "--entity", "0", "--entity-recursive")
    task = definitions.create_task(engine, "collect", is_active=True)
    collect = collect_definitions.create_collect(engine, "c", "registry")
    definitions.add_action(engine, task["id"], "c", "collect", [("collect", collect["id"])],
                           [("deploygroup", group["id"])])
    assert prepare_runs(engine, local_now(), task_id=task["id"]).prepared == 2
    agents = {r["plugin_fusioninventory_agents_id"] for r in rows(engine, schema.taskjobstates)}
    assert agents == {park["agent pc-01"], park["agent PC-02"]}
    # A computer renamed into the group joins it at the next pass, and GLPI's cache follows.
    with engine.begin() as conn:
        conn.execute(update(schema.glpi_computers).where(schema.glpi_computers.c.id == park["srv-01"])
                     .values(name="pc-05"))
    assert prepare_runs(engine, local_now(), task_id=task["id"]).prepared == 1
    assert {r["plugin_fusioninventory_agents_id"] for r in rows(engine, schema.taskjobstates)} == \
        agents | {park["agent srv-01"]}
    assert _cache(engine, group["id"]) == sorted([park["pc-01"], park["PC-02"], park["srv-01"], park["pc-04"]])


def test_api_deploy_groups(api, engine):
    park = _park(engine)
    static = call(api, "POST", "/api/deploy/groups", {"name": "lab", "type": "static",
                                                      "computer": [park["pc-01"]]}, expect=201)
    assert static["computer_count"] == 1
    path = f"/api/deploy/groups/{static['id']}"
    assert call(api, "POST", f"{path}/computers", {"computers": [park["srv-01"]]})["computer_count"] == 2
    assert call(api, "DELETE", f"{path}/computers", {"computers": [park["pc-01"]]})["computer_count"] == 1
    assert call(api, "PATCH", path, {"computers": [park["pc-01"], park["PC-02"]]})["computer_count"] == 2
    dynamic = call(api, "POST", "/api/deploy/groups", {"name": "agents", "type": "dynamic", "with_agent": True,
                                                       "entity": 0}, expect=201)
    assert [c["name"] for c in dynamic["computers"]] == ["pc-01", "srv-01"]
    dynamic_path = f"/api/deploy/groups/{dynamic['id']}"
    assert call(api, "PATCH", dynamic_path, {"computer_name": "srv"})["computer_count"] == 1
    assert call(api, "PATCH", dynamic_path, {"type": "static"}, expect=400) == \
        {"error": "type cannot change: create another group"}
    assert call(api, "POST", f"{dynamic_path}/computers", {"computers": [1]}, expect=400)["error"].endswith(
        "is dynamic: its computers are what its criterion matches")
    assert call(api, "POST", "/api/deploy/groups", {"name": "x", "type": "smart"}, expect=400) == \
        {"error": "type must be static or dynamic, got 'smart'"}
    listed = call(api, "GET", "/api/deploy/groups")["groups"]
    assert [(g["id"], g["type"], g["computer_count"]) for g in listed] == \
        [(static["id"], "STATIC", 2), (dynamic["id"], "DYNAMIC", 1)]
    assert call(api, "GET", dynamic_path)["criterion"]["computer_name"] == "srv"
    assert call(api, "DELETE", path) == {"id": static["id"], "deleted": True, "static_computers": 2}
    assert call(api, "GET", path, expect=404) == {"error": f"deploy group {static['id']} does not exist"}


def test_a_group_saved_in_glpi_with_other_criteria_is_read_from_its_cache(api, engine):
    park = _park(engine)
    group = insert_row(engine, schema.deploygroups, name="glpi", type="DYNAMIC")
    insert_row(engine, deploygroups_dynamicdatas, plugin_fusioninventory_deploygroups_id=group,
               fields_array='a:2:{s:8:"criteria";a:1:{i:0;a:4:{s:4:"link";s:3:"AND";s:5:"field";s:2:"31";'
                            's:10:"searchtype";s:6:"equals";s:5:"value";s:1:"2";}}s:12:"metacriteria";N;}',
               computers_id_cache=json.dumps({str(park["srv-01"]): str(park["srv-01"])}))
    shown = call(api, "GET", f"/api/deploy/groups/{group}")
    assert shown["criterion"] is None and shown["evaluated_by"].startswith("GLPI's criteria")
    assert [c["id"] for c in shown["computers"]] == [park["srv-01"]]
