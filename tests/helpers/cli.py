"""``fusion-bridge`` commands run in-process through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result

from fusion_bridge.cli.main import main


def run(database_url: str, *args: str, expect: int = 0, input: str | None = None,
        env: dict[str, str] | None = None) -> Result:
    """``fusion-bridge <args> --database <url>``; fails unless it exits with ``expect``."""
    result = CliRunner().invoke(main, [*args, "--database", database_url], input=input, env=env)
    assert result.exit_code == expect, result.output
    return result


def as_json(database_url: str, *args: str, env: dict[str, str] | None = None):
    """The JSON output of ``fusion-bridge <args> --json``."""
    return json.loads(run(database_url, *args, "--json", env=env).stdout)
