"""Options every ``fusion-bridge`` command takes, and the settings they resolve to.

``--database URL`` and ``--json`` are accepted at every level: before the sub-command
(``fusion-bridge --json running``), after a group (``fusion-bridge deploy --json package list``)
and after the command itself. An option given at several levels takes the innermost value.
The value travels down through ``click.Context.meta``, which nested contexts share; outer
levels are parsed first, so the last value stored is the innermost one given.
"""

from __future__ import annotations

from typing import Any

import click

from fusion_bridge.config import Config

_GIVEN = "fusion_bridge.given."  # prefix of the keys in ctx.meta


def _inherited(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """The value given at this level, else the one an outer level was given."""
    key = _GIVEN + param.name
    if value is None or value is False:
        return ctx.meta.get(key, value)
    ctx.meta[key] = value
    return value


DATABASE_HELP = ("SQLAlchemy URL, e.g. mysql+pymysql://glpi:secret@127.0.0.1/glpi "
                 "(default: $FUSION_BRIDGE_DATABASE_URL, else sqlite:///fusion-bridge.sqlite).")
JSON_HELP = "Print JSON instead of text."


def database_option(function=None, *, expose_value: bool = True):
    # No envvar here: $FUSION_BRIDGE_DATABASE_URL is read by Config, below any --database given.
    decorator = click.option("--database", "database_url", metavar="URL", callback=_inherited,
                             expose_value=expose_value, help=DATABASE_HELP)
    return decorator if function is None else decorator(function)


def json_option(function=None, *, expose_value: bool = True):
    decorator = click.option("--json", "as_json", is_flag=True, callback=_inherited, expose_value=expose_value,
                             help=JSON_HELP)
    return decorator if function is None else decorator(function)


def common(function):
    """``--database`` and ``--json`` for a command, passed as ``database_url`` and ``as_json``."""
    return database_option(json_option(function))


def for_group(function):
    """``--database`` and ``--json`` on a group: remembered for its sub-commands."""
    return database_option(json_option(function, expose_value=False), expose_value=False)


def load_config(**overrides) -> Config:
    """The settings from the environment, with the options given (None = not given)."""
    return Config.from_env().updated({k: v for k, v in overrides.items() if v is not None})
