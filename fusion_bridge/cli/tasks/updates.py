"""``fusion-bridge task update`` and ``action update``: change what ``task create`` and ``action
add`` set, the bridge settings included, in one transaction (``PATCH /api/tasks/<id>`` and
``PATCH /api/actions/<id>`` take the same names). Options not given are left as they are.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common
from fusion_bridge.cli.tasks.setting_options import action_setting_options, task_setting_options
from fusion_bridge.cli.tasks.definitions import ITEM_HELP, _items, _run, _task_text, settings_text
from fusion_bridge.services.admin import definitions


def _changes(options: dict) -> dict:
    changes = {name: value for name, value in options.items() if value not in (None, ())}
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    return changes


@click.command("update")
@click.argument("task_id", type=int)
@click.option("--name", help="Task name.")
@click.option("--entity", type=int, help="GLPI entity id (its actions move with it).")
@click.option("--comment")
@click.option("--active/--inactive", default=None, help="Enable or disable (disabling cancels prepared runs).")
@click.option("--start", metavar="DATE", help="Schedule start, e.g. '2024-06-01 08:00'; '' removes it.")
@click.option("--end", metavar="DATE", help="Schedule end; '' removes it.")
@click.option("--prep-timeslot", type=int, metavar="ID", help="Timeslot id for preparation (0: always).")
@click.option("--exec-timeslot", type=int, metavar="ID", help="Timeslot id for execution (0: always).")
@click.option("--reprepare-if-successful/--no-reprepare-if-successful", default=None,
              help="Run again on targets where the last run succeeded.")
@task_setting_options
@common
def task_update(task_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Change a task's fields and bridge settings."""
    changes = _changes(options)
    _run(database_url, as_json, lambda e: definitions.update_task(e, task_id, changes), _task_text)


def _action_text(a: dict) -> list[str]:
    return [f"action {a['id']} of task {a['task_id']}: {a['name']} ({a['method']})",
            f"  targets {_items(a['targets'])}",
            f"  actors {_items(a['actors'])}",
            f"  bridge settings: {settings_text(a['settings'])}"]


@click.command("update")
@click.argument("action_id", type=int)
@click.option("--name", help="Action name.")
@click.option("--method", metavar="METHOD", help="One of: " + ", ".join(definitions.METHODS) + ".")
@click.option("--target", "targets", multiple=True, metavar="TYPE:ID",
              help="Target (replaces them all; repeat), " + ITEM_HELP)
@click.option("--actor", "actors", multiple=True, metavar="TYPE:ID",
              help="Actor (replaces them all; repeat), " + ITEM_HELP)
@click.option("--comment")
@action_setting_options
@common
def action_update(action_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Change an action's fields and bridge settings (targets and actors checked again)."""
    changes = _changes(options)
    for field in ("targets", "actors"):
        if field in changes:
            changes[field] = list(changes[field])
    _run(database_url, as_json, lambda e: definitions.update_action(e, action_id, changes), _action_text)

