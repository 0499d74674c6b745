"""``agent list|show|lock|unlock|delete`` in the CLI and under ``/api/agents``, on SQLite and
MariaDB: what is shown, the filters, what a lock does to the agent's REST calls, and what a
delete removes and keeps."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, update

import schema
from fusion_bridge.domain.text import local_now
from schema.constants import Module
from tests.helpers.admin_api import call, discovery_task
from tests.helpers.admin_verbs import cli, cli_error, cli_json
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.db import count, insert_row, row, rows
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_run


def _set_exceptions(engine, module, raw):
    with engine.begin() as conn:
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == module)
                     .values(exceptions=raw))


def _fleet(engine):
    """Three agents: one seen now with a computer, an address and runs; one seen ten days ago;
    one never seen. NETWORKDISCOVERY is off but allowed to the first (an exception); DEPLOY is
    on but refused to the second."""
    now = local_now()
    computer = insert_row(engine, schema.glpi_computers, name="pc-07")
    busy = add_agent(engine, name="pc07", computers_id=computer, last_contact=now,
                     version='{"INVENTORY":"v2.6-3","NETWORKDISCOVERY":"4.2"}', useragent="FusionInventory-Agent_v2.6")
    old = add_agent(engine, name="old", last_contact=now - timedelta(days=10))
    never = add_agent(engine, name="never")
    _set_exceptions(engine, Module.NETWORK_DISCOVERY, f'["{busy}"]')
    _set_exceptions(engine, Module.DEPLOY, f'["{old}"]')
    with engine.begin() as conn:
        conn.execute(insert(schema.bridge_agentaddresses).values(
            plugin_fusioninventory_agents_id=busy, address="192.0.2.7", port=62354, date=now))
        conn.execute(insert(schema.bridge_wakeups).values(
            plugin_fusioninventory_agents_id=busy, date=now, address="192.0.2.7", outcome="woken"))
        conn.execute(insert(schema.bridge_inventories).values(
            plugin_fusioninventory_agents_id=busy, device_id="pc07", date=now, query="INVENTORY", size=1,
            content=b"x"))
        conn.execute(insert(schema.bridge_resttokens).values(plugin_fusioninventory_agents_id=busy, token="t",
                                                             date=now))
    _task, action, range_id, _agent = discovery_task(engine, busy)
    prepared = add_run(engine, job_id=action["id"], agent_id=busy, state=0, items_id=range_id, logs=[(7, "")])
    done = add_run(engine, job_id=action["id"], agent_id=busy, state=3, items_id=range_id,
                   logs=[(7, ""), (2, "")], uniqid="done")
    return {"busy": busy, "old": old, "never": never, "computer": computer, "prepared": prepared, "done": done}


def test_cli_list_show_and_filters(database_url, engine):
    fleet = _fleet(engine)
    lines = cli(database_url, "agent", "list").stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "LAST", "CONTACT", "ADDRESS", "COMPUTER", "LOCKED", "RUNS"]
    busy_line = next(line for line in lines if line.startswith(f"{fleet['busy']} "))
    assert "192.0.2.7:62354" in busy_line and f"{fleet['computer']} pc-07" in busy_line
    assert "Prepared 1, Ok 1" in busy_line
    assert "never" in next(line for line in lines if line.startswith(f"{fleet['never']} "))

    listed = cli_json(database_url, "agent", "list")
    assert [a["id"] for a in listed] == [fleet["busy"], fleet["old"], fleet["never"]]
    busy = listed[0]
    assert busy["address"]["address"] == "192.0.2.7" and busy["computer"] == {"id": fleet["computer"], "name": "pc-07"}
    assert busy["version"] == {"INVENTORY": "v2.6-3", "NETWORKDISCOVERY": "4.2"}
    assert busy["runs"] == {"Prepared": 1, "Ok": 1} and busy["locked"] is False
    assert "NETWORKDISCOVERY" in busy["modules"] and "DEPLOY" in busy["modules"]
    assert "DEPLOY" not in listed[1]["modules"] and "NETWORKDISCOVERY" not in listed[1]["modules"]

    assert [a["id"] for a in cli_json(database_url, "agent", "list", "--seen-since", "1d")] == [fleet["busy"]]
    since = (local_now() - timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    assert [a["id"] for a in cli_json(database_url, "agent", "list", "--seen-since", since)] == \
        [fleet["busy"], fleet["old"]]
    assert [a["id"] for a in cli_json(database_url, "agent", "list", "--module", "networkdiscovery")] == \
        [fleet["busy"]]
    assert [a["id"] for a in cli_json(database_url, "agent", "list", "--module", "deployinstall")] == \
        [fleet["busy"], fleet["never"]]
    assert "unknown module 'teleport'" in cli_error(database_url, "agent", "list", "--module", "teleport")
    assert "seen_since must be a date" in cli_error(database_url, "agent", "list", "--seen-since", "soon")

    shown = cli(database_url, "agent", "show", str(fleet["busy"])).stdout
    assert "DEVICEID: pc07-2024-03-05-10-22-33" in shown and "from 192.0.2.7:62354" in shown
    assert "modules allowed: " in shown and "NETWORKDISCOVERY" in shown and "runs: Prepared 1, Ok 1" in shown
    by_device = cli_json(database_url, "agent", "show", "pc07-2024-03-05-10-22-33")
    assert by_device["id"] == fleet["busy"]
    assert cli_error(database_url, "agent", "show", "999") == "Error: agent 999 does not exist"
    assert cli_error(database_url, "agent", "show", "nobody-2020") == "Error: no agent with DEVICEID 'nobody-2020'"


def test_cli_lock_refuses_rest_calls_and_unlock_gives_them_back(database_url, engine, client):
    agent = add_agent(engine, name="pc09", last_contact=local_now())
    device = "pc09-2024-03-05-10-22-33"
    url = f"/plugins/fusioninventory/?action=getConfig&machineid={device}"
    assert client.get(url).status_code == 200
    assert cli(database_url, "agent", "lock", str(agent)).stdout.strip() == f"agent {agent} locked: pc09"
    assert row(engine, schema.agents, agent)["lock"] == 1
    assert client.get(url).status_code == 400
    assert cli_json(database_url, "agent", "show", str(agent))["locked"] is True
    assert cli(database_url, "agent", "unlock", device).stdout.strip() == f"agent {agent} unlocked: pc09"
    assert row(engine, schema.agents, agent)["lock"] == 0
    assert client.get(url).status_code == 200


def _assert_deleted(engine, fleet):
    busy = fleet["busy"]
    assert count(engine, schema.agents, schema.agents.c.id == busy) == 0
    for table in (schema.bridge_agentaddresses, schema.bridge_wakeups, schema.bridge_inventories,
                  schema.bridge_resttokens):
        assert count(engine, table) == 0, table.name
    # The unfinished run is cancelled with its log line; the history stays.
    assert row(engine, schema.taskjobstates, fleet["prepared"])["state"] == 5
    assert row(engine, schema.taskjobstates, fleet["done"])["state"] == 3
    logs = rows(engine, schema.taskjoblogs,
                schema.taskjoblogs.c.plugin_fusioninventory_taskjobstates_id == fleet["prepared"])
    assert [(line["state"], line["comment"]) for line in logs] == [(7, ""), (5, "Agent deleted")]
    modules = {r["modulename"]: r["exceptions"] for r in rows(engine, schema.agentmodules)}
    assert modules[Module.NETWORK_DISCOVERY] == "[]" and modules[Module.DEPLOY] == f'["{fleet["old"]}"]'
    # Its computer stays.
    assert count(engine, schema.glpi_computers) == 1


def test_cli_delete(database_url, engine):
    fleet = _fleet(engine)
    refused = cli(database_url, "agent", "delete", str(fleet["busy"]), input="n\n", expect=1)
    assert "Aborted" in refused.output and count(engine, schema.agents) == 3
    done = cli(database_url, "agent", "delete", str(fleet["busy"]), "--yes").stdout.strip()
    assert done == f"agent {fleet['busy']} deleted; 1 unfinished run cancelled, 2 runs kept in the history"
    _assert_deleted(engine, fleet)
    assert cli_error(database_url, "agent", "delete", str(fleet["busy"]), "--yes") == \
        f"Error: agent {fleet['busy']} does not exist"


def test_api_agents(api, engine):
    fleet = _fleet(engine)
    listed = call(api, "GET", "/api/agents")["agents"]
    assert [a["id"] for a in listed] == [fleet["busy"], fleet["old"], fleet["never"]]
    assert [a["id"] for a in call(api, "GET", "/api/agents?seen_since=2d")["agents"]] == [fleet["busy"]]
    assert [a["id"] for a in call(api, "GET", "/api/agents?module=DEPLOY&limit=1")["agents"]] == [fleet["busy"]]
    assert call(api, "GET", "/api/agents?module=x", expect=400)["error"].startswith("unknown module 'x'")
    shown = call(api, "GET", f"/api/agents/{fleet['busy']}")
    assert shown["runs"] == {"Prepared": 1, "Ok": 1} and shown["address"]["port"] == 62354
    assert call(api, "GET", "/api/agents/pc07-2024-03-05-10-22-33")["id"] == fleet["busy"]
    assert call(api, "GET", "/api/agents/777", expect=404) == {"error": "agent 777 does not exist"}

    assert call(api, "POST", f"/api/agents/{fleet['old']}/lock")["locked"] is True
    assert row(engine, schema.agents, fleet["old"])["lock"] == 1
    assert call(api, "POST", f"/api/agents/{fleet['old']}/unlock")["locked"] is False
    assert row(engine, schema.agents, fleet["old"])["lock"] == 0

    deleted = call(api, "DELETE", f"/api/agents/{fleet['busy']}")
    assert deleted == {"id": fleet["busy"], "deleted": True, "cancelled_runs": 1, "runs_kept": 2,
                       "exceptions_removed_from": [Module.NETWORK_DISCOVERY]}
    _assert_deleted(engine, fleet)
    assert call(api, "DELETE", f"/api/agents/{fleet['busy']}", expect=404)["error"] == \
        f"agent {fleet['busy']} does not exist"


def test_an_agent_that_calls_again_comes_back_as_a_new_one(api, engine):
    device = "pc11-2024-03-05-10-22-33"
    assert api.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS).status_code == 200
    [first] = call(api, "GET", "/api/agents")["agents"]
    call(api, "DELETE", f"/api/agents/{device}")
    assert call(api, "GET", "/api/agents")["agents"] == []
    assert api.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS).status_code == 200
    [again] = call(api, "GET", "/api/agents")["agents"]
    assert first["device_id"] == again["device_id"] == device and again["locked"] is False
