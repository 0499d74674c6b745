"""``fusion-bridge`` of THIS checkout as a subprocess, for the end-to-end tests: ``serve`` on the
host's loopback (``serving``) or inside a private network namespace (``running_bridge``), and
its commands (``cli_json``, ``prepare_once``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.helpers import netns as netnslib

ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT = 60
NETNS_PORT = 8080  # inside a private namespace: always free
NETNS_URL = f"http://127.0.0.1:{NETNS_PORT}/plugins/fusioninventory/"


@dataclass
class Server:
    """A running ``fusion-bridge serve``: its output file, its process, its port on 127.0.0.1."""

    log: Path
    process: subprocess.Popen
    port: int = NETNS_PORT

    @property
    def url(self) -> str:
        """The agent endpoint, as the agent's configuration gives it."""
        return f"http://127.0.0.1:{self.port}/plugins/fusioninventory/"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command() -> list[str]:
    """``fusion-bridge`` of THIS checkout: ``python3 -m fusion_bridge`` with ``checkout_env()``.

    Not the ``fusion-bridge`` console script on PATH: that one runs whichever copy was
    installed (an editable install of another checkout), so the tests would test that copy.
    In a clean clone with ``pip install -e .`` both are the same code."""
    return [sys.executable, "-m", "fusion_bridge"]


def checkout_env(**extra: str) -> dict[str, str]:
    """The environment for ``serve_command()``: the checkout's root first on PYTHONPATH (the
    server runs with another working directory), plus ``extra`` variables."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


@contextlib.contextmanager
def serving(database_url: str, workdir: Path) -> Iterator[Server]:
    """``fusion-bridge serve`` (2 workers) on a free port of the host's 127.0.0.1, with the
    environment of the test process; its output in ``workdir``/server.log."""
    port = free_port()
    log = workdir / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*serve_command(), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--database", database_url],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=workdir, env=checkout_env(),
        )
    server = Server(log, process, port)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"fusion-bridge serve exited with {process.returncode}:\n{server.tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"fusion-bridge serve not answering on port {port} after "
                                f"{SERVER_START_TIMEOUT} s:\n{server.tail()}")
                time.sleep(0.2)
        yield server
    finally:
        stop_process(process)


def url_inside_namespace(database_url: str, engine) -> str:
    """The database URL the server uses from inside the namespace (MariaDB: its unix socket)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return database_url
    with engine.connect() as conn:
        socket_path = conn.execute(text("SELECT @@socket")).scalar()
    assert socket_path and Path(socket_path).exists(), (
        f"MariaDB's unix socket {socket_path!r} is not on this machine: the server in the private network "
        "namespace cannot reach the database (these tests need a local MariaDB)")
    query = {**url.query, "unix_socket": socket_path, "charset": "utf8mb4"}
    return url.set(host="localhost", port=None, query=query).render_as_string(hide_password=False)


@contextlib.contextmanager
def running_bridge(netns: netnslib.NetNamespace, database_url: str, engine, log: Path, *options: str,
                   **env: str) -> Iterator[Server]:
    """``fusion-bridge serve`` on 127.0.0.1:8080 inside the namespace, with ``options`` added to
    its command line and ``env`` to its environment."""
    process = netns.popen([*serve_command(), "serve", "--bind", f"127.0.0.1:{NETNS_PORT}", "--workers", "2",
                           "--database", url_inside_namespace(database_url, engine), *options],
                          log=log, cwd=log.parent, env=checkout_env(**env))
    server = Server(log, process)
    try:
        if not netns.wait_tcp("127.0.0.1", NETNS_PORT, SERVER_START_TIMEOUT / 2, alive=process):
            pytest.fail(f"fusion-bridge serve (exit {process.poll()}) not answering on "
                        f"127.0.0.1:{NETNS_PORT} in the namespace:\n{server.tail()}")
        yield server
    finally:
        netnslib.stop(process, grace=20)


def cli_json(database_url: str, *args: str, **env: str):
    """``fusion-bridge <args> --database URL --json`` of this checkout, ``env`` added to its
    environment; its JSON output."""
    done = subprocess.run([*serve_command(), *args, "--database", database_url, "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT, env=checkout_env(**env))
    assert done.returncode == 0, f"fusion-bridge {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def prepare_once(database_url: str) -> str:
    """``fusion-bridge prepare --once``; again if the server's own scheduler held the lock. That
    scheduler's first pass, a moment after the server started, may also have prepared the runs:
    the callers check the runs, not who made them."""
    for _attempt in range(3):
        done = subprocess.run([*serve_command(), "prepare", "--once", "--database", database_url],
                              capture_output=True, text=True, timeout=120, cwd=ROOT, env=checkout_env())
        assert done.returncode == 0, f"prepare --once failed:\n{done.stdout}\n{done.stderr}"
        if "another preparer is running" not in done.stdout:
            return done.stdout
    pytest.fail(f"prepare --once never got the preparation lock:\n{done.stdout}")
