"""Run a benchmark on a scratch MariaDB database, then (optionally) on an SQLite file."""

from __future__ import annotations

import tempfile
from typing import Callable

from tests.helpers.mariadb import MariaDBServer


def on_each_database(run: Callable[[str], None], name: str, sqlite: bool) -> None:
    """``run(database_url)`` on a new MariaDB database ``<name>_…`` (dropped afterwards), then on
    a temporary SQLite file when ``sqlite``."""
    server = MariaDBServer()
    url = server.create_database(name)
    try:
        print("== MariaDB")
        run(url)
    finally:
        server.drop_database(url)
        server.stop()
    if sqlite:
        with tempfile.TemporaryDirectory() as folder:
            print("== SQLite")
            run(f"sqlite:///{folder}/bench.sqlite")
