"""``fusion-bridge db takeover`` / ``db handback``: one preparer on a shared database.

``takeover`` disables the FusionInventory plugin's cron tasks that do what the bridge's
scheduler does (task preparation, agent wake-up, run clean-ups) and records their states;
``handback`` restores them (schema/crontasks.py).
"""

from __future__ import annotations

import json

import click
from sqlalchemy.exc import SQLAlchemyError

from fusion_bridge.adapters.db import make_engine
from fusion_bridge.cli.main import _config, _safe_url, database_option, db
from schema.crontasks import TakeoverError, hand_back, take_over


def _run(action, database_url: str | None, as_json: bool) -> None:
    config = _config(database_url=database_url)
    engine = make_engine(config.database_url)
    try:
        report = action(engine)
    except TakeoverError as error:
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        raise click.ClickException(f"{_safe_url(config.database_url)}: {error}") from None
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(report.to_dict()))
        return
    for line in report.lines():
        click.echo(line)


@db.command("takeover")
@database_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def db_takeover(database_url: str | None, as_json: bool) -> None:
    """Disable the plugin's cron tasks that compete with the bridge's scheduler (GLPI's
    taskscheduler, wakeupAgents, cleantaskjob, cleanondemand); `db handback` undoes it."""
    _run(take_over, database_url, as_json)


@db.command("handback")
@database_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
def db_handback(database_url: str | None, as_json: bool) -> None:
    """Give the plugin's cron tasks back to GLPI: restore the states `db takeover` changed."""
    _run(hand_back, database_url, as_json)
