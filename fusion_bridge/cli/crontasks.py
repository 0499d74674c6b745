"""``fusion-bridge db takeover`` / ``db handback``: one preparer on a shared database.

``takeover`` disables the FusionInventory plugin's cron tasks that do what the bridge's
scheduler does (task preparation, agent wake-up, run clean-ups) and records their states;
``handback`` restores them (schema/crontasks.py).
"""

from __future__ import annotations

import json

import click

from fusion_bridge.cli.database import open_database
from fusion_bridge.cli.options import common
from schema.crontasks import TakeoverError, hand_back, take_over


def _run(action, database_url: str | None, as_json: bool) -> None:
    with open_database(database_url) as engine:
        try:
            report = action(engine)
        except TakeoverError as error:
            raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    for line in report.lines():
        click.echo(line)


@click.command("takeover")
@common
def db_takeover(database_url: str | None, as_json: bool) -> None:
    """Disable the plugin's cron tasks that compete with the bridge's scheduler (GLPI's
    taskscheduler, wakeupAgents, cleantaskjob, cleanondemand); `db handback` undoes it."""
    _run(take_over, database_url, as_json)


@click.command("handback")
@common
def db_handback(database_url: str | None, as_json: bool) -> None:
    """Give the plugin's cron tasks back to GLPI: restore the states `db takeover` changed."""
    _run(hand_back, database_url, as_json)
