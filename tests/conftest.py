"""Fixtures of every test: each database test runs on SQLite and on MariaDB (the MariaDB cases
carry the ``mariadb`` marker, so ``-m "not mariadb"`` is the SQLite-only loop).

Nothing here starts or connects to anything until a test asks for a database fixture: the unit
tests (tests/unit) run without MariaDB and without network.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from fusion_bridge.app import create_app
from fusion_bridge.adapters.db import make_engine
from fusion_bridge.adapters.deploy_repository import FileRepository
from fusion_bridge.adapters.glpi_key import new_key_file
from fusion_bridge.adapters.secret_codec import glpi_secrets, use_glpi_secrets
from tests.helpers.db import reset_database
from tests.helpers.layouts import FUSIONINVENTORY, GLPIINVENTORY, init_flavoured_database
from tests.helpers.mariadb import MariaDBServer

# Property tests: a quick profile for the development loop, a thorough one where CI runs
# (CI=true), or HYPOTHESIS_PROFILE=ci by hand.
settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


BACKENDS = ["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)]


def pytest_configure(config):
    config.addinivalue_line("markers", "both_flavours: the module's database tests also run on a glpiinventory "
                                       "database (docs/schema-layouts.md)")


def pytest_generate_tests(metafunc):
    """``database_url`` on each backend; in modules marked ``both_flavours`` also on a
    glpiinventory database of each (ids ``sqlite-glpiinventory``, ``mariadb-glpiinventory``)."""
    if "database_url" not in metafunc.fixturenames or any(
            "database_url" in marker.args[0] for marker in metafunc.definition.iter_markers("parametrize")):
        return  # a test naming its backend (``["mariadb"]``) gets FusionInventory's tables
    params = [pytest.param((backend, FUSIONINVENTORY), id=backend, marks=marks)
              for backend, marks in (("sqlite", ()), ("mariadb", pytest.mark.mariadb))]
    if metafunc.definition.get_closest_marker("both_flavours") is not None:
        params += [pytest.param((backend, GLPIINVENTORY), id=f"{backend}-{GLPIINVENTORY}", marks=marks)
                   for backend, marks in (("sqlite", ()), ("mariadb", pytest.mark.mariadb))]
    metafunc.parametrize("database_url", params, indirect=True)


@pytest.fixture(scope="session")
def mariadb_server():
    server = MariaDBServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _initialised_databases(tmp_path_factory, request):
    """One initialised database per backend and schema flavour for the whole session, made on
    first use."""
    made: dict[tuple[str, str], str] = {}
    dropped = []

    def get(backend: str, flavour: str) -> str:
        if (backend, flavour) not in made:
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'bridge.sqlite'}"
            else:
                server = request.getfixturevalue("mariadb_server")
                url = server.create_database()
                dropped.append((server, url))
            init_flavoured_database(url, flavour)
            made[backend, flavour] = url
        return made[backend, flavour]

    yield get
    for server, url in dropped:
        server.drop_database(url)


@pytest.fixture
def database_url(request, _initialised_databases) -> str:
    backend, flavour = (request.param, FUSIONINVENTORY) if isinstance(request.param, str) else request.param
    url = _initialised_databases(backend, flavour)
    engine = make_engine(url)
    reset_database(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def glpi_key_file(tmp_path_factory) -> str:
    """A GLPI key file (``config/glpicrypt.key``) made for the session: the ``app`` and ``engine``
    fixtures use it, so that secrets of a glpiinventory database are written and read encrypted
    (docs/glpi-secrets.md §1)."""
    path = tmp_path_factory.mktemp("glpi-config") / "glpicrypt.key"
    new_key_file(str(path))
    return str(path)


@pytest.fixture
def engine(database_url, glpi_key_file):
    engine = use_glpi_secrets(make_engine(database_url), glpi_secrets(glpi_key_file))
    yield engine
    engine.dispose()


@pytest.fixture
def deploy_repository(tmp_path) -> FileRepository:
    """The deploy file repository of the ``app`` fixture (empty)."""
    return FileRepository(tmp_path / "deploy-repository")


@pytest.fixture
def app(database_url, deploy_repository, glpi_key_file):
    # LOG_INTERVAL 0: every refusal and failure logged, as tests compare log lines.
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "LOG_INTERVAL": 0,
                      "DEPLOY_REPOSITORY": str(deploy_repository.root), "GLPI_KEY_FILE": glpi_key_file})
    yield app
    app.extensions["fusion_bridge"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
