"""Shared fixtures: every database test runs on both SQLite and MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

import schema
from fusion_bridge import create_app
from fusion_bridge.adapters.db import make_engine
from tests.mariadb import MariaDBServer

BACKENDS = ["sqlite", "mariadb"]


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


def reset_database(engine) -> None:
    """Empty every table, then put the install-time rows back."""
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            if table is not schema.bridge_meta:
                conn.execute(delete(table))
        schema.insert_missing_seed_rows(conn)


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
def app(database_url):
    # LOG_INTERVAL 0: every refusal and failure logged, as tests compare log lines.
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "LOG_INTERVAL": 0})
    yield app
    app.extensions["fusion_bridge"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
