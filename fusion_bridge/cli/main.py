"""The ``fusion-bridge`` command: the root group, ``db``, ``serve`` and ``prepare``, and the
registration of every sub-command module's groups and commands (none of them imports this one).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from fusion_bridge import __version__
from fusion_bridge.cli import crontasks, relay, wakeup
from fusion_bridge.cli.inventory import agents
from fusion_bridge.cli.inventory import collect
from fusion_bridge.cli.inventory import credentials
from fusion_bridge.cli.deploy import packages as deploy
from fusion_bridge.cli.deploy import groups as deploy_groups
from fusion_bridge.cli.inventory import esx
from fusion_bridge.cli.tasks import executions
from fusion_bridge.cli.tasks import settings
from fusion_bridge.cli.tasks import definitions as tasks
from fusion_bridge.cli.tasks import updates
from fusion_bridge.cli.database import open_database, require_tables, shown_url
from fusion_bridge.cli.options import common, for_group, load_config
from fusion_bridge.domain.text import plural


def _echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _init_summary(report) -> str:
    plugin = "glpiinventory" if report.flavour == "glpiinventory" else "FusionInventory"
    glpi = f"GLPI {report.glpi}" if report.flavour == "glpiinventory" else "GLPI"
    words = {
        "created": f"created the {glpi} and {plugin} plugin tables",
        "standalone-upgraded": f"the bridge's own database ({glpi} + {plugin})",
        "existing-glpi": f"{glpi} database with the {plugin} plugin, left unchanged",
    }
    created = f"{plural(len(report.tables_created), 'table')} created" if report.tables_created else "no table created"
    seeded = f", {plural(len(report.rows_seeded), 'install row')} added" if report.rows_seeded else ""
    return f"{words.get(report.mode, report.mode)}; {created}{seeded}"


def _check_lines(report) -> list[str]:
    lines = []
    if report.schema is not None:
        evidence = f" ({report.schema.evidence})" if report.schema.evidence else ""
        lines.append(f"schema     {report.schema.flavour or 'none'}: {report.schema.describe()}{evidence}")
    for table in report.tables:
        detail = f" (missing columns: {', '.join(table.missing_columns)})" if table.missing_columns else ""
        lines.append(f"{table.status:10s} {table.name}{detail}")
        lines.extend(f"{'':10s}   note: {note}" for note in table.type_notes)
    for seed in report.seeds:
        lines.append(f"{'ok' if seed.ok else 'missing':10s} row: {seed.description}")
    lines.append("database is ready" if report.ok else plural(len(report.problems()), "problem"))
    return lines


@click.group()
@click.version_option(__version__, prog_name="fusion-bridge")
@for_group
def main() -> None:
    """FusionInventory agent server and task manager on GLPI's database.

    --database and --json may be given here, after a group or after the command.
    """
    from fusion_bridge.ops.logging_setup import configure_from_env

    try:  # text or JSON lines (FUSION_BRIDGE_LOG_FORMAT), as serve's workers and scheduler write
        configure_from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@click.group()
@for_group
def db() -> None:
    """Create or verify the database tables."""


@db.command("init")
@common
@click.option("--schema", "flavour", type=click.Choice(["auto", "fusioninventory", "glpiinventory"]),
              help="The schema to create on an empty database: fusioninventory (GLPI 9.5 + FusionInventory "
                   "9.5+4.2) or glpiinventory (GLPI 10/11 + glpiinventory). Default: $FUSION_BRIDGE_SCHEMA, "
                   "else auto (what the database holds; fusioninventory when empty).")
@click.option("--glpi", type=click.Choice(["10", "11"]),
              help="GLPI major of the glpiinventory schema (default: what the database holds, else 10).")
def db_init(database_url: str | None, as_json: bool, flavour: str | None, glpi: str | None) -> None:
    """Create the tables on an empty database; on GLPI's, verify and add only the bridge's own."""
    from schema import SchemaError, init_database

    flavour = flavour or load_config(database_url=database_url).schema_flavour
    if glpi is not None and flavour == "fusioninventory":
        raise click.UsageError("--glpi goes with --schema glpiinventory (fusioninventory is GLPI 9.5's)")
    if glpi is not None and flavour == "auto":
        flavour = "glpiinventory"
    with open_database(database_url, create=True) as engine:
        try:
            report = init_database(engine, flavour, int(glpi) if glpi else None)
        except SchemaError as error:
            raise click.ClickException(str(error)) from None
    shown = shown_url(database_url)
    if as_json:
        _echo_json({"database": shown, **asdict(report)})
    else:
        click.echo(f"{shown}: {_init_summary(report)}")
        for problem in report.problems:
            click.echo(f"  problem: {problem}", err=True)


@db.command("check")
@common
@click.option("--scheduler/--no-scheduler", default=True,
              help="Whether the bridge serving this database runs its scheduler (serve's default: on); "
                   "then the plugin's competing cron tasks must be disabled (`db takeover`).")
def db_check(database_url: str | None, as_json: bool, scheduler: bool) -> None:
    """Report, table by table, whether the database has what the bridge needs, and the plugin's
    cron tasks that would prepare, wake up or clean up next to the bridge's scheduler."""
    from schema import check_database

    with open_database(database_url) as engine:
        report = check_database(engine)
    if as_json:
        _echo_json({"ok": report.ok, "problems": report.problems(), **asdict(report),
                    "competing_cron_tasks": [task.label for task in report.competing()] if scheduler else []})
    else:
        for line in _check_lines(report):
            click.echo(line)
        for task in report.cron_tasks:
            click.echo(f"{'enabled' if task.enabled else 'disabled':10s} GLPI cron task {task.label} "
                       f"({task.purpose})")
    if not report.ok:
        click.echo("The database is not ready: run `fusion-bridge db init` (or install the plugin in GLPI).", err=True)
        sys.exit(1)
    if scheduler and report.competing():
        click.echo(f"{len(report.competing())} plugin cron task(s) would compete with the bridge's scheduler: "
                   "run `fusion-bridge db takeover` (undo with `db handback`), or serve with --no-scheduler.",
                   err=True)
        sys.exit(1)


