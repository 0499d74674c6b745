"""The agent's HTTP server (daemon mode) emulated on loopback, for the wake-up and push tests.

``AgentEmulator`` plays any number of agents: listening sockets served by one selector thread,
with a behaviour per port, counting the connections open at once (bench/wakeup.py uses it too).
"""

from __future__ import annotations

import heapq
import selectors
import socket
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Behaviour:
    status: str | None = "waiting"  # body "status: <status>"; None: never answers
    now: int = 200  # /now answer: 200 (trusted) or 403 (untrusted)
    delay: float = 0.0  # seconds before answering


_BODIES = {
    200: b"<html><body><p>OK</p></body></html>\n",
    403: b"<html><body><p>Access denied</p></body></html>\n",
}


class AgentEmulator:
    """``ports`` listening sockets on ``host``, one selector thread, a behaviour per port."""

    def __init__(self, ports: int = 1, behaviour: Behaviour = Behaviour(), host: str = "127.0.0.1"):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listeners = []
        for _ in range(ports):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 0))
            sock.listen(4096)
            sock.setblocking(False)
            self.listeners.append(sock)
        self.ports = [sock.getsockname()[1] for sock in self.listeners]
        self.behaviours = {port: behaviour for port in self.ports}
        self.requests: list[tuple[int, str]] = []
        self.open = 0
        self.max_open = 0
        self.accepted = 0
        self._selector = selectors.DefaultSelector()
        self._timers: list = []
        self._stop = threading.Event()
        for sock in self.listeners:
            self._selector.register(sock, selectors.EVENT_READ, ("listen", sock.getsockname()[1]))
        self._thread = threading.Thread(target=self._loop, name="agent-emulator", daemon=True)

    def __enter__(self) -> "AgentEmulator":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
        for key in list(self._selector.get_map().values()):
            key.fileobj.close()
        self._selector.close()

    def count(self, path: str) -> int:
        return sum(1 for _port, p in self.requests if p == path)

    def _loop(self) -> None:
        while not self._stop.is_set():
            timeout = 0.05
            if self._timers:
                timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
            for key, _mask in self._selector.select(timeout):
                kind, data = key.data
                if kind == "listen":
                    self._accept(key.fileobj, data)
                else:
                    self._read(key.fileobj, data)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                _due, _seq, conn, payload = heapq.heappop(self._timers)
                self._answer(conn, payload)

    def _accept(self, listener, port) -> None:
        while True:
            try:
                conn, _peer = listener.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            self.open += 1
            self.accepted += 1
            self.max_open = max(self.max_open, self.open)
            self._selector.register(conn, selectors.EVENT_READ, ("conn", {"port": port, "buffer": b""}))

    def _close(self, conn) -> None:
        try:
            self._selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()
        self.open -= 1

    def _read(self, conn, state) -> None:
        try:
            chunk = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(conn)
            return
        state["buffer"] += chunk
        if b"\r\n\r\n" not in state["buffer"] or state.get("answered"):
            return
        state["answered"] = True
        path = state["buffer"].split(b" ", 2)[1].decode()
        self.requests.append((state["port"], path))
        behaviour = self.behaviours[state["port"]]
        if path == "/status":
            if behaviour.status is None:
                return  # connected, never answers
            payload = self._response(200, "OK", "text/plain", f"status: {behaviour.status}".encode())
        elif path.startswith("/now"):
            payload = self._response(behaviour.now, "OK", "text/html", _BODIES[behaviour.now])
        else:
            payload = self._response(400, "Bad Request", "text/html", b"")
        heapq.heappush(self._timers, (time.monotonic() + behaviour.delay, id(conn), conn, payload))

    @staticmethod
    def _response(status: int, reason: str, content_type: str, body: bytes) -> bytes:
        return (f"HTTP/1.1 {status} {reason}\r\nServer: libwww-perl-daemon/6.16\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    def _answer(self, conn, payload: bytes) -> None:
        if conn.fileno() < 0:
            return
        try:
            conn.setblocking(True)
            conn.settimeout(1)
            conn.sendall(payload)
        except OSError:
            pass
        self._close(conn)


def closed_port() -> int:
    """A loopback port nothing listens on (free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
