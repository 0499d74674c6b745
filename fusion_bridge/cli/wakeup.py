"""``fusion-bridge wakeup``: wake agents up now (probe /status, call /now), one line per agent;
``--task ID`` pushes a task now (prepares it, then wakes the agents of all its Prepared runs).

Settings: FUSION_BRIDGE_WAKEUP_CONCURRENCY (50 connections in flight),
FUSION_BRIDGE_WAKEUP_STATUS_TIMEOUT (1 s), FUSION_BRIDGE_WAKEUP_NOW_TIMEOUT (2 s).
"""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import select

import schema

from fusion_bridge.cli.database import open_database, require_tables
from fusion_bridge.cli.options import common, load_config
from fusion_bridge.domain.text import plural
from fusion_bridge.services.push import push_pass as push
from fusion_bridge.services.push import wakeup
from fusion_bridge.services.scheduling.preparation import prepare_runs


@click.command("wakeup")
@click.option("--agent", "agent_ids", type=int, multiple=True, metavar="ID",
              help="Agent id (glpi_plugin_fusioninventory_agents.id); repeat for several.")
@click.option("--all-with-runs", is_flag=True, help="Every agent having a run in state Prepared.")
@click.option("--task", "task_id", type=int, metavar="ID",
              help="Push this task now: prepare it, then wake the agents of all its Prepared runs "
                   "(each counts as a push of the run: its push time-out starts again).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Connections in flight at most (default 50).")
@common
def wakeup_command(agent_ids: tuple[int, ...], all_with_runs: bool, task_id: int | None,
                   concurrency: int | None, database_url: str | None, as_json: bool) -> None:
    """Wake agents up: GET http://ADDR:PORT/status, then /now when the agent is waiting.

    ADDR is the address the agent last called from; PORT its agent_port, else the plugin's
    agent_port (62354). Each attempt is recorded (and logged in the agent's Prepared runs with
    --all-with-runs). Outcomes: woken, busy, unreachable, refused (the agent does not trust this
    server: see its httpd-trust setting).
    """
    if not agent_ids and not all_with_runs and task_id is None:
        raise click.UsageError("give --agent ID (repeatable), --all-with-runs or --task ID")
    if task_id is not None and (agent_ids or all_with_runs):
        raise click.UsageError("--task cannot be combined with --agent or --all-with-runs")
    try:
        config = load_config(database_url=database_url, wakeup_concurrency=concurrency)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if task_id is not None:
        _push_task(config, task_id, as_json)
        return
    with open_database(config.database_url) as engine:
        require_tables(engine, config.database_url)
        run_ids: dict[int, list[int]] = {}
        if all_with_runs:
            with engine.connect() as conn:
                run_ids = wakeup.agents_with_prepared_runs(conn)
        ids = list(dict.fromkeys([*agent_ids, *run_ids]))
        report = wakeup.wake_agents(engine, ids, concurrency=config.wakeup_concurrency,
                                    status_timeout=config.wakeup_status_timeout,
                                    now_timeout=config.wakeup_now_timeout, run_ids=run_ids)
    if as_json:
        click.echo(json.dumps({
            "results": [{"agent": r.agent_id, "outcome": r.outcome, "address": r.address, "port": r.port,
                         "detail": r.detail, "runs": list(r.run_ids)} for r in report.results],
            "counts": report.counts(), "elapsed": round(report.elapsed, 3),
            "max_in_flight": report.max_in_flight,
        }, indent=2))
    else:
        if not report.results:
            click.echo("no agent to wake up")
        for result in report.results:
            click.echo(result.line())
        if len(report.results) > 1:
            click.echo(report.summary())
    if report.results and not any(r.outcome == wakeup.WOKEN for r in report.results):
        sys.exit(1)


def _push_task(config, task_id: int, as_json: bool) -> None:
    with open_database(config.database_url) as engine:
        with engine.connect() as conn:
            if conn.execute(select(schema.tasks.c.id).where(schema.tasks.c.id == task_id)).first() is None:
                raise click.ClickException(f"no task {task_id}")
        preparation = prepare_runs(engine, task_id=task_id)
        report = push.push_pass(engine, task_id=task_id, force=True, lock_timeout=30,
                                concurrency=config.wakeup_concurrency,
                                status_timeout=config.wakeup_status_timeout,
                                now_timeout=config.wakeup_now_timeout)
    if report.busy:
        raise click.ClickException("another push pass is running; try again")
    if as_json:
        click.echo(json.dumps({"task": task_id, "prepared": preparation.prepared, "runs": report.first,
                               "counts": report.outcomes, "max_in_flight": report.max_in_flight,
                               "elapsed": round(report.seconds, 3)}, indent=2))
    else:
        click.echo(f"task {task_id}: {plural(preparation.prepared, 'run')} prepared now")
        for line in report.lines():
            click.echo(line)
    if report.first and not report.outcomes[wakeup.WOKEN]:
        sys.exit(1)