@click.command()
@click.option("--bind", metavar="HOST:PORT", help="Address to listen on (default 127.0.0.1:8080).")
@click.option("--workers", type=int, help="Worker processes (default 2 x cores + 1).")
@click.option("--threads", type=int, help="Threads per worker, one connection each (default 32).")
@common
@click.option("--access-log/--no-access-log", default=None,
              help="One line per request (default: $FUSION_BRIDGE_ACCESS_LOG, else off).")
@click.option("--scheduler/--no-scheduler", default=True,
              help="Prepare task runs every minute in a process next to the server (default: on).")
@click.option("--inventory-upstream", metavar="URL",
              help="Relay INVENTORYs to GLPI's own import at URL instead of importing them "
                   "(default: $FUSION_BRIDGE_INVENTORY_UPSTREAM).")
@click.option("--certfile", metavar="PEM", help="Serve HTTPS with this certificate (chain), with --keyfile.")
@click.option("--keyfile", metavar="PEM", help="The certificate's private key.")
def serve(bind: str | None, workers: int | None, threads: int | None, database_url: str | None, as_json: bool,
          access_log: bool | None, scheduler: bool, inventory_upstream: str | None, certfile: str | None,
          keyfile: str | None) -> None:
    """Serve agents under gunicorn.

    With --json the start-up banner is one JSON object.
    """
    from schema import SchemaError, check_database, init_database

    from fusion_bridge.http.edge_settings import check_edge_settings
    from fusion_bridge.ops import runtime
    from fusion_bridge.serve import agent_url, check_settings, default_workers, run
    from fusion_bridge.services.relay.settings import relay_problem

    try:
        config = load_config(bind=bind, workers=workers, threads=threads, database_url=database_url,
                             inventory_upstream=inventory_upstream)
        check_settings(config)
        check_edge_settings(config)
        ops = runtime.serve_settings(access_log, certfile, keyfile)
        runtime.check_tls(ops)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if relay_problem(config):
        raise click.ClickException(relay_problem(config))
    shown = shown_url(config.database_url)
    # The embedded database is the bridge's own: created on first start.
    with open_database(config.database_url, create=True) as engine:
        try:
            if engine.dialect.name == "sqlite":
                init_database(engine)
            else:
                report = check_database(engine)
                if not report.ok:
                    for line in _check_lines(report):
                        click.echo(line, err=True)
                    raise click.ClickException("the database is not ready: run `fusion-bridge db init` first")
        except SchemaError as error:
            raise click.ClickException(f"{shown}: {error}") from None
    from fusion_bridge.scheduler import SchedulerSettings

    try:
        interval = SchedulerSettings.from_env().interval if scheduler else None
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    # Before the scheduler child and gunicorn's workers exist: they find it in the environment.
    runtime.prepare_run_dir(ops, scheduler)
    shown_banner = runtime.banner(version=__version__, database=shown, bind=config.bind,
                                  agent_url=agent_url(config.bind, tls=bool(ops.certfile)),
                                  workers=config.workers or default_workers(), scheduler=scheduler,
                                  scheduler_interval=interval, settings=ops)
    if as_json:
        click.echo(json.dumps(shown_banner))
    else:
        for line in runtime.banner_lines(shown_banner):
            click.echo(line)
    run(config, ops.access_log, scheduler=scheduler)


