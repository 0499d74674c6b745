"""The operator view on SQLite and MariaDB: per execution, each run or slice with
its agent, state, attempt, progress and wake-ups, through the service, the CLI and the API;
and ``addresses_done`` kept up to date from the agent's NETDISCOVERY messages."""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select

import schema
from fusion_bridge.services.views import operator_view
from fusion_bridge.services.admin.base import DefinitionError, NotFound
from tests.helpers.admin_api import AUTH
from tests.helpers.agent_requests import ZLIB_HEADERS, message_xml
from tests.helpers.cli import run
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_iprange, add_job, add_log, add_run, add_task

pytestmark = pytest.mark.both_flavours

T0 = datetime(2026, 11, 25, 10, 0, 0)
RANGE = '[{"PluginFusioninventoryIPRange":"1"}]'
ACTORS = '[{"PluginFusioninventoryAgent":"7"},{"PluginFusioninventoryAgent":"8"}]'
DEVICE_7, DEVICE_8 = "scanner-a-2026-11-25-10-00-00", "scanner-b-2026-11-25-10-00-00"
IPRANGE = "PluginFusioninventoryIPRange"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def add_bridge_run(conn, run_id, execution, *, first=None, count=None, done=0, attempt=0, previous=0):
    conn.execute(insert(schema.bridge_runs).values(
        plugin_fusioninventory_taskjobstates_id=run_id, plugin_fusioninventory_tasks_id=1, execution_id=execution,
        attempt=attempt, previous_run=previous, slice_first=first, slice_count=count, addresses_done=done))


def add_wakeup(conn, wakeup_id, agent_id, run_id, minutes, outcome, detail):
    conn.execute(insert(schema.bridge_wakeups).values(
        id=wakeup_id, plugin_fusioninventory_agents_id=agent_id, plugin_fusioninventory_taskjobstates_id=run_id,
        date=at(minutes), address="10.0.0.%d" % agent_id, outcome=outcome, detail=detail))


@pytest.fixture
def executions(engine):
    """Task 1 (push, execution 2) discovering 192.0.2.1-254: a plain 9.5 run (execution 0), three
    slices in execution 1 (one failed, moved to the other agent) and a whole-range run in 2."""
    with engine.begin() as conn:
        add_agent(conn, 7, DEVICE_7)
        add_agent(conn, 8, DEVICE_8)
        for agent_id in (7, 8):
            conn.execute(insert(schema.bridge_agentaddresses).values(
                plugin_fusioninventory_agents_id=agent_id, address=f"10.0.0.{agent_id}", date=T0))
        add_iprange(conn, "192.0.2.1", "192.0.2.254", range_id=1)
        add_task(conn, 1)
        add_job(conn, 1, RANGE, ACTORS, "networkdiscovery", job_id=1)
        conn.execute(insert(schema.bridge_tasks).values(plugin_fusioninventory_tasks_id=1, communication="push",
                                                        execution_id=2, execution_start=at(30)))
        add_run(conn, 5, 1, 8, IPRANGE, 1, state=3)
        add_log(conn, 5, 7, at(-60))
        add_log(conn, 5, 2, at(-50), "Processed:3 Created:1  Updated:2")
        add_run(conn, 11, 1, 7, IPRANGE, 1, state=3)
        add_bridge_run(conn, 11, 1, first=0, count=127, done=127)
        add_log(conn, 11, 7, at(0))
        add_log(conn, 11, 2, at(10), "Processed:0 Created:0  Updated:0")
        add_run(conn, 12, 1, 8, IPRANGE, 1, state=4)
        add_bridge_run(conn, 12, 1, first=127, count=127, done=10)
        add_log(conn, 12, 7, at(0))
        add_log(conn, 12, 4, at(5), "agent did not call in after 3 wake-ups")
        add_run(conn, 13, 1, 7, IPRANGE, 1, state=2)
        add_bridge_run(conn, 13, 1, first=127, count=127, done=50, attempt=1, previous=12)
        add_log(conn, 13, 7, at(6))
        add_log(conn, 13, 6, at(7), "1 ==devicesfound==")
        add_run(conn, 21, 1, 7, IPRANGE, 1, state=0)
        add_bridge_run(conn, 21, 2)
        add_log(conn, 21, 7, at(30))
        add_wakeup(conn, 1, 7, 11, 1, "woken", "woken at 10.0.0.7")
        add_wakeup(conn, 2, 8, 12, 1, "unreachable", "connection refused")
        add_wakeup(conn, 3, 8, 12, 3, "unreachable", "timed out after 2 s")
        add_wakeup(conn, 4, 7, 13, 6, "busy", "the agent is running a task")
        add_wakeup(conn, 5, 7, None, 20, "woken", "woken by hand")
        add_wakeup(conn, 6, 7, 21, 31, "woken", "woken at 10.0.0.7")


