"""Fixtures of every test: each database test runs on SQLite and on MariaDB (the MariaDB cases
carry the ``mariadb`` marker, so ``-m "not mariadb"`` is the SQLite-only loop).

Nothing here starts or connects to anything until a test asks for a database fixture: the unit
tests (tests/unit) run without MariaDB and without network.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

import schema
from fusion_bridge.app import create_app
from fusion_bridge.adapters.db import make_engine
from fusion_bridge.adapters.deploy_repository import FileRepository
from tests.helpers.db import reset_database
from tests.helpers.mariadb import MariaDBServer

# Property tests: a quick profile for the development loop, a thorough one where CI runs
# (CI=true), or HYPOTHESIS_PROFILE=ci by hand.
settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


@pytest.fixture(scope="session")
def mariadb_server():
    server = MariaDBServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _initialised_databases(tmp_path_factory, request):
    """One initialised database per backend for the whole session, made on first use."""
    made: dict[str, str] = {}
    dropped = []

    def get(backend: str) -> str:
        if backend not in made:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'bridge.sqlite'}"
            else:
                server = request.getfixturevalue("mariadb_server")
                url = server.create_database()
                dropped.append((server, url))
            engine = make_engine(url)
            schema.init_database(engine)
            engine.dispose()
            made[backend] = url
        return made[backend]

    yield get
    for server, url in dropped:
        server.drop_database(url)


@pytest.fixture(params=BACKENDS)
def database_url(request, _initialised_databases) -> str:
    url = _initialised_databases(request.param)
    engine = make_engine(url)
    reset_database(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def deploy_repository(tmp_path) -> FileRepository:
    """The deploy file repository of the ``app`` fixture (empty)."""
    return FileRepository(tmp_path / "deploy-repository")


@pytest.fixture
def app(database_url, deploy_repository):
    # LOG_INTERVAL 0: every refusal and failure logged, as tests compare log lines.
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "LOG_INTERVAL": 0,
                      "DEPLOY_REPOSITORY": str(deploy_repository.root)})
    yield app
    app.extensions["fusion_bridge"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
