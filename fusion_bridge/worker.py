"""The gunicorn worker of ``fusion-bridge serve``: the sync worker's request handling, run by
``threads`` threads per process, each serving one connection at a time.

Why not the plain sync worker: it serves one connection per process, so as many slow clients
as there are processes stop the server (agents reach it directly, over WAN links). Why not
gthread: it hands every connection from a poller thread to a pool thread and back, which
measured 15-20 % more CPU per PROLOG, and a pool thread still blocks on a slow request.

Here a free thread of each process waits for a connection on the shared listening socket (see
``_serve``) and serves the one it gets itself, so a connection is only ever taken by a free
thread and never queued behind a slow one. Each connection is a ``ClientSocket`` with bounded
read and write times (fusion_bridge/client_deadlines.py): a slow client holds one thread for at
most those, and ``workers x threads`` slow clients at once are needed to make others wait.

The main thread only keeps the worker alive for the arbiter and stops it. At most
``APP_SLOTS`` threads per process run the application at once (on requests already read): the
rest are reading requests or writing replies, and the database pool (4 connections,
adapters/db.py) is not outgrown; without that bound, 32 concurrent PROLOGs cost 3x the CPU in
connections opened and closed beyond the pool.
"""

from __future__ import annotations

import errno
import os
import select
import threading
import time

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

from fusion_bridge.client_deadlines import BodyDeadline, ClientLimits, ClientSocket
from fusion_bridge.config import Config

APP_SLOTS = 4  # the database pool's size per engine (adapters/db.py)


class AppSlots:
    """At most ``slots`` threads in the application at once (requests already read)."""

    def __init__(self, app, slots: int):
        self._app = app
        self._slots = threading.BoundedSemaphore(slots)

    def __call__(self, environ, start_response):
        with self._slots:
            return self._app(environ, start_response)


class BridgeWorker(SyncWorker):
    def init_process(self) -> None:
        config = getattr(self.app, "bridge_config", None) or Config.from_env()
        self.limits = ClientLimits.from_config(config, request_limit=self.cfg.timeout or 120)
        self._busy = 0
        self._busy_lock = threading.Lock()
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        # A body too big to read first (a deploy upload) is read by the application, at the
        # client's pace: such a request takes no slot, or a few slow uploads would stall agents.
        self.wsgi = BodyDeadline(AppSlots(self.wsgi, APP_SLOTS), self.limits.max_buffered, streaming_app=self.wsgi)

    def run(self) -> None:
        for listener in self.sockets:
            listener.setblocking(False)
        # The leader: the one thread of this process waiting for a connection (see _serve).
        self._leader = threading.Lock()
        for number in range(max(1, self.cfg.threads)):
            threading.Thread(target=self._serve, daemon=True, name=f"fusion-bridge-connection-{number}").start()
        while self.alive:
            self.notify()
            if not self.is_parent_alive():
                break
            self._sleep(1.0)
        # Stopping: let the requests under way end, within the graceful timeout.
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while self._busy and time.monotonic() < deadline:
            self.notify()
            time.sleep(0.1)

    def _sleep(self, seconds: float) -> None:
        # The signal wake-up pipe ends the wait at once on SIGTERM.
        try:
            ready, _, _ = select.select([self.PIPE[0]], [], [], seconds)
            if ready:
                os.read(self.PIPE[0], 64)
        except (InterruptedError, BlockingIOError):
            pass

    def _serve(self) -> None:
        """Leader/followers: one free thread per process waits for a connection, the others
        wait for its turn; the one that gets a connection hands the turn on and serves it. So
        the processes compete for each connection as sync workers do (whichever is scheduled
        first takes it), a process with no free thread takes none, and no connection is handed
        from one thread to another."""
        while self.alive:
            with self._leader:
                accepted = self._accept()
            if accepted is None:
                return
            listener, client, addr = accepted
            with self._busy_lock:
                self._busy += 1
            try:
                client.setblocking(True)
                util.close_on_exec(client)
                if self.cfg.is_ssl:  # ssl wraps only real sockets: no deadlines then
                    self.handle(listener, client, addr)
                else:
                    self.handle(listener, ClientSocket(client, addr, self.limits), addr)
            finally:
                with self._busy_lock:
                    self._busy -= 1

    def _accept(self):
        """(listener, client, address) of the next connection; None when stopping."""
        while self.alive:
            ready, _, _ = select.select(self.sockets, [], [], 1.0)
            for listener in ready:
                try:
                    client, addr = listener.accept()
                except OSError as error:
                    if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED, errno.EPROTO):
                        continue  # another process took it, or the client gave up
                    if not self.alive:
                        return None
                    self.log.exception("accept failed")
                    time.sleep(1)  # out of file descriptors, say: do not spin
                    continue
                return listener, client, addr
        return None
