"""The command's database: opened once, with every failure told in one line.

A command never prints a traceback because the database is away, unknown, or its URL is
wrong, and never prints the URL's password. Commands other than ``db init`` and ``serve``
never create a database: a missing SQLite file is reported instead of created empty.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Iterator

import click
from sqlalchemy import inspect
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

import schema
from fusion_bridge.adapters import db_errors
from fusion_bridge.adapters.db import make_engine
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.adapters.secret_codec import glpi_secrets, use_glpi_secrets
from fusion_bridge.cli.options import load_config

URL_FORM = "dialect+driver://user:password@host[:port]/database, e.g. mysql+pymysql://glpi:secret@127.0.0.1/glpi"
# user:password@ in a URL that does not parse: the password is masked all the same.
_CREDENTIALS = re.compile(r"(//[^/@:]*:)[^/@]*@")


def safe_url(url: str) -> str:
    """``url`` without its password, even when it does not parse."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _CREDENTIALS.sub(r"\1***@", url)


def shown_url(database_url: str | None) -> str:
    """The URL a command works on (``--database``, else the settings), without its password."""
    return safe_url(load_config(database_url=database_url).database_url)


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        raise click.ClickException(f"{safe_url(url)} is not a database URL; expected {URL_FORM}") from None


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, in memory, or a ``file:`` URI)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if str(url.query.get("uri", "")).lower() in ("true", "1"):
        return None
    return Path(url.database)


# Server errors whose message quotes the value written (a duplicate key, a string or date the
# column refused): that value may be a community or a passphrase, so only the kind is told.
_QUOTING_VALUES = frozenset({1062, 1586, 1859, 1366, 1292, 1411})


def reason(error: BaseException, url: URL | None = None) -> str:
    """The server's or driver's own message, on one line: no SQL, no parameters, no password,
    no value the statement wrote."""
    original = getattr(error, "orig", None) or error
    args = getattr(original, "args", ())
    if len(args) >= 2 and isinstance(args[0], int) and args[0] in _QUOTING_VALUES:
        text = db_errors.describe(error)
    elif len(args) >= 2 and isinstance(args[0], int):  # pymysql: (error code, message)
        text = str(args[1])
    else:
        text = str(original).split("\n", 1)[0]
    if url is not None and url.password:
        text = text.replace(str(url.password), "***")
    return " ".join(text.split()) or type(error).__name__


def _engine_for(url: URL, text: str, flavour: str) -> Engine:
    try:
        return make_engine(text, flavour=flavour)
    except (ArgumentError, ImportError) as error:  # unknown dialect, driver not installed
        raise click.ClickException(f"cannot use {safe_url(text)}: {reason(error, url)}; expected {URL_FORM}") \
            from None


@contextlib.contextmanager
def open_database(database_url: str | None, *, create: bool = False) -> Iterator[Engine]:
    """An engine on the command's database (``--database``, else the settings), which answered.

    ``create``: a missing SQLite file may be created (``db init``, ``serve``); otherwise it is
    an error. Database errors raised inside the block become one line too.
    """
    config = load_config(database_url=database_url)
    text = config.database_url
    url = parse_url(text)
    path = sqlite_file(url)
    if path is not None and not create and not path.exists():
        raise click.ClickException(f"no database at {path.absolute()}; run `fusion-bridge db init` "
                                   "(or give --database URL)")
    engine = _engine_for(url, text, config.schema_flavour)
    # GLPI 10/11: the credential verbs encrypt and read secrets with the site key (docs/glpi-secrets.md §2).
    use_glpi_secrets(engine, glpi_secrets(config.glpi_key_file))
    try:
        try:
            with engine.connect():
                pass
        except SQLAlchemyError as error:
            raise click.ClickException(f"cannot connect to {safe_url(text)}: {reason(error, url)}") from None
        try:
            yield engine
        except SQLAlchemyError as error:
            if create:  # the command makes the tables: "run db init" would not help
                raise click.ClickException(f"{safe_url(text)}: {reason(error, url)}") from None
            raise _failure(engine, url, text, error) from None
    finally:
        engine.dispose()


def _no_tables(database_url: str | None) -> click.ClickException:
    return click.ClickException(f"{shown_url(database_url)} has no FusionInventory tables: run "
                                "`fusion-bridge db init` (or install the plugin in GLPI)")


def require_tables(engine: Engine, database_url: str | None) -> None:
    """Stop before work that would fail table after table (and log each failure)."""
    if not inspect(engine).has_table(layout_of(engine).table(schema.tasks.name)):
        raise _no_tables(database_url)


def _failure(engine: Engine, url: URL, text: str, error: SQLAlchemyError) -> click.ClickException:
    try:
        tables_missing = not inspect(engine).has_table(schema.tasks.name)
    except SQLAlchemyError:  # the database went away: its own error says so
        tables_missing = False
    if tables_missing:
        return _no_tables(text)
    return click.ClickException(f"{safe_url(text)}: {reason(error, url)}")