def by_id(view):
    return {run["id"]: run for run in view["runs"]}


def test_one_execution_lists_each_slice_with_agent_progress_and_wakeups(engine, executions):
    view = operator_view.task_executions(engine, 1, 1)
    assert view["task"] == {"id": 1, "name": "task 1", "communication": "push", "current_execution": 2,
                            "execution_start": "2026-11-25 10:30:00"}
    assert view["executions"] == [
        {"execution": 0, "runs": 1, "states": {"Ok": 1}, "addresses": None},
        {"execution": 1, "runs": 3, "states": {"Running": 1, "Ok": 1, "Error": 1},
         "addresses": {"covered": 177, "total": 254}},
        {"execution": 2, "runs": 1, "states": {"Prepared": 1}, "addresses": None},
    ]
    assert view["execution"] == 1 and view["truncated"] is False
    runs = by_id(view)
    assert list(runs) == [11, 12, 13]
    moved = runs[13]
    assert moved["slice"] == {"first": 127, "count": 127, "ip_start": "192.0.2.128", "ip_end": "192.0.2.254"}
    assert moved["agent"] == {"id": 7, "name": DEVICE_7, "address": "10.0.0.7", "port": None}
    assert moved["target"] == {"itemtype": IPRANGE, "id": 1, "name": "range 1"}
    assert moved["action"] == {"id": 1, "name": "job 1", "method": "networkdiscovery"}
    assert (moved["state_word"], moved["attempt"], moved["previous_run"]) == ("Running", 1, 12)
    assert moved["progress"] == {"done": 50, "total": 127}
    assert moved["last_log"] == {"date": "2026-11-25 10:07:00", "state": 6, "word": "Running",
                                 "comment": "1 ==devicesfound=="}
    assert runs[11]["slice"]["ip_start"] == "192.0.2.1" and runs[11]["slice"]["ip_end"] == "192.0.2.127"
    assert runs[12]["progress"] == {"done": 10, "total": 127}
    # A run's wake-ups: those naming it, and its agent's while the run was not over.
    assert [w["id"] for w in runs[11]["wakeups"]] == [1, 4]
    assert [w["id"] for w in runs[12]["wakeups"]] == [2, 3]
    assert [w["id"] for w in runs[13]["wakeups"]] == [4, 5, 6]  # still running when 6 woke its agent
    assert runs[12]["wakeups"][1] == {"id": 3, "date": "2026-11-25 10:03:00", "outcome": "unreachable",
                                      "detail": "timed out after 2 s", "address": "10.0.0.8", "run": 12,
                                      "agent": 8}
    # Slices 0+127 done, 127+10 and 127+50 overlap (the moved slice): 177 of 254 covered.
    assert view["summary"] == {"runs": 3, "states": {"Running": 1, "Ok": 1, "Error": 1},
                               "addresses": {"covered": 177, "total": 254}}


def test_default_is_the_latest_execution_and_plain_runs_are_execution_0(engine, executions):
    latest = operator_view.task_executions(engine, 1)
    assert latest["execution"] == 2 and list(by_id(latest)) == [21]
    whole = by_id(latest)[21]
    assert whole["slice"] is None and whole["progress"] == {"done": None, "total": 254}
    assert [w["id"] for w in whole["wakeups"]] == [6]
    plain = operator_view.task_executions(engine, 1, "0")
    run = by_id(plain)[5]
    assert (run["execution"], run["attempt"], run["previous_run"], run["wakeups"]) == (0, 0, None, [])
    assert run["progress"] == {"done": 254, "total": 254}
    assert plain["summary"]["addresses"] == {"covered": 254, "total": 254}


