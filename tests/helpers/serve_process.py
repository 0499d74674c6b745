"""``fusion-bridge serve`` of this checkout as a real process on a free loopback port, for the
tests that need the whole server (gunicorn, its workers, the scheduler child), stopped at exit;
its standard output (the banner) and standard error (the logs) kept apart."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60


@dataclass
class Serve:
    port: int
    log: Path  # serve's standard error: its log lines
    process: subprocess.Popen
    stdout: Path  # serve's standard output: its banner
    tls_context: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        scheme = "http" if self.tls_context is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}/plugins/fusioninventory/"

    def connection(self) -> http.client.HTTPConnection:
        if self.tls_context is not None:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=self.tls_context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        """One request on a new connection, as agents do."""
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def json(self, path: str) -> tuple[int, dict]:
        status, _, body = self.request("GET", path)
        return status, json.loads(body)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_lines(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if line.strip()]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def children(self, marker: str) -> list[int]:
        """Pids of serve's own child processes whose command line contains ``marker``."""
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rpartition(")")[2].split()[1])
                command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, ValueError, IndexError):
                continue
            if parent == self.process.pid and marker in command:
                found.append(int(stat.parent.name))
        return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_env(**env: str) -> dict:
    """This process's environment without FUSION_BRIDGE_* settings, this checkout first on the
    path, ``env`` added."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("FUSION_BRIDGE_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    return {**environ, "PYTHONPATH": path, **env}


@contextlib.contextmanager
def running_serve(workdir: Path, *options: str, tls_context: ssl.SSLContext | None = None,
                  **env: str) -> Iterator[Serve]:
    """``python -m fusion_bridge serve --bind 127.0.0.1:<free port> options...`` in ``workdir``
    (its default SQLite file is made there), with ``env`` (FUSION_BRIDGE_* settings) added;
    ``tls_context`` for the requests when ``options`` give a certificate."""
    port = free_port()
    stdout, log = workdir / "serve.out", workdir / "serve.log"
    with open(stdout, "wb") as out, open(log, "wb") as err:
        process = subprocess.Popen([sys.executable, "-m", "fusion_bridge", "serve", "--bind", f"127.0.0.1:{port}",
                                    *options], cwd=workdir, env=serve_env(**env), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, start_new_session=True)
    serve = Serve(port, log, process, stdout, tls_context)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError(f"serve exited with {process.returncode}:\n{serve.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"serve not answering after {START_TIMEOUT} s:\n{serve.log_tail()}") from None
                time.sleep(0.2)
        yield serve
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to serve alone (as a service manager's stop would), then wait for it; SIGKILL to
    its process group if it lingers, and to whatever of the group outlived it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_until(predicate, timeout: float = 20, every: float = 0.1):
    """The first true value of ``predicate()`` within ``timeout`` seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(every)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with the ``openssl`` command line (the tests do
    not need the ``cryptography`` package)."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed (apt-get install openssl)"
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key
