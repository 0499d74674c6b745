"""Fixtures shared by several integration test modules (the database ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from fusion_bridge.app import create_app
from tests.helpers import deploy_rest
from tests.helpers.admin_api import ADMIN_TOKEN
from tests.helpers.inventory_rows import add_agent
from tests.helpers.layouts import GLPIINVENTORY, init_flavoured_database
from tests.helpers.relay_upstream import ScriptedUpstream
from tests.helpers.task_rows import add_task


@pytest.fixture
def api(database_url, glpi_key_file):
    """A test client of an app with the admin API on (``admin_api.AUTH`` is its token)."""
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "ADMIN_TOKEN": ADMIN_TOKEN,
                      "GLPI_KEY_FILE": glpi_key_file})
    yield app.test_client()
    app.extensions["fusion_bridge"].dispose()


@pytest.fixture
def deploy_agents(engine):
    """The agent of the deploy recordings (id 3), another agent (id 4) and task 1."""
    with engine.begin() as conn:
        add_agent(conn, 3, deploy_rest.DEVICE)
        add_agent(conn, 4, "other-agent")
        add_task(conn, 1)


@pytest.fixture
def upstream():
    """A scripted HTTP upstream on loopback for the relay tests (``relay_upstream.ScriptedUpstream``)."""
    server = ScriptedUpstream(hold=3.0)  # past FAST_RELAY's 2 s read time-out
    yield server
    server.close()


@pytest.fixture
def mariadb_engine(mariadb_url):
    """A plain engine (no bridge settings) on the test module's own ``mariadb_url`` database."""
    engine = create_engine(mariadb_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def glpi11_url(request, tmp_path):
    """An empty GLPI 11 + glpiinventory 1.6 database made by ``db init``, on SQLite or MariaDB."""
    if request.param == "sqlite":
        url, server = f"sqlite:///{tmp_path / 'glpi11.sqlite'}", None
    else:
        server = request.getfixturevalue("mariadb_server")
        url = server.create_database()
    init_flavoured_database(url, GLPIINVENTORY, glpi=11)
    yield url
    if server is not None:
        server.drop_database(url)
