"""The administrator's verbs in the CLI, through click's CliRunner on the ``database_url`` of the
test (SQLite and MariaDB). The JSON API's side is ``admin_api.call`` on the ``api`` fixture
(tests/integration/conftest.py)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from fusion_bridge.cli.main import main


def cli(database_url, *args, expect=0, input=None):
    result = CliRunner().invoke(main, [*args, "--database", database_url], input=input)
    assert result.exit_code == expect, result.output
    assert "Traceback" not in result.output
    return result


def cli_json(database_url, *args):
    return json.loads(cli(database_url, *args, "--json").stdout)


def cli_error(database_url, *args) -> str:
    """The one-line error of a refused command."""
    result = cli(database_url, *args, expect=1)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]