def test_limit_truncates_the_runs_not_the_summary_of_executions(engine, executions):
    view = operator_view.task_executions(engine, 1, 1, limit=2)
    assert list(by_id(view)) == [11, 12] and view["truncated"] is True
    assert view["executions"][1]["runs"] == 3
    assert [w["id"] for w in by_id(view)[11]["wakeups"]] == [1, 4]


def test_bad_ids_are_clear_errors(engine, executions):
    with pytest.raises(NotFound, match="task 99 does not exist"):
        operator_view.task_executions(engine, 99)
    with pytest.raises(DefinitionError, match="execution must be a positive number"):
        operator_view.task_executions(engine, 1, "-1")
    with pytest.raises(DefinitionError, match="limit must be a number"):
        operator_view.task_wakeups(engine, 1, limit="many")


def test_task_wakeups_newest_first_with_agent_and_execution(engine, executions):
    view = operator_view.task_wakeups(engine, 1)
    assert [w["id"] for w in view["wakeups"]] == [6, 4, 3, 2, 1]  # 5 names no run of the task
    assert view["wakeups"][0] == {"id": 6, "date": "2026-11-25 10:31:00", "outcome": "woken",
                                  "detail": "woken at 10.0.0.7", "address": "10.0.0.7", "run": 21,
                                  "agent": {"id": 7, "name": DEVICE_7}, "execution": 2}
    assert [w["id"] for w in operator_view.task_wakeups(engine, 1, 1, limit=2)["wakeups"]] == [4, 3]


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_executions_table_and_json(database_url, executions):
    text = run(database_url, "task", "executions", "1", "--execution", "1").output
    assert "task 1: task 1  (push, current execution 2 since 2026-11-25 10:30:00)" in text
    assert "execution 1: 3 runs (Running 1, Ok 1, Error 1), addresses covered 177/254" in text
    line = next(line for line in text.splitlines() if line.startswith("13 "))
    for cell in ("1 job 1", "iprange:1 (range 1)", "127+127 192.0.2.128-192.0.2.254",
                 f"7 {DEVICE_7} (10.0.0.7)", "Running", "1 after 12", "50/127", "1 ==devicesfound=="):
        assert cell in line, (cell, line)
    assert "wake-ups of these runs' agents:" in text and "timed out after 2 s" in text
    data = json.loads(run(database_url, "task", "executions", "1", "--json").output)
    assert data["execution"] == 2 and [run["id"] for run in data["runs"]] == [21]


def test_cli_wakeups_and_unknown_task(database_url, executions):
    text = run(database_url, "task", "wakeups", "1", "--execution", "1").output
    lines = text.splitlines()
    assert lines[0] == "task 1: task 1, execution 1: wake-ups, newest first"
    assert lines[2].split()[:4] == ["2026-11-25", "10:06:00", "13", "1"] and "busy" in lines[2]
    assert len(lines) == 2 + 4  # title, header, wake-ups 4 3 2 1
    assert "task 99 does not exist" in run(database_url, "task", "wakeups", "99", expect=1).output


# --- API ---------------------------------------------------------------------------------------


def test_api_executions_and_wakeups(api, engine, executions):
    response = api.get("/api/tasks/1/executions?execution=1", headers=AUTH)
    assert response.status_code == 200 and response.content_type == "application/json"
    assert response.get_json() == json.loads(json.dumps(operator_view.task_executions(engine, 1, 1)))
    wakeups = api.get("/api/tasks/1/wakeups?limit=1", headers=AUTH).get_json()["wakeups"]
    assert [w["id"] for w in wakeups] == [6]


@pytest.mark.parametrize("path, headers, status, error", [
    ("/api/tasks/1/executions", {}, 401, "missing or wrong admin token"),
    ("/api/tasks/99/executions", AUTH, 404, "task 99 does not exist"),
    ("/api/tasks/1/executions?execution=x", AUTH, 400, "execution must be a number, got 'x'"),
    ("/api/tasks/1/wakeups?limit=0", AUTH, 400, "limit must be a positive number, got 0"),
])
def test_api_refusals(api, executions, path, headers, status, error):
    response = api.get(path, headers=headers)
    assert (response.status_code, response.get_json()) == (status, {"error": error})


def test_api_other_methods_are_405(api, executions):
    response = api.post("/api/tasks/1/executions", headers=AUTH)
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


# --- progress from the agent's NETDISCOVERY messages ----------------------------------------


