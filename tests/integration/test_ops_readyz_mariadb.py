"""/readyz of a real serve goes 503 while its MariaDB is stopped and 200 when it is back.

The MariaDB here is a throwaway ``mariadbd`` this test starts on its own data directory and
port, and stops and starts again: the shared server at 127.0.0.1:3306 is never touched.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pymysql
import pytest

import schema
from fusion_bridge.adapters.db import make_engine
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.exposition import parse, value
from tests.helpers.serve_process import free_port, running_serve, wait_until

AGENT_PATH = "/plugins/fusioninventory/"


class ThrowawayMariaDB:
    def __init__(self):
        self.daemon = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        assert Path(self.daemon).exists() and installer, "mariadbd is needed (apt-get install mariadb-server)"
        self.datadir = tempfile.mkdtemp(prefix="fb-ops-mariadb-")
        subprocess.run([installer, "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"], check=True, capture_output=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def _answers(self) -> bool:
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=2).close()
            return True
        except pymysql.MySQLError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.daemon, "--no-defaults", f"--datadir={self.datadir}", "--user=root", f"--port={self.port}",
             "--bind-address=127.0.0.1", f"--socket={self.datadir}/mysqld.sock", "--skip-log-bin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_until(lambda: self.process.poll() is not None or self._answers(), timeout=60, every=0.3)
        assert self.process.poll() is None, "the throwaway mariadbd did not start"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(60)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)


@pytest.fixture
def throwaway_mariadb():
    server = ThrowawayMariaDB()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def test_readyz_follows_the_database(tmp_path, throwaway_mariadb):
    server = throwaway_mariadb
    with pymysql.connect(host="127.0.0.1", port=server.port, user="root") as conn, conn.cursor() as cursor:
        cursor.execute("CREATE DATABASE fb CHARACTER SET utf8 COLLATE utf8_unicode_ci")
    url = f"mysql+pymysql://root@127.0.0.1:{server.port}/fb?charset=utf8mb4"
    engine = make_engine(url)
    schema.init_database(engine)
    engine.dispose()

    def readyz(serve) -> tuple[int, dict, str]:
        status, _, body = serve.request("GET", "/readyz")
        return status, json.loads(body), body.decode()

    def post_prolog(serve) -> int:
        return serve.request("POST", AGENT_PATH, prolog("db-2026-01-01-00-00-00"), ZLIB_HEADERS)[0]

    with running_serve(tmp_path, "--workers", "1", "--no-scheduler", "--database", url) as serve:
        status, body, _ = readyz(serve)
        assert status == 200 and body["checks"]["database"]["ok"] is True, body
        assert post_prolog(serve) == 200

        server.stop()
        status, body, text = readyz(serve)
        assert status == 503, body
        assert body["status"] == "not ready"
        assert body["checks"]["database"] == {"ok": False, "problem": "does not answer (OperationalError 2003)"}
        assert body["checks"]["schema"]["ok"] is False
        assert body["problems"][0] == "database: does not answer (OperationalError 2003)"
        assert str(server.port) not in text  # no address of the database to whoever asks
        assert serve.request("GET", "/healthz")[0] == 200  # alive all the same
        assert post_prolog(serve) == 503
        samples = parse(serve.request("GET", "/metrics")[2].decode())
        assert value(samples, "fusion_bridge_database_up") == 0
        assert sum(v for (name, _), v in samples.items() if name == "fusion_bridge_database_errors_total") >= 1

        server.start()  # same data directory, same port
        back = wait_until(lambda: readyz(serve)[0] == 200, timeout=30, every=0.5)
        assert back, readyz(serve)
        assert post_prolog(serve) == 200
        log = serve.log_text()
    assert "readiness: database: does not answer (OperationalError 2003): " in log
    assert "readiness: database is fine again" in log