@click.command()
@common
@click.option("--once", is_flag=True,
              help="Run one pass (preparation, time-outs, retention), print it and exit.")
def prepare(database_url: str | None, as_json: bool, once: bool) -> None:
    """Prepare task runs, time out silent runs and apply retention (every minute, or --once).

    Settings: FUSION_BRIDGE_SCHEDULER_INTERVAL (60 s), FUSION_BRIDGE_RUN_TIMEOUT_MINUTES (240),
    FUSION_BRIDGE_RUNS_KEPT (10).
    """
    from fusion_bridge.scheduler import Scheduler, SchedulerSettings, run_child

    if as_json and not once:
        raise click.UsageError("--json goes with --once (the loop only logs)")
    try:
        settings = SchedulerSettings.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    with open_database(database_url) as engine:
        require_tables(engine, database_url)
        scheduler = Scheduler(engine, settings)
        if not once:
            run_child(scheduler)
            return
        report = scheduler.run_pass(retention=True)
    failed = bool(report.errors or report.preparation.errors
                  or any(t.error for t in report.preparation.tasks.values()))
    if as_json:
        _echo_json({"ok": not failed, **asdict(report), "lines": report.lines()})
    else:
        for line in report.lines():
            click.echo(line)
    if failed:
        sys.exit(1)


# Every sub-command, registered here: the modules that define them import nothing of this one.
tasks.task.add_command(settings.task_settings_command)
tasks.task.add_command(executions.task_executions)
tasks.task.add_command(executions.task_wakeups)
tasks.action.add_command(settings.action_settings_command)
for command in (db, serve, prepare, tasks.task, tasks.action, tasks.iprange, tasks.credential, tasks.timeslot,
                tasks.running, tasks.run_history, wakeup.wakeup_command, deploy.deploy):
    main.add_command(command)
tasks.task.add_command(updates.task_update)
tasks.action.add_command(updates.action_update)
for command in (credentials.credential_update, credentials.credential_delete, credentials.credential_restore):
    tasks.credential.add_command(command)
deploy.deploy.add_command(deploy_groups.group_group)
for command in (agents.agent_group, credentials.device, collect.collect_group, esx.esx_group):
    main.add_command(command)
db.add_command(crontasks.db_takeover)
db.add_command(crontasks.db_handback)
main.add_command(relay.relay)