def post(client, content: str, device=DEVICE_7):
    body = message_xml(device, "NETDISCOVERY", content + "<MODULEVERSION>4.2</MODULEVERSION>"
                       "<PROCESSNUMBER>31</PROCESSNUMBER>")
    response = client.post("/plugins/fusioninventory/", data=zlib.compress(body), headers=ZLIB_HEADERS)
    assert response.status_code == 200, zlib.decompress(response.data)


def found(client, ip: str):
    post(client, f"<DEVICE><DNSHOSTNAME>{ip}</DNSHOSTNAME><ENTITY>0</ENTITY><IP>{ip}</IP></DEVICE>")


def done(engine, run_id=31):
    with engine.connect() as conn:
        return conn.execute(select(schema.bridge_runs.c.addresses_done)
                            .where(schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id == run_id)).scalar()


@pytest.fixture
def sliced_run(engine, executions):
    """Run 31: agent 7 scans offsets 10..29 of the range (192.0.2.11-192.0.2.30), handed out."""
    with engine.begin() as conn:
        add_run(conn, 31, 1, 7, IPRANGE, 1, state=1)
        add_bridge_run(conn, 31, 2, first=10, count=20)


def test_addresses_done_follows_the_highest_reported_address_of_the_slice(client, engine, sliced_run):
    post(client, "<AGENT><AGENTVERSION>2.6-3</AGENTVERSION><START>1</START></AGENT>")
    post(client, "<AGENT><NBIP>20</NBIP></AGENT>")
    assert done(engine) == 0
    found(client, "192.0.2.15")
    assert done(engine) == 5
    found(client, "192.0.2.12")  # another thread's earlier address: never backwards
    assert done(engine) == 5
    found(client, "192.0.2.40")  # outside the slice
    found(client, "not an address")
    assert done(engine) == 5
    found(client, "192.0.2.30")
    assert done(engine) == 20
    view = by_id(operator_view.task_executions(engine, 1, 2))[31]
    assert view["progress"] == {"done": 20, "total": 20} and view["state_word"] == "Running"


def test_end_completes_the_slice_and_a_second_end_changes_nothing(client, engine, sliced_run):
    found(client, "192.0.2.11")
    assert done(engine) == 1
    post(client, "<AGENT><END>1</END></AGENT>")
    assert done(engine) == 20
    post(client, "<AGENT><END>1</END></AGENT>")
    assert done(engine) == 20
    assert by_id(operator_view.task_executions(engine, 1, 2))[31]["state_word"] == "Ok"


def test_runs_without_a_slice_keep_their_9_5_handling(client, engine, executions):
    with engine.begin() as conn:
        add_run(conn, 31, 1, 7, IPRANGE, 1, state=1)  # plain: no bridge row
        add_run(conn, 32, 1, 7, IPRANGE, 1, state=1)
        add_bridge_run(conn, 32, 2)  # bridge row, whole range
    found(client, "192.0.2.20")
    post(client, "<AGENT><END>1</END></AGENT>")
    assert done(engine, 31) is None
    with engine.connect() as conn:
        assert conn.execute(select(schema.taskjobstates.c.state).where(schema.taskjobstates.c.id == 31)).scalar() == 3
    body = message_xml(DEVICE_7, "NETDISCOVERY", "<DEVICE><IP>192.0.2.20</IP><ENTITY>0</ENTITY></DEVICE>"
                       "<PROCESSNUMBER>32</PROCESSNUMBER>")
    assert client.post("/plugins/fusioninventory/", data=zlib.compress(body), headers=ZLIB_HEADERS).status_code == 200
    assert done(engine, 32) == 0


# --- scale -------------------------------------------------------------------------------------


