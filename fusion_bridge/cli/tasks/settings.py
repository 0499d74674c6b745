"""``fusion-bridge task settings`` and ``action settings``: the bridge's own settings of a task
(push or pull, periodicity) and of an action (agent pool, load balancing, retries, ordering).

Options not given are left as they are; with none, the current settings are shown.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common
from fusion_bridge.cli.tasks.setting_options import (
    ACTION_SETTINGS,
    TASK_SETTINGS,
    action_setting_options,
    given,
    task_setting_options,
)
from fusion_bridge.cli.tasks.definitions import _run, table
from fusion_bridge.services.admin import task_settings as settings


def _lines(values: dict) -> list[str]:
    return table(["SETTING", "VALUE"], [[name, "-" if value is None else value] for name, value in values.items()])


@click.command("settings")
@click.argument("task_id", type=int)
@task_setting_options
@common
def task_settings_command(task_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Show or change the bridge settings of a task."""
    changes = given(options, TASK_SETTINGS)
    _run(database_url, as_json,
         lambda e: (settings.set_task_settings(e, task_id, changes) if changes
                    else settings.get_task_settings(e, task_id)),
         _lines)


@click.command("settings")
@click.argument("action_id", type=int)
@action_setting_options
@common
def action_settings_command(action_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Show or change the bridge settings of an action."""
    changes = given(options, ACTION_SETTINGS)
    _run(database_url, as_json,
         lambda e: (settings.set_job_settings(e, action_id, changes) if changes
                    else settings.get_job_settings(e, action_id)),
         _lines)
