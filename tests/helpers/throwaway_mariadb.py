"""A MariaDB server of the test's own, on a temporary data directory, that the test may freeze
(SIGSTOP), thaw and restart. Never the shared server at 127.0.0.1:3306: other tests use it."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.helpers.mariadb import MariaDBServer, _answers


class ThrowawayMariaDB(MariaDBServer):
    def __init__(self):
        self._process = None
        self._datadir = None
        self._start_throwaway()
        self._command = list(self._process.args)

    def freeze(self) -> None:
        os.kill(self._process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self._process.pid, signal.SIGCONT)

    def restart(self) -> None:
        """Stop the server and start it again on the same data directory and port: every
        connection clients hold becomes stale."""
        self._process.terminate()
        self._process.wait(timeout=60)
        self._process = subprocess.Popen(self._command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not _answers(self.url):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the throwaway mariadbd did not start again")
            time.sleep(0.2)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self.thaw()  # a stopped process does not act on SIGTERM
        super().stop()
