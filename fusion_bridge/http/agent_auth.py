"""Optional HTTP Basic authentication of the agents (``FUSION_BRIDGE_AGENT_AUTH``).

Covers every agent endpoint: the XML POSTs and ``getConfig`` (``http.paths.is_agent_path``) and
the REST task calls of Deploy (file parts included), Collect and ESX
(``http.paths.is_rest_task_path``). The admin API has its own token and is not affected.

The agent 2.6 sends its first request of each client object without credentials and only
replays with ``--user``/``--password`` after a 401 whose challenge is exactly
``Basic realm="<realm>"`` (docs/agent-protocol.md §1.2): that is the only challenge sent.

Users and their bcrypt hashes come from an htpasswd file as Apache's ``htpasswd -B`` writes it
(``user:$2y$05$…``; ``$2a$``/``$2b$`` too). bcrypt costs 100 ms or more per check, far more than
a whole PROLOG, so each worker remembers for ``CACHE_SECONDS`` the verdict on a SHA-256 of the
presented ``Authorization`` header; the file is re-read when it changes (looked at once a
second at most), which forgets every verdict. Wrong credentials are logged at most once per
``LOG_INTERVAL`` seconds per worker, with how many there were.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import Callable

import bcrypt

from fusion_bridge.domain.glpi_agent_auth import basic_credentials
from fusion_bridge.http.errors import json_error_body
from fusion_bridge.http.paths import is_agent_path, is_rest_task_path

log = logging.getLogger("fusion_bridge.http.agent_auth")

CACHE_SECONDS = 60.0
CACHE_ENTRIES = 20_000
STAT_INTERVAL = 1.0
LOG_INTERVAL = 60.0
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def read_htpasswd(path: str) -> dict[str, bytes]:
    """``user -> bcrypt hash`` of an htpasswd file; other kinds of entries are skipped with a
    warning (their user cannot log in)."""
    users: dict[str, bytes] = {}
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                log.warning("%s line %d ignored: not user:hash", path, number)
            elif not hashed.startswith(BCRYPT_PREFIXES):
                log.warning("%s line %d (user %r) ignored: only bcrypt entries (htpasswd -B) are accepted",
                            path, number, user)
            else:
                users[user] = hashed.encode()
    return users


class Htpasswd:
    """The users of an htpasswd file, re-read when its modification time, size or inode changes."""

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic):
        self.path = path
        self._clock = clock
        self._stamp = self._file_stamp()  # raises OSError: a missing file is a startup error
        self._users = read_htpasswd(path)
        self._next_stat = clock() + STAT_INTERVAL
        self._dummy: bytes | None = None

    def _file_stamp(self) -> tuple[int, int, int]:
        stat = os.stat(self.path)
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def refresh(self) -> bool:
        """Re-read the file if it changed (at most one stat per ``STAT_INTERVAL``); whether it did."""
        now = self._clock()
        if now < self._next_stat:
            return False
        self._next_stat = now + STAT_INTERVAL
        try:
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return False
            users = read_htpasswd(self.path)
        except (OSError, UnicodeDecodeError) as error:
            log.error("cannot read the agents' htpasswd file, keeping the users read before: %s", error)
            return False
        self._stamp, self._users = stamp, users
        log.info("agents' htpasswd file re-read: %d user(s)", len(users))
        return True

    def check(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s (bcrypt: slow on purpose)."""
        hashed = self._users.get(user)
        if hashed is None:  # as slow as a known user, so that user names cannot be told apart
            if self._dummy is None:
                self._dummy = bcrypt.hashpw(b"-", bcrypt.gensalt(10))
            hashed = self._dummy
            user = ""
        try:
            return bcrypt.checkpw(password.encode("utf-8", "surrogateescape"), hashed) and bool(user)
        except ValueError:  # malformed hash, password over 72 bytes (bcrypt >= 5)
            return False


class RefusalLog:
    """One warning per ``interval`` seconds about wrong credentials, with how many there were."""

    def __init__(self, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self._interval = interval
        self._clock = clock
        self._count = 0
        self._next = float("-inf")

    def refused(self, user: str, address: str | None) -> None:
        self._count += 1
        now = self._clock()
        if now < self._next:
            return
        log.warning("agent authentication failed: %d request(s) with wrong credentials since the last such "
                    "line; latest user %r from %s", self._count, user[:64], address)
        self._count = 0
        self._next = now + self._interval


class AgentAuth:
    """WSGI middleware: agent requests without valid credentials get a 401 challenge."""

    def __init__(self, app, htpasswd: Htpasswd, realm: str, clock: Callable[[], float] = time.monotonic,
                 refusals: RefusalLog | None = None):
        self.app = app
        self._htpasswd = htpasswd
        self._clock = clock
        self._verdicts: dict[bytes, tuple[bool, float]] = {}
        self._refusals = refusals or RefusalLog(clock=clock)
        realm = realm.replace("\\", "").replace('"', "")
        # Exactly this form: the agent cannot read any other (docs/agent-protocol.md §1.2).
        self._challenge = ("WWW-Authenticate", f'Basic realm="{realm}"')
        self._body = json_error_body("authentication required")

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not (is_agent_path(path) or is_rest_task_path(path)):
            return self.app(environ, start_response)
        header = environ.get("HTTP_AUTHORIZATION")
        if header and self._verified(header, environ.get("REMOTE_ADDR")):
            return self.app(environ, start_response)
        start_response("401 Unauthorized", [
            self._challenge,
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(self._body))),
        ])
        return [self._body]

    def _verified(self, header: str, address: str | None) -> bool:
        if self._htpasswd.refresh():
            self._verdicts.clear()
        key = hashlib.sha256(header.encode("utf-8", "surrogateescape")).digest()
        now = self._clock()
        cached = self._verdicts.get(key)
        if cached is not None and now < cached[1]:
            ok = cached[0]
        else:
            credentials = basic_credentials(header)
            ok = credentials is not None and self._htpasswd.check(*credentials)
            if len(self._verdicts) >= CACHE_ENTRIES:
                self._verdicts.clear()
            self._verdicts[key] = (ok, now + CACHE_SECONDS)
        if not ok:
            credentials = basic_credentials(header)
            self._refusals.refused(credentials[0] if credentials else "(not Basic)", address)
        return ok
