"""``fusion-bridge serve`` of this checkout as a real process on a free loopback port, for the
tests that need the whole server (gunicorn, its worker, the scheduler child), stopped at exit."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
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
    log: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/plugins/fusioninventory/"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

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


@contextlib.contextmanager
def running_serve(workdir: Path, *options: str, **env: str) -> Iterator[Serve]:
    """``python -m fusion_bridge serve`` in ``workdir`` (its default SQLite file is made there)
    with ``options`` and ``env`` (FUSION_BRIDGE_* settings) added."""
    port = free_port()
    log = workdir / "serve.log"
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FUSION_BRIDGE_")}
    environ.update(PYTHONPATH=path, **env)
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "fusion_bridge", "serve", "--bind", f"127.0.0.1:{port}",
                                    *options], cwd=workdir, env=environ, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    serve = Serve(port, log, process)
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
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass
