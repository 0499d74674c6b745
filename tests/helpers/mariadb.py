"""A MariaDB server for the test session: the machine's, or a throwaway one.

The suite needs a real MariaDB; when none answers on 127.0.0.1:3306 (or at
FUSION_BRIDGE_TEST_MYSQL_URL) it starts the system's ``mariadbd`` on a temporary data
directory. If that is impossible the session fails: it never silently skips MariaDB.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pymysql
from sqlalchemy.engine import make_url

DEFAULT_SERVER_URL = "mysql+pymysql://root@127.0.0.1:3306/"


def _connect(url):
    return pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
                           password=url.password or "", connect_timeout=3)


def _answers(url) -> bool:
    try:
        _connect(url).close()
        return True
    except pymysql.MySQLError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MariaDBServer:
    def __init__(self):
        self.url = make_url(os.environ.get("FUSION_BRIDGE_TEST_MYSQL_URL", DEFAULT_SERVER_URL))
        self._process: subprocess.Popen | None = None
        self._datadir: str | None = None
        if not _answers(self.url):
            self._start_throwaway()

    def _start_throwaway(self) -> None:
        daemon = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not os.path.exists(daemon) or installer is None:
            raise RuntimeError(f"MariaDB is not answering at {self.url.render_as_string()} and no mariadbd "
                               "is installed to start one (apt-get install mariadb-server)")
        self._datadir = tempfile.mkdtemp(prefix="fb-mariadb-")
        subprocess.run([installer, "--no-defaults", f"--datadir={self._datadir}", "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True)
        port = _free_port()
        self._process = subprocess.Popen(
            [daemon, "--no-defaults", f"--datadir={self._datadir}", "--user=root", f"--port={port}",
             "--bind-address=127.0.0.1", f"--socket={self._datadir}/mysqld.sock", "--skip-log-bin"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = make_url(f"mysql+pymysql://root@127.0.0.1:{port}/")
        deadline = time.monotonic() + 60
        while not _answers(self.url):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the throwaway mariadbd did not start")
            time.sleep(0.3)

    def create_database(self, prefix: str = "fb_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with _connect(self.url) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8 COLLATE utf8_unicode_ci")
        return self.url.set(database=name).update_query_dict({"charset": "utf8mb4"}).render_as_string(
            hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with _connect(self.url) as conn, conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
        if self._datadir:
            shutil.rmtree(self._datadir, ignore_errors=True)
