"""The JSON admin API under /api/, on SQLite and MariaDB: the token, the routes next to the agent
endpoint, and a create-list-change-delete round trip."""

from __future__ import annotations

import pytest

import schema
from schema.constants import ItemType
from tests.helpers.admin_api import ADMIN_TOKEN, AUTH, call
from tests.helpers.db import count, row
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_run

pytestmark = pytest.mark.both_flavours

# --- the token -------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [("GET", "/api/tasks"), ("POST", "/api/tasks"),
                                          ("GET", "/api/running"), ("GET", "/api/nowhere"),
                                          ("DELETE", "/api/tasks/1")])
def test_without_a_configured_token_every_call_is_refused(client, engine, method, path):
    answer = call(client, method, path, {"name": "t"}, expect=403)
    assert answer == {"error": "admin API disabled: set FUSION_BRIDGE_ADMIN_TOKEN"}
    assert count(engine, schema.tasks) == 0


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": ADMIN_TOKEN},
    {"Authorization": f"Basic {ADMIN_TOKEN}"},
    {"X-Fusion-Bridge-Token": ADMIN_TOKEN[:-1]}, {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
])
def test_a_missing_or_wrong_token_is_refused(api, engine, headers):
    response = api.post("/api/tasks", json={"name": "t"}, headers=headers)
    assert response.status_code == 401 and response.get_json() == {"error": "missing or wrong admin token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(engine, schema.tasks) == 0


@pytest.mark.parametrize("headers", [AUTH, {"Authorization": f"bearer  {ADMIN_TOKEN}"},
                                     {"X-Fusion-Bridge-Token": ADMIN_TOKEN}])
def test_the_right_token_is_accepted(api, headers):
    assert call(api, "GET", "/api/tasks", headers=headers) == {"tasks": []}


def test_api_routes_win_over_the_agent_endpoint(api):
    assert call(api, "GET", "/api/nowhere", expect=404) == {"error": "no admin API endpoint at /api/nowhere"}
    assert call(api, "GET", "/api/tasks/abc", expect=404)["error"].startswith("no admin API endpoint")
    refused = api.put("/api/tasks", headers=AUTH)
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, POST"
    assert refused.get_json() == {"error": "method PUT not allowed on /api/tasks"}
    assert api.get("/api/tasks").status_code == 401
    # The agent endpoint still answers everywhere else, also below /api/.
    answer = api.get("/plugins/fusioninventory/?action=getConfig&machineid=unknown")
    assert answer.status_code == 400 and answer.get_json() == {"error": "unknown or locked agent"}
    answer = api.get("/api/plugins/fusioninventory/?action=getConfig&machineid=unknown")
    assert answer.status_code == 400 and answer.get_json() == {"error": "unknown or locked agent"}


def test_bad_requests_are_json_errors(api, engine):
    assert call(api, "POST", "/api/tasks", expect=400) == \
        {"error": "expected a JSON object in the request body"}
    response = api.post("/api/tasks", data="{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]
    assert "unknown task field(s): color" in call(api, "POST", "/api/tasks", {"name": "t", "color": 1},
                                                  expect=400)["error"]
    assert call(api, "POST", "/api/tasks", {"comment": "no name"}, expect=400) == \
        {"error": "task name is required"}
    assert call(api, "GET", "/api/tasks/77", expect=404) == {"error": "task 77 does not exist"}
    assert call(api, "GET", "/api/history?run=x", expect=400) == {"error": "run id must be a number, got 'x'"}
    assert call(api, "GET", "/api/history?agent=5", expect=404) == {"error": "agent 5 does not exist"}
    big = api.post("/api/tasks", data=b"x" * (1024 * 1024 + 1), headers=AUTH)
    assert big.status_code == 413 and big.content_type == "application/json"
    assert count(engine, schema.tasks) == 0


# --- round trip ------------------------------------------------------------------------------


def test_crud_round_trip(api, engine):
    credential = call(api, "POST", "/api/credentials", {
        "name": "lan v3", "version": "3", "username": "snmp", "auth_protocol": "SHA",
        "auth_passphrase": "authpass1"}, expect=201)
    assert (credential["version"], credential["auth_protocol"], credential["auth_passphrase_set"]) == \
        ("3", "SHA", True)
    assert "authpass1" not in str(call(api, "GET", "/api/credentials"))
    assert call(api, "GET", f"/api/credentials/{credential['id']}")["name"] == "lan v3"

    iprange = call(api, "POST", "/api/ipranges", {
        "name": "LAN", "ip_start": "10.0.0.1", "ip_end": "10.0.0.254", "credentials": [credential["id"], 2]},
        expect=201)
    assert [c["rank"] for c in iprange["credentials"]] == [1, 2]
    assert call(api, "POST", "/api/ipranges", {"name": "bad", "ip_start": "10.0.0.9", "ip_end": "10.0.0.1"},
                expect=400)["error"] == "end 10.0.0.1 is before start 10.0.0.9"
    patched = call(api, "PATCH", f"/api/ipranges/{iprange['id']}", {"credentials": [2]})
    assert [c["id"] for c in patched["credentials"]] == [2]

    slot = call(api, "POST", "/api/timeslots", {"name": "office", "entries": [
        "1 08:00-18:00", {"day": 2, "begin": "08:00", "end": "18:00"}]}, expect=201)
    assert [e["text"] for e in slot["entries"]] == ["Mon 08:00-18:00", "Tue 08:00-18:00"]
    assert [s["id"] for s in call(api, "GET", "/api/timeslots")["timeslots"]] == [slot["id"]]

    response = api.post("/api/tasks", json={"name": "Discover", "timeslot_exec_id": slot["id"],
                                            "datetime_start": "2024-01-01 08:00"}, headers=AUTH)
    assert response.status_code == 201
    task = response.get_json()
    assert response.headers["Location"].endswith(f"/api/tasks/{task['id']}")
    assert (task["is_active"], task["timeslot_exec_id"], task["datetime_start"]) == \
        (False, slot["id"], "2024-01-01 08:00:00")

    agent = add_agent(engine, name="pc01")
    action = call(api, "POST", f"/api/tasks/{task['id']}/actions", {
        "name": "discover", "method": "networkdiscovery", "targets": [f"iprange:{iprange['id']}"],
        "actors": [{"itemtype": "PluginFusioninventoryAgent", "id": agent}]}, expect=201)
    assert row(engine, schema.taskjobs, action["id"])["targets"] == \
        f'[{{"{ItemType.IP_RANGE}":"{iprange["id"]}"}}]'
    assert call(api, "POST", f"/api/tasks/{task['id']}/actions", {
        "name": "x", "method": "networkdiscovery", "targets": ["printer:1"], "actors": [f"agent:{agent}"]},
        expect=400)["error"].startswith("Printer cannot be a target of a networkdiscovery action")
    actions = call(api, "GET", f"/api/tasks/{task['id']}/actions")["actions"]
    assert [a["id"] for a in actions] == [action["id"]]
    assert call(api, "GET", f"/api/actions/{action['id']}")["targets"][0]["name"] == "LAN"

    listed = call(api, "GET", "/api/tasks")["tasks"]
    assert [(t["id"], t["actions"]) for t in listed] == [(task["id"], 1)]
    assert call(api, "PATCH", f"/api/tasks/{task['id']}", {"comment": "nightly"})["comment"] == "nightly"
    assert call(api, "POST", f"/api/tasks/{task['id']}/enable")["is_active"] is True

    prepared = add_run(engine, job_id=action["id"], agent_id=agent, state=0, items_id=iprange["id"],
                       logs=[(7, "")])
    running = call(api, "GET", f"/api/running?task={task['id']}")["runs"]
    assert [(r["id"], r["state_word"], r["target"]["name"], r["agent"]["name"]) for r in running] == \
        [(prepared, "Prepared", "LAN", "pc01")]
    disabled = call(api, "POST", f"/api/tasks/{task['id']}/disable")
    assert (disabled["is_active"], disabled["cancelled_runs"]) == (False, 1)
    assert call(api, "GET", "/api/running")["runs"] == []
    [run] = call(api, "GET", f"/api/history?task={task['id']}&agent={agent}")["runs"]
    assert run["state_word"] == "Cancelled"
    assert [(line["word"], line["comment"]) for line in run["logs"]] == \
        [("Prepared", ""), ("Info", "Task has been disabled")]
    assert call(api, "GET", f"/api/history?run={prepared}")["runs"][0]["id"] == prepared
    shown = call(api, "GET", f"/api/tasks/{task['id']}")
    assert shown["runs"] == {"Cancelled": 1} and shown["actions"][0]["id"] == action["id"]

    assert call(api, "DELETE", f"/api/ipranges/{iprange['id']}", expect=400)["error"].startswith(
        f"IP range {iprange['id']} is a target")
    assert call(api, "DELETE", f"/api/timeslots/{slot['id']}", expect=400)["error"].startswith("timeslot")
    assert call(api, "DELETE", f"/api/actions/{action['id']}") == \
        {"id": action["id"], "deleted": True, "runs": 1, "logs": 2}
    assert call(api, "DELETE", f"/api/tasks/{task['id']}")["deleted"] is True
    assert call(api, "DELETE", f"/api/tasks/{task['id']}", expect=404) == \
        {"error": f"task {task['id']} does not exist"}
    assert call(api, "DELETE", f"/api/ipranges/{iprange['id']}")["deleted"] is True
    assert call(api, "DELETE", f"/api/timeslots/{slot['id']}")["deleted"] is True
    assert count(engine, schema.tasks) == count(engine, schema.taskjobs) == 0
    assert count(engine, schema.ipranges) == count(engine, schema.timeslots) == 0
