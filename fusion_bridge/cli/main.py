"""The ``fusion-bridge`` command."""

from __future__ import annotations

import logging
import sys

import click
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from fusion_bridge import __version__
from fusion_bridge.config import Config
from fusion_bridge.adapters import db_errors
from fusion_bridge.adapters.db import make_engine

database_option = click.option(
    "--database", "database_url", metavar="URL", envvar="FUSION_BRIDGE_DATABASE_URL",
    help="SQLAlchemy URL, e.g. mysql+pymysql://glpi:secret@127.0.0.1/glpi "
         "(default: $FUSION_BRIDGE_DATABASE_URL, else sqlite:///fusion-bridge.sqlite).",
)


def _config(**overrides) -> Config:
    return Config.from_env().updated({k: v for k, v in overrides.items() if v is not None})


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _why(error: Exception) -> str:
    """What failed, for the terminal: a database error by its kind and code only (its text may
    quote the values written: communities, passphrases)."""
    return db_errors.describe(error) if isinstance(error, SQLAlchemyError) else str(error)


def _init_summary(report) -> str:
    words = {
        "created": "created the GLPI and plugin tables",
        "standalone-upgraded": "the bridge's own database",
        "existing-glpi": "GLPI database with the FusionInventory plugin, left unchanged",
    }
    created = f"{len(report.tables_created)} table(s) created" if report.tables_created else "no table created"
    seeded = f", {len(report.rows_seeded)} install row(s) added" if report.rows_seeded else ""
    return f"{words.get(report.mode, report.mode)}; {created}{seeded}"


def _check_lines(report) -> list[str]:
    lines = []
    for table in report.tables:
        detail = f" (missing columns: {', '.join(table.missing_columns)})" if table.missing_columns else ""
        lines.append(f"{table.status:10s} {table.name}{detail}")
        lines.extend(f"{'':10s}   note: {note}" for note in table.type_notes)
    for seed in report.seeds:
        lines.append(f"{'ok' if seed.ok else 'missing':10s} row: {seed.description}")
    lines.append("database is ready" if report.ok else f"{len(report.problems())} problem(s)")
    return lines


@click.group()
@click.version_option(__version__, prog_name="fusion-bridge")
def main() -> None:
    """FusionInventory agent server and task manager on GLPI's database."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.group()
def db() -> None:
    """Create or verify the database tables."""


@db.command("init")
@database_option
def db_init(database_url: str | None) -> None:
    """Create the tables on an empty database; on GLPI's, verify and add only the bridge's own."""
    from schema import SchemaError, init_database

    config = _config(database_url=database_url)
    engine = make_engine(config.database_url)
    try:
        report = init_database(engine)
    except SchemaError as error:
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        raise click.ClickException(f"cannot initialise {_safe_url(config.database_url)}: {_why(error)}") from None
    finally:
        engine.dispose()
    click.echo(f"{_safe_url(config.database_url)}: {_init_summary(report)}")
    for problem in report.problems:
        click.echo(f"  problem: {problem}", err=True)


@db.command("check")
@database_option
def db_check(database_url: str | None) -> None:
    """Report, table by table, whether the database has what the bridge needs."""
    from schema import check_database

    config = _config(database_url=database_url)
    engine = make_engine(config.database_url)
    try:
        report = check_database(engine)
    except SQLAlchemyError as error:
        raise click.ClickException(f"cannot read {_safe_url(config.database_url)}: {_why(error)}") from None
    finally:
        engine.dispose()
    for line in _check_lines(report):
        click.echo(line)
    if not report.ok:
        click.echo("The database is not ready: run `fusion-bridge db init` (or install the plugin in GLPI).", err=True)
        sys.exit(1)


@main.command()
@click.option("--bind", metavar="HOST:PORT", help="Address to listen on (default 127.0.0.1:8080).")
@click.option("--workers", type=int, help="Worker processes (default 2 x cores + 1).")
@database_option
@click.option("--access-log/--no-access-log", default=False, help="Log every request.")
@click.option("--scheduler/--no-scheduler", default=True,
              help="Prepare task runs every minute in a process next to the server (default: on).")
def serve(bind: str | None, workers: int | None, database_url: str | None, access_log: bool,
          scheduler: bool) -> None:
    """Serve agents under gunicorn."""
    from schema import SchemaError, check_database, init_database

    from fusion_bridge.serve import agent_url, run

    config = _config(bind=bind, workers=workers, database_url=database_url)
    engine = make_engine(config.database_url)
    try:
        if engine.dialect.name == "sqlite":
            # The embedded database is the bridge's own: create it on first start.
            init_database(engine)
        else:
            report = check_database(engine)
            if not report.ok:
                for line in _check_lines(report):
                    click.echo(line, err=True)
                raise click.ClickException("the database is not ready: run `fusion-bridge db init` first")
    except (SchemaError, SQLAlchemyError) as error:
        raise click.ClickException(f"{_safe_url(config.database_url)}: {_why(error)}") from None
    finally:
        engine.dispose()
    click.echo(f"fusion-bridge {__version__} on {_safe_url(config.database_url)}")
    click.echo(f"Point agents at: fusioninventory-agent --server {agent_url(config.bind)}")
    if not scheduler:
        run(config, access_log)
        return
    from fusion_bridge.scheduler import SchedulerSettings, start_process

    try:
        SchedulerSettings.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    # `fusion-bridge prepare` in a child process, with its own database engine.
    process = start_process(config.database_url)
    try:
        run(config, access_log)
    finally:
        process.stop()


@main.command()
@database_option
@click.option("--once", is_flag=True,
              help="Run one pass (preparation, time-outs, retention), print it and exit.")
def prepare(database_url: str | None, once: bool) -> None:
    """Prepare task runs, time out silent runs and apply retention (every minute, or --once).

    Settings: FUSION_BRIDGE_SCHEDULER_INTERVAL (60 s), FUSION_BRIDGE_RUN_TIMEOUT_MINUTES (240),
    FUSION_BRIDGE_RUNS_KEPT (10).
    """
    from fusion_bridge.scheduler import Scheduler, SchedulerSettings, run_child

    config = _config(database_url=database_url)
    try:
        settings = SchedulerSettings.from_env()
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    engine = make_engine(config.database_url)
    try:
        scheduler = Scheduler(engine, settings)
        if not once:
            run_child(scheduler)
            return
        report = scheduler.run_pass(retention=True)
    except SQLAlchemyError as error:
        raise click.ClickException(f"{_safe_url(config.database_url)}: {_why(error)}") from None
    finally:
        engine.dispose()
    for line in report.lines():
        click.echo(line)
    if report.errors or report.preparation.errors or any(t.error for t in report.preparation.tasks.values()):
        sys.exit(1)


# The task commands (task, action, iprange, credential, timeslot, running, history) and the
# deploy commands add themselves to ``main`` on import.
from fusion_bridge.cli import tasks as cli_tasks  # noqa: E402,F401
from fusion_bridge.cli import wakeup as cli_wakeup  # noqa: E402,F401
from fusion_bridge.cli import settings as cli_settings  # noqa: E402,F401
from fusion_bridge.cli import deploy as cli_deploy  # noqa: E402,F401
from fusion_bridge.cli import executions as cli_executions  # noqa: E402,F401
