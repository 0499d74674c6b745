"""Helpers of the tests of the administrator's verbs: the CLI through click's CliRunner and the
JSON API through Flask's test client, both on the ``database_url`` of the test (SQLite and
MariaDB). Import ``api`` to use the fixture."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fusion_bridge import create_app
from fusion_bridge.cli.main import main

TOKEN = "0123456789abcdef-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(database_url):
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "ADMIN_TOKEN": TOKEN})
    yield app.test_client()
    app.extensions["fusion_bridge"].dispose()


def call(api, method, path, body=None, expect=200):
    response = api.open(path, method=method, json=body, headers=AUTH)
    assert response.status_code == expect, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    return response.get_json()


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
