"""``fusion-bridge`` commands that define tasks and show their runs.

``task``, ``action``, ``iprange``, ``credential``, ``timeslot`` groups, and ``running`` and
``history``. Each command takes ``--database URL`` (like ``db init``) and ``--json`` for machine
output; the human output is aligned tables with state words. The commands are thin: the
services in ``fusion_bridge.services.admin.definitions*`` and ``.history`` validate and write.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Callable, Iterator

import click
from sqlalchemy.engine import Engine

from fusion_bridge.cli.database import open_database
from fusion_bridge.cli.options import common, for_group
from fusion_bridge.cli.tasks.setting_options import (
    ACTION_SETTINGS,
    TASK_SETTINGS,
    action_setting_options,
    given,
    task_setting_options,
)
from fusion_bridge.domain.text import plural
from fusion_bridge.services.admin import definitions
from fusion_bridge.services.views import history
from fusion_bridge.services.admin import network
from fusion_bridge.services.admin import timeslots
from fusion_bridge.errors import DomainError

# The shortest name of each item type, for display.
SHORT_NAMES = {itemtype: alias for alias, itemtype in sorted(definitions.ITEM_ALIASES.items(), reverse=True)}


@contextlib.contextmanager
def _engine(database_url: str | None) -> Iterator[Engine]:
    with open_database(database_url) as engine:
        try:
            yield engine
        except DomainError as error:  # bad input, unknown id: the reason, without a traceback
            raise click.ClickException(error.reason) from None


def _run(database_url: str | None, as_json: bool, work: Callable[[Engine], Any],
         human: Callable[[Any], str | list[str]]) -> None:
    with _engine(database_url) as engine:
        result = work(engine)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    text = human(result)
    click.echo("\n".join(text) if isinstance(text, list) else text)


def table(headers: list[str], rows: list[list[Any]], empty: str = "(none)") -> list[str]:
    """Columns aligned on the widest cell; the last column is not padded."""
    if not rows:
        return [empty]
    cells = [[("" if value is None else str(value)) for value in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [("  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths)) + "  " + row[-1]).rstrip()
            if len(row) > 1 else row[0] for row in cells]


def item_text(item: dict) -> str:
    short = SHORT_NAMES.get(item["itemtype"], item["itemtype"])
    return f"{short}:{item['id']}" + (f" ({item['name']})" if item.get("name") else "")


def _items(items: list[dict]) -> str:
    return ", ".join(item_text(item) for item in items) or "-"


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def settings_text(values: dict) -> str:
    """``name value`` pairs of a task's or action's bridge settings, in one line."""
    return ", ".join(f"{name} {'-' if value is None else value}" for name, value in values.items())


# --- task ------------------------------------------------------------------------------------


@click.group()
@for_group
def task() -> None:
    """Create, list, show, update, enable, disable and delete tasks."""


def _task_rows(tasks: list[dict]) -> list[str]:
    return table(["ID", "NAME", "ACTIVE", "ENTITY", "START", "END", "ACTIONS"], [
        [t["id"], t["name"], _yes_no(t["is_active"]), t["entities_id"], t["datetime_start"] or "-",
         t["datetime_end"] or "-", t.get("actions", "")] for t in tasks])


def _task_text(t: dict) -> list[str]:
    lines = [f"task {t['id']}: {t['name']}",
             f"  active: {_yes_no(t['is_active'])}   entity: {t['entities_id']}"
             f"   created: {t['date_creation']}",
             f"  schedule: {t['datetime_start'] or 'always'} .. {t['datetime_end'] or '-'}",
             f"  timeslots: preparation {t['timeslot_prep_id'] or 'always'},"
             f" execution {t['timeslot_exec_id'] or 'always'}",
             f"  prepare again after success: {_yes_no(t['reprepare_if_successful'])}"]
    if t.get("comment"):
        lines.append(f"  comment: {t['comment']}")
    if "actions" in t and isinstance(t["actions"], list):
        lines.append("actions:")
        lines += ["  " + line for line in _action_rows(t["actions"], with_task=False)]
    if t.get("settings"):
        lines.append("bridge settings: " + settings_text(t["settings"]))
    if t.get("runs"):
        lines.append("runs: " + ", ".join(f"{word} {n}" for word, n in t["runs"].items()))
    if "cancelled_runs" in t:
        lines.append(f"prepared runs cancelled: {t['cancelled_runs']}")
    return lines


@task.command("create")
@click.option("--name", required=True, help="Task name.")
@click.option("--entity", "entities_id", type=int, default=0, show_default=True, help="GLPI entity id.")
@click.option("--comment")
@click.option("--active/--inactive", "is_active", default=False, show_default=True, help="Enable at once.")
@click.option("--start", "datetime_start", metavar="DATE",
              help="Schedule start, e.g. '2024-06-01 08:00' (local time).")
@click.option("--end", "datetime_end", metavar="DATE", help="Schedule end (needs --start).")
@click.option("--prep-timeslot", "timeslot_prep_id", type=int, default=0, help="Timeslot id for preparation.")
@click.option("--exec-timeslot", "timeslot_exec_id", type=int, default=0, help="Timeslot id for execution.")
@click.option("--reprepare-if-successful/--no-reprepare-if-successful", default=True, show_default=True,
              help="Run again on targets where the last run succeeded.")
@task_setting_options
@common
def task_create(name: str, database_url: str | None, as_json: bool, **fields) -> None:
    """Create a task (inactive unless --active), with its bridge settings if given (stored with
    the task: an active task is never prepared without them)."""
    settings_given = given(fields, TASK_SETTINGS)
    _run(database_url, as_json,
         lambda e: definitions.create_task(e, name, **fields, settings_given=settings_given), _task_text)


@task.command("list")
@common
def task_list(database_url: str | None, as_json: bool) -> None:
    """List the tasks."""
    _run(database_url, as_json, definitions.list_tasks, _task_rows)


@task.command("show")
@click.argument("task_id", type=int)
@common
def task_show(task_id: int, database_url: str | None, as_json: bool) -> None:
    """Show a task with its actions and the count of its runs by state."""
    _run(database_url, as_json, lambda e: definitions.get_task(e, task_id), _task_text)


@task.command("enable")
@click.argument("task_id", type=int)
@common
def task_enable(task_id: int, database_url: str | None, as_json: bool) -> None:
    """Activate a task."""
    _run(database_url, as_json, lambda e: definitions.enable_task(e, task_id),
         lambda t: f"task {t['id']} enabled: {t['name']}")


@task.command("disable")
@click.argument("task_id", type=int)
@common
def task_disable(task_id: int, database_url: str | None, as_json: bool) -> None:
    """Deactivate a task; its prepared runs are cancelled."""
    _run(database_url, as_json, lambda e: definitions.disable_task(e, task_id),
         lambda t: f"task {t['id']} disabled: {t['name']}; "
                   f"{plural(t['cancelled_runs'], 'prepared run')} cancelled")


@task.command("delete")
@click.argument("task_id", type=int)
@click.confirmation_option(prompt="Delete the task, its actions and all their runs' history?")
@common
def task_delete(task_id: int, database_url: str | None, as_json: bool) -> None:
    """Delete a task with its actions, runs and logs."""
    _run(database_url, as_json, lambda e: definitions.delete_task(e, task_id),
         lambda r: f"task {r['id']} deleted with {plural(r['actions'], 'action')}, "
                   f"{plural(r['runs'], 'run')}, {plural(r['logs'], 'log line')}")


# --- action ----------------------------------------------------------------------------------


@click.group()
@for_group
def action() -> None:
    """Add, list, update and remove the actions (jobs) of tasks."""


def _action_rows(actions: list[dict], with_task: bool = True) -> list[str]:
    headers = ["ID", *(["TASK"] if with_task else []), "NAME", "METHOD", "TARGETS", "ACTORS"]
    return table(headers, [[a["id"], *([a["task_id"]] if with_task else []), a["name"], a["method"],
                            _items(a["targets"]), _items(a["actors"])] for a in actions])


ITEM_HELP = ("type:id; types: " + ", ".join(definitions.ITEM_ALIASES) + " or a full item type name.")


@action.command("add")
@click.option("--task", "task_id", type=int, required=True, help="Task id.")
@click.option("--name", required=True, help="Action name.")
@click.option("--method", required=True, metavar="METHOD",
              help="One of: " + ", ".join(definitions.METHODS) + ".")
@click.option("--target", "targets", multiple=True, required=True, metavar="TYPE:ID",
              help="Target, " + ITEM_HELP)
@click.option("--actor", "actors", multiple=True, required=True, metavar="TYPE:ID",
              help="Actor, " + ITEM_HELP)
@click.option("--comment")
@action_setting_options
@common
def action_add(task_id: int, name: str, method: str, targets: tuple[str, ...], actors: tuple[str, ...],
               comment: str | None, database_url: str | None, as_json: bool, **options) -> None:
    """Add an action, e.g. --method networkdiscovery --target iprange:1 --actor agent:3.

    The pool and balancing settings given are stored with the action, in the same transaction:
    an active task is never prepared with the action but without them.
    """
    settings_given = given(options, ACTION_SETTINGS)
    _run(database_url, as_json,
         lambda e: definitions.add_action(e, task_id, name, method, list(targets), list(actors),
                                          comment=comment, settings_given=settings_given),
         action_added_text)


def action_added_text(a: dict) -> str:
    return (f"action {a['id']} added to task {a['task_id']}: {a['name']} ({a['method']}), "
            f"targets {_items(a['targets'])}, actors {_items(a['actors'])}")


@action.command("list")
@click.option("--task", "task_id", type=int, help="Only this task's actions.")
@common
def action_list(task_id: int | None, database_url: str | None, as_json: bool) -> None:
    """List actions with their targets and actors."""
    _run(database_url, as_json, lambda e: definitions.list_actions(e, task_id), _action_rows)


@action.command("remove")
@click.argument("action_id", type=int)
@click.confirmation_option(prompt="Remove the action and all its runs' history?")
@common
def action_remove(action_id: int, database_url: str | None, as_json: bool) -> None:
    """Remove an action with its runs and logs."""
    _run(database_url, as_json, lambda e: definitions.remove_action(e, action_id),
         lambda r: f"action {r['id']} removed with {plural(r['runs'], 'run')}, "
                   f"{plural(r['logs'], 'log line')}")


# --- iprange, credential, timeslot -----------------------------------------------------------


@click.group()
@for_group
def iprange() -> None:
    """Create, list and delete IP ranges for network discovery and SNMP inventory."""


def _iprange_rows(ranges: list[dict]) -> list[str]:
    return table(["ID", "NAME", "ENTITY", "START", "END", "CREDENTIALS (BY RANK)"], [
        [r["id"], r["name"], r["entities_id"], r["ip_start"], r["ip_end"],
         ", ".join(f"{c['id']} {c['name']}" for c in r["credentials"]) or "-"] for r in ranges])


@iprange.command("create")
@click.option("--name", required=True)
@click.option("--start", "ip_start", required=True, metavar="IPV4", help="First address.")
@click.option("--end", "ip_end", required=True, metavar="IPV4", help="Last address.")
@click.option("--entity", "entities_id", type=int, default=0, show_default=True)
@click.option("--credential", "credentials", type=int, multiple=True, metavar="ID",
              help="SNMP credential id; repeat in rank order.")
@common
def iprange_create(name: str, ip_start: str, ip_end: str, entities_id: int, credentials: tuple[int, ...],
                   database_url: str | None, as_json: bool) -> None:
    """Create an IP range with its SNMP credentials."""
    _run(database_url, as_json,
         lambda e: network.create_iprange(e, name, ip_start, ip_end, entities_id=entities_id,
                                          credentials=list(credentials)),
         lambda r: _iprange_rows([r]))


@iprange.command("list")
@common
def iprange_list(database_url: str | None, as_json: bool) -> None:
    """List IP ranges."""
    _run(database_url, as_json, network.list_ipranges, _iprange_rows)


@iprange.command("delete")
@click.argument("range_id", type=int)
@common
def iprange_delete(range_id: int, database_url: str | None, as_json: bool) -> None:
    """Delete an IP range (refused while an action targets it)."""
    _run(database_url, as_json, lambda e: network.delete_iprange(e, range_id),
         lambda r: f"IP range {r['id']} deleted")


@click.group()
@for_group
def credential() -> None:
    """Create, list, update, delete and restore SNMP credentials."""


def _credential_rows(credentials: list[dict]) -> list[str]:
    return table(["ID", "NAME", "VERSION", "COMMUNITY/USER", "AUTH", "PRIVACY"], [
        [c["id"], c["name"], c["version"], c["community"] or c["username"] or "-", c["auth_protocol"] or "-",
         c["priv_protocol"] or "-"] for c in credentials])


@credential.command("create")
@click.option("--name", required=True, help="At most 64 characters.")
@click.option("--version", required=True, type=click.Choice(["1", "2c", "3"]), help="SNMP version.")
@click.option("--community", help="Community (versions 1 and 2c).")
@click.option("--username", help="User name (version 3).")
@click.option("--auth-protocol", type=click.Choice(["MD5", "SHA"], case_sensitive=False))
@click.option("--auth-passphrase")
@click.option("--priv-protocol", type=click.Choice(["DES", "AES"], case_sensitive=False))
@click.option("--priv-passphrase")
@common
def credential_create(name: str, version: str, database_url: str | None, as_json: bool, **fields) -> None:
    """Create an SNMP credential."""
    _run(database_url, as_json, lambda e: network.create_credential(e, name, version, **fields),
         lambda c: _credential_rows([c]))


@credential.command("list")
@common
def credential_list(database_url: str | None, as_json: bool) -> None:
    """List SNMP credentials (passphrases are not shown)."""
    _run(database_url, as_json, network.list_credentials, _credential_rows)


@click.group()
@for_group
def timeslot() -> None:
    """Create and list timeslots (when tasks may be prepared or handed out)."""


def _timeslot_rows(slots: list[dict]) -> list[str]:
    return table(["ID", "NAME", "ENTITY", "ENTRIES"], [
        [s["id"], s["name"], s["entities_id"], ", ".join(e["text"] for e in s["entries"]) or "-"]
        for s in slots])


@timeslot.command("create")
@click.option("--name", required=True)
@click.option("--entry", "entries", multiple=True, required=True, metavar="'DAY HH:MM-HH:MM'",
              help="ISO weekday (1 = Monday ... 7 = Sunday, or mon..sun) and span, "
                   "e.g. '1 08:00-18:00'; repeat.")
@click.option("--entity", "entities_id", type=int, default=0, show_default=True)
@click.option("--recursive", "is_recursive", is_flag=True, help="Visible in child entities.")
@click.option("--comment")
@common
def timeslot_create(name: str, entries: tuple[str, ...], database_url: str | None, as_json: bool,
                    **fields) -> None:
    """Create a timeslot with its entries."""
    _run(database_url, as_json, lambda e: timeslots.create_timeslot(e, name, list(entries), **fields),
         lambda s: _timeslot_rows([s]))


@timeslot.command("list")
@common
def timeslot_list(database_url: str | None, as_json: bool) -> None:
    """List timeslots with their entries."""
    _run(database_url, as_json, timeslots.list_timeslots, _timeslot_rows)


# --- running, history ------------------------------------------------------------------------


def _run_cells(run: dict) -> list[Any]:
    return [run["id"], f"{run['task']['id']} {run['task']['name'] or ''}".strip(),
            f"{run['action']['id']} {run['action']['name'] or ''}".strip(), run["action"]["method"],
            item_text(run["target"]), f"{run['agent']['id']} {run['agent']['name'] or ''}".strip(),
            run["state_word"]]


def _running_rows(found: list[dict]) -> list[str]:
    rows = []
    for run in found:
        last = run.get("last_log")
        comment = " / ".join((last["comment"] or "").splitlines()) if last else ""
        rows.append([*_run_cells(run), f"{last['date']} {last['word']}: {comment}".rstrip(": ") if last else "-"])
    return table(["RUN", "TASK", "ACTION", "METHOD", "TARGET", "AGENT", "STATE", "LAST LOG"], rows,
                 empty="nothing running")


def _history_lines(found: list[dict]) -> list[str]:
    if not found:
        return ["no runs"]
    lines = []
    for run in found:
        run_id, task_text, action_text, method, target, agent, word = _run_cells(run)
        lines.append(f"run {run_id}  {word}  task {task_text}  action {action_text} ({method})  "
                     f"target {target}  agent {agent}")
        rows = []
        for line in run["logs"]:
            # A comment of several lines (deploy output, a discovery's details) goes on under itself.
            first, *more = (line["comment"] or "").splitlines() or [""]
            rows += [[line["date"], line["word"], first], *([["", "", text] for text in more])]
        lines += ["  " + line for line in table(["DATE", "STATE", "COMMENT"], rows, empty="(no log)")]
        if run.get("logs_truncated"):
            lines.append("  ... more log lines not shown")
    return lines


@click.command("running")
@click.option("--task", "task_id", type=int, help="Only this task's runs.")
@click.option("--agent", "agent_id", type=int, help="Only this agent's runs.")
@click.option("--limit", type=int, default=1000, show_default=True)
@common
def running(task_id: int | None, agent_id: int | None, limit: int, database_url: str | None,
            as_json: bool) -> None:
    """What is running now: runs Prepared, Started or Running, with their last log line."""
    _run(database_url, as_json,
         lambda e: history.running_now(e, task_id=task_id, agent_id=agent_id, limit=limit),
         _running_rows)


@click.command("history")
@click.option("--task", "task_id", type=int, help="Runs of this task.")
@click.option("--action", "action_id", type=int, help="Runs of this action.")
@click.option("--agent", "agent_id", type=int, help="Runs of this agent.")
@click.option("--run", "run_id", type=int, help="This run.")
@click.option("--limit", type=int, default=20, show_default=True, help="Latest runs shown.")
@common
def run_history(task_id: int | None, action_id: int | None, agent_id: int | None, run_id: int | None,
                limit: int, database_url: str | None, as_json: bool) -> None:
    """The latest runs, newest first, with their log lines."""
    _run(database_url, as_json,
         lambda e: history.history(e, task_id=task_id, agent_id=agent_id, run_id=run_id, action_id=action_id,
                                   limit=limit),
         _history_lines)