def test_ten_thousand_slices_take_a_fixed_number_of_queries(engine):
    runs_count, agent_count = 10_000, 2_000
    with engine.begin() as conn:
        conn.execute(insert(schema.agents), [
            {"id": i, "name": f"a{i}", "device_id": f"a{i}", "entities_id": 0} for i in range(1, agent_count + 1)])
        conn.execute(insert(schema.bridge_agentaddresses), [
            {"plugin_fusioninventory_agents_id": i, "address": f"10.1.{i // 250}.{i % 250}", "date": T0}
            for i in range(1, agent_count + 1)])
        add_iprange(conn, "10.0.0.0", "10.0.255.255", range_id=1)
        add_task(conn, 1)
        add_job(conn, 1, RANGE, "[]", "networkdiscovery", job_id=1)
        conn.execute(insert(schema.taskjobstates), [
            {"id": i, "plugin_fusioninventory_taskjobs_id": 1, "items_id": 1, "itemtype": IPRANGE, "state": i % 4,
             "plugin_fusioninventory_agents_id": i % agent_count + 1, "uniqid": f"u{i}"}
            for i in range(1, runs_count + 1)])
        conn.execute(insert(schema.bridge_runs), [
            {"plugin_fusioninventory_taskjobstates_id": i, "plugin_fusioninventory_tasks_id": 1, "execution_id": 1,
             "slice_first": (i - 1) * 6, "slice_count": 6, "addresses_done": 6 if i % 4 == 3 else i % 4}
            for i in range(1, runs_count + 1)])
        conn.execute(insert(schema.taskjoblogs), [
            {"plugin_fusioninventory_taskjobstates_id": i, "date": at(0), "state": 7, "comment": "",
             "itemtype": None, "items_id": 0} for i in range(1, runs_count + 1)])
        conn.execute(insert(schema.bridge_wakeups), [
            {"plugin_fusioninventory_agents_id": i, "plugin_fusioninventory_taskjobstates_id": i - 1,
             "date": at(1), "address": "10.1.0.1", "outcome": "woken", "detail": "woken"}
            for i in range(2, agent_count + 1)])
    statements = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    started = datetime.now()
    try:
        view = operator_view.task_executions(engine, 1)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    elapsed = (datetime.now() - started).total_seconds()
    assert len(view["runs"]) == runs_count and view["truncated"] is False
    assert view["summary"]["states"] == {"Prepared": 2500, "Started": 2500, "Running": 2500, "Ok": 2500}
    assert view["summary"]["addresses"] == {"covered": 2500 * (1 + 2 + 6), "total": 60_000}
    assert view["executions"] == [{"execution": 1, "runs": runs_count, "states": view["summary"]["states"],
                                   "addresses": view["summary"]["addresses"]}]
    run = by_id(view)[2]
    assert run["agent"]["name"] == "a3" and [w["run"] for w in run["wakeups"]] == [2]
    queries = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    assert len(queries) <= 8, queries  # task, its settings, 2 for the list, runs, logs, 2 for wake-ups
    assert elapsed < 10, elapsed


RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "cases" / "netdiscovery"


def test_recorded_agent_messages_advance_the_slice(client, engine):
    """The real agent's recorded NETDISCOVERY bodies (run 11, devices 127.0.0.1, .2, .3, END
    twice) replayed on a slice 127.0.0.1-127.0.0.4 of the range 127.0.0.0-127.0.0.9."""
    case = json.loads((RECORDED / "case.json").read_text())
    with engine.begin() as conn:
        add_agent(conn, 70, case["deviceid"])
        add_iprange(conn, "127.0.0.0", "127.0.0.9", range_id=2)
        add_task(conn, 1)
        add_job(conn, 1, '[{"PluginFusioninventoryIPRange":"2"}]', "[]", "networkdiscovery", job_id=1)
        add_run(conn, 11, 1, 70, IPRANGE, 2, state=1)
        add_bridge_run(conn, 11, 1, first=1, count=4)
    progress = []
    for exchange in case["exchanges"][1:]:
        folder = RECORDED / exchange["dir"]
        request = json.loads((folder / "request.json").read_text())
        response = client.post(request["path"], data=(folder / "request.body").read_bytes(),
                               headers={"Content-Type": request["content_type"], "User-Agent": request["user_agent"]})
        assert response.status_code == 200
        progress.append((exchange["kind"].split(":")[1], done(engine, 11)))
    assert progress == [("START", 0), ("NBIP", 0), ("DEVICE", 1), ("DEVICE", 2), ("DEVICE", 3), ("END", 4),
                        ("END", 4)]
    view = operator_view.task_executions(engine, 1)
    run = by_id(view)[11]
    assert run["slice"] == {"first": 1, "count": 4, "ip_start": "127.0.0.1", "ip_end": "127.0.0.4"}
    assert (run["state_word"], run["progress"]) == ("Ok", {"done": 4, "total": 4})
    assert view["summary"]["addresses"] == {"covered": 4, "total": 4}
