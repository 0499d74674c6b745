"""``fusion-bridge task settings`` and ``action settings``: the bridge's own settings of a task
(push or pull, periodicity) and of an action (agent pool, load balancing, retries, ordering).

Options not given are left as they are; with none, the current settings are shown.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common
from fusion_bridge.cli.tasks import _run, table
from fusion_bridge.services.admin import task_settings as settings


def _lines(values: dict) -> list[str]:
    return table(["SETTING", "VALUE"], [[name, "-" if value is None else value] for name, value in values.items()])


def _given(**options) -> dict:
    return {name: value for name, value in options.items() if value is not None}


@click.command("settings")
@click.argument("task_id", type=int)
@click.option("--communication", type=click.Choice(settings.COMMUNICATIONS),
              help="pull: agents take their runs at their next contact; push: woken at the task's start.")
@click.option("--push-timeout", type=int, metavar="SECONDS", help="Time a woken agent has to call in.")
@click.option("--push-retries", type=int, metavar="N", help="Wake-ups after the first before the run fails.")
@click.option("--period", metavar="PERIOD", help="Repeat every PERIOD (30m, 2h, 1d, 1mo); 0 = not periodic.")
@common
def task_settings_command(task_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Show or change the bridge settings of a task."""
    changes = _given(**options)
    _run(database_url, as_json,
         lambda e: (settings.set_task_settings(e, task_id, changes) if changes
                    else settings.get_task_settings(e, task_id)),
         _lines)


@click.command("settings")
@click.argument("action_id", type=int)
@click.option("--pool", type=click.Choice(["none", "module", "subnet"]),
              help="Agents: the listed actors (none), every agent allowed to run the module, or the "
                   "agents in the target's subnet.")
@click.option("--max-agents", "pool_max_agents", type=int, metavar="N", help="Cap of the pool (0 = none).")
@click.option("--balance/--no-balance", default=None, help="Split the targets between the agents.")
@click.option("--slice-retries", type=int, metavar="N", help="Times a failed slice moves to another agent.")
@click.option("--retries", "retry_count", type=int, metavar="N", help="Times a failed run is prepared again.")
@click.option("--retry-delay", type=int, metavar="MINUTES", help="Wait before preparing a failed run again.")
@click.option("--wait-previous", type=int, metavar="MINUTES",
              help="Start after the previous action ended on shared items, plus MINUTES (-1: do not wait).")
@common
def action_settings_command(action_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Show or change the bridge settings of an action."""
    changes = _given(**options)
    _run(database_url, as_json,
         lambda e: (settings.set_job_settings(e, action_id, changes) if changes
                    else settings.get_job_settings(e, action_id)),
         _lines)
