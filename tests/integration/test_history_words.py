"""``history`` and ``running`` (CLI and API) show log comments in words, as GLPI's UI does, while
the database keeps the plugin's codes."""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

import schema
from fusion_bridge.cli.main import main
from tests.helpers.admin_api import call, discovery_task
from tests.helpers.db import insert_row
from tests.helpers.task_rows import add_run

STORED = [
    (7, ""),
    (1, "0 threads 0 timeout"),
    (6, "1 ==devicesfound=="),
    (6, "[==detail==] ==addtheitem== Network devices [[NetworkEquipment::{switch}]]"),
    (6, "[==detail==] ==updatetheitem== Printers [[Printer::999999]]"),
    (6, "==importdenied== [ip]:10.0.0.1,[mac]:aa:bb:cc:dd:ee:ff"),
    (6, "Actions:tar xzf app.tgz &amp;&amp; ./install<br />\nunpacked 3 files"),
    (2, "Processed:2 Created:1  Updated:1"),
]


def discovery_with_history(engine):
    switch = insert_row(engine, schema.glpi_networkequipments, name="core-sw", entities_id=0)
    task, action, range_id, agent = discovery_task(engine)
    logs = [(state, comment.format(switch=switch)) for state, comment in STORED]
    run_id = add_run(engine, job_id=action["id"], agent_id=agent, state=3, items_id=range_id, logs=logs)
    return task, run_id, switch, logs


def words(switch):
    return ["", "0 threads 0 timeout", "1 device found",
            f"[Detail] Add the item Network devices core-sw (NetworkEquipment {switch})",
            "[Detail] Update the item Printers Printer 999999 (deleted)",
            "Import denied [ip]:10.0.0.1\n[mac]:aa:bb:cc:dd:ee:ff",
            "Actions:tar xzf app.tgz && ./install\nunpacked 3 files",
            "Processed:2 Created:1  Updated:1"]


def stored_comments(engine, run_id):
    logs = schema.taskjoblogs
    with engine.connect() as conn:
        return conn.execute(select(logs.c.comment).where(logs.c.plugin_fusioninventory_taskjobstates_id == run_id)
                            .order_by(logs.c.id)).scalars().all()


def test_cli_history_in_words(database_url, engine):
    task, run_id, switch, logs = discovery_with_history(engine)
    result = CliRunner().invoke(main, ["--database", database_url, "history", "--run", str(run_id)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "==" not in text and "[[" not in text and "&amp;" not in text and "<br" not in text
    for shown in ("1 device found", f"[Detail] Add the item Network devices core-sw (NetworkEquipment {switch})",
                  "Import denied [ip]:10.0.0.1", "Actions:tar xzf app.tgz && ./install"):
        assert shown in text
    lines = text.splitlines()
    # A comment of several lines goes on under its first line, in the comment column.
    first = next(n for n, line in enumerate(lines) if "Actions:tar" in line)
    assert lines[first + 1].strip() == "unpacked 3 files"
    assert lines[first + 1].index("unpacked") == lines[first].index("Actions:")
    as_json = json.loads(CliRunner().invoke(main, ["--json", "history", "--run", str(run_id),
                                                   "--database", database_url]).stdout)
    assert [line["comment"] for line in as_json[0]["logs"]] == words(switch)
    assert [line["stored_comment"] for line in as_json[0]["logs"]] == [comment for _, comment in logs]
    assert stored_comments(engine, run_id) == [comment for _, comment in logs]


def test_api_history_and_running_in_words(api, engine, database_url):
    task, run_id, switch, logs = discovery_with_history(engine)
    [run] = call(api, "GET", f"/api/history?run={run_id}")["runs"]
    assert [line["comment"] for line in run["logs"]] == words(switch)
    assert [line["stored_comment"] for line in run["logs"]] == [comment for _, comment in logs]
    with engine.begin() as conn:
        conn.execute(schema.taskjobstates.update().where(schema.taskjobstates.c.id == run_id).values(state=2))
        conn.execute(schema.taskjoblogs.delete().where(schema.taskjoblogs.c.state == 2))
    [running] = call(api, "GET", "/api/running")["runs"]
    assert running["last_log"]["comment"] == "Actions:tar xzf app.tgz && ./install\nunpacked 3 files"
    assert stored_comments(engine, run_id)[-1] == "Actions:tar xzf app.tgz &amp;&amp; ./install<br />\nunpacked 3 files"
    shown = CliRunner().invoke(main, ["running", "--database", database_url]).stdout.splitlines()[1]
    assert shown.endswith("Running: Actions:tar xzf app.tgz && ./install / unpacked 3 files")
