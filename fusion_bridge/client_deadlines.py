"""Bounded time for each client: a slow or stalled connection cannot hold a thread for long.

Agents reach the bridge directly, often over WAN links, so some connections are slow and a few
may be hostile (one byte per second). The worker (fusion_bridge/worker.py) wraps every accepted
connection in a ``ClientSocket`` whose reads and writes have deadlines, in the manner of
Apache's mod_reqtimeout:

* the request line and headers must be in within ``timeout`` seconds of the connection being
  accepted, else the client gets a 408 and the connection is closed;
* the body must be in within ``timeout`` seconds of the headers plus one second per
  ``min_rate`` bytes received (a client that keeps a modest pace is never cut off, a trickle
  is), else 408; ``BodyDeadline`` (the WSGI wrapper) reads bodies up to ``max_buffered``
  bytes, the largest the agent endpoint accepts, before the application runs, so the
  application never waits on a client; a body that ends before its Content-Length is refused
  (400), never taken for a whole, shorter one;
* each write of the reply must be taken within ``timeout`` seconds plus one second per
  ``min_rate`` bytes written, else the connection is closed;
* reading a request ends at most ``request_limit`` seconds after the connection was accepted,
  and no write takes longer than that.

The sockets are only wrapped by that worker; under any other server ``BodyDeadline`` passes
requests through untouched.
"""

from __future__ import annotations

import errno
import io
import logging
import time
from dataclasses import dataclass

from gunicorn.http.errors import NoMoreData
from werkzeug.exceptions import ClientDisconnected, RequestTimeout

from fusion_bridge.config import Config

log = logging.getLogger("fusion_bridge.clients")

HEADERS, BODY = "headers", "body"
TIMEOUT_REPLY = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: 26\r\n\r\nrequest not sent in time.\n")


@dataclass(frozen=True)
class ClientLimits:
    timeout: float = 20.0
    min_rate: float = 500.0  # bytes per second
    request_limit: float = 120.0  # seconds: reading a request, and any one write of its reply
    max_buffered: int = 32 * 1024 * 1024  # bodies read before the application runs

    @classmethod
    def from_config(cls, config: Config, request_limit: float) -> "ClientLimits":
        return cls(timeout=config.client_timeout, min_rate=float(config.client_min_rate),
                   request_limit=request_limit, max_buffered=config.max_body_bytes)


class RequestTimedOut(NoMoreData):
    """The client did not send its request in time. A NoMoreData for gunicorn, which then
    closes the connection quietly: the 408 and the log line are ours."""

    def __init__(self, phase: str, seconds: float, received: int):
        super().__init__(None)
        self.phase, self.seconds, self.received = phase, seconds, received

    def __str__(self) -> str:
        return f"request {self.phase} not received within {self.seconds:.0f} s ({self.received} bytes)"


class ClientSocket:
    """An accepted connection with deadlines on its reads and writes (see the module's doc).
    Everything else is the socket's own."""

    def __init__(self, sock, addr, limits: ClientLimits):
        self._sock = sock
        self._addr = addr
        self.limits = limits
        self.accepted = time.monotonic()
        self._end = self.accepted + limits.request_limit
        self._phase: str | None = HEADERS
        self._phase_start = self.accepted
        self._received = 0

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return self._sock.fileno()

    @property
    def peer(self) -> str:
        return self._addr[0] if isinstance(self._addr, tuple) else str(self._addr)

    # -- phases, set by the worker's WSGI wrapper ---------------------------------------------

    def start_body(self) -> None:
        self._phase, self._phase_start, self._received = BODY, time.monotonic(), 0

    def end_reading(self) -> None:
        """The request is in: reads are the socket's own again (gunicorn's closing drain)."""
        self._phase = None

    def shutdown(self, how: int) -> None:
        # Closing (after an error reply too): the drain that follows has its own bound.
        self._phase = None
        self._sock.shutdown(how)

    # -- reads ---------------------------------------------------------------------------------

    def _read_deadline(self) -> float:
        allowance = self.limits.timeout
        if self._phase == BODY:
            allowance += self._received / self.limits.min_rate
        return min(self._phase_start + allowance, self._end)

    def recv(self, size: int, flags: int = 0) -> bytes:
        if self._phase is None:
            return self._sock.recv(size, flags)
        data = self._timed(self._read_deadline(), self._sock.recv, size, flags)
        self._received += len(data)
        return data

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        if self._phase is None:
            return self._sock.recv_into(buffer, nbytes, flags)
        count = self._timed(self._read_deadline(), self._sock.recv_into, buffer, nbytes, flags)
        self._received += count
        return count

    def _timed(self, deadline: float, call, *args):
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            previous = self._sock.gettimeout()
            self._sock.settimeout(remaining)
            try:
                return call(*args)
            finally:
                self._sock.settimeout(previous)
        except TimeoutError:
            raise self._timed_out() from None

    def _timed_out(self) -> RequestTimedOut:
        phase, self._phase = self._phase, None
        error = RequestTimedOut(phase, time.monotonic() - self._phase_start, self._received)
        if phase == HEADERS:
            # Nothing of the request reached the application: answer and log here. (A late
            # body is answered by BodyDeadline, which knows the request.)
            log.warning("connection from %s refused (408): %s", self.peer, error)
            try:
                self._sock.settimeout(1.0)
                self._sock.sendall(TIMEOUT_REPLY)
            except OSError:
                pass
        return error

    # -- writes --------------------------------------------------------------------------------

    def _write_allowance(self, size: int) -> float:
        return min(self.limits.timeout + size / self.limits.min_rate, self.limits.request_limit)

    def sendall(self, data, flags: int = 0) -> None:
        self._timed_write(self._write_allowance(len(data)), self._sock.sendall, data, flags)

    def send(self, data, flags: int = 0) -> int:
        return self._timed_write(self._write_allowance(len(data)), self._sock.send, data, flags)

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        # socket.sendfile applies the timeout to each wait for room in the send buffer.
        return self._timed_write(self.limits.timeout, self._sock.sendfile, file, offset, count)

    def _timed_write(self, seconds: float, call, *args):
        previous = self._sock.gettimeout()
        self._sock.settimeout(seconds)
        try:
            return call(*args)
        except TimeoutError:
            log.warning("reply to %s not taken within %.0f s: connection closed", self.peer, seconds)
            # A broken pipe for gunicorn: it closes the connection without a traceback.
            raise BrokenPipeError(errno.EPIPE, "reply not taken in time") from None
        finally:
            try:
                self._sock.settimeout(previous)
            except OSError:
                pass


class _TimedInput:
    """The request body beyond what BodyDeadline buffered, read by the application itself: a
    deadline missed there is a 408 (werkzeug's RequestTimeout), a body ending before its
    Content-Length a 400 (ClientDisconnected), for Flask's error handler. (gunicorn sets
    ``wsgi.input_terminated``, so werkzeug does not count the bytes itself: a cut upload would
    be taken for a whole, shorter one.)"""

    def __init__(self, head: bytes, stream, expected: int | None):
        self._head = io.BytesIO(head)
        self._stream = stream
        self._expected = expected  # None: chunked, gunicorn checks its end
        self._delivered = len(head)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return self._head.read() + self._from_stream(-1)
        data = self._head.read(size)
        if len(data) < size:
            data += self._from_stream(size - len(data))
        return data

    def readline(self, size: int = -1) -> bytes:
        line = self._head.readline(size)
        if line.endswith(b"\n") or (size is not None and 0 <= size <= len(line)):
            return line
        rest = size - len(line) if size is not None and size >= 0 else -1
        return line + self._from_stream(rest, self._stream.readline)

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def _from_stream(self, size: int, method=None) -> bytes:
        try:
            data = (method or self._stream.read)(size)
        except RequestTimedOut as late:
            raise RequestTimeout(str(late)) from None
        self._delivered += len(data)
        if self._expected is not None and self._delivered < self._expected:
            # A read returns what was asked until the end; a line may be short, but not empty.
            ended = (size < 0 or len(data) < size) if method is None else not data
            if ended:
                raise ClientDisconnected(_cut_short(self._delivered, self._expected))
        return data


def _cut_short(received: int, expected: int) -> str:
    return f"request body ended after {received} of its {expected} bytes"


class BodyDeadline:
    """WSGI wrapper run by the worker: reads the request body under its deadline before the
    application runs (bodies up to ``max_buffered`` bytes: every agent message), answers 408
    when it is late, and leaves the socket's reads unbounded once the request is in.

    ``app`` runs a request that is in; ``streaming_app`` one whose body it reads itself (the
    worker gives them different bounds on how many run at once)."""

    def __init__(self, app, max_buffered: int, streaming_app=None):
        self._app = app
        self._streaming_app = streaming_app or app
        self._max_buffered = max_buffered

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        if not isinstance(sock, ClientSocket):
            return self._app(environ, start_response)
        length = _body_length(environ)  # None: chunked, read to its end
        if length == 0:
            sock.end_reading()
            return self._app(environ, start_response)
        sock.start_body()
        stream = environ["wsgi.input"]
        try:
            if length is not None and length > self._max_buffered:
                head, complete = b"", False  # the application decides (413, or streams it)
            else:
                head = stream.read(length if length is not None else self._max_buffered + 1)
                complete = length is not None or len(head) <= self._max_buffered
        except RequestTimedOut as late:
            return _refuse(environ, start_response, sock, "408 Request Timeout", str(late))
        if complete and length is not None and len(head) < length:
            # The client closed early: refused here, for every endpoint, before anything
            # takes a part of a body for the whole.
            sock.end_reading()
            return _refuse(environ, start_response, sock, "400 Bad Request", _cut_short(len(head), length))
        if complete:
            sock.end_reading()
            environ["wsgi.input"] = io.BytesIO(head)
            return self._app(environ, start_response)
        environ["wsgi.input"] = _TimedInput(head, stream, length)
        try:
            return self._streaming_app(environ, start_response)
        finally:
            sock.end_reading()


def _refuse(environ, start_response, sock: ClientSocket, status: str, reason: str) -> list[bytes]:
    log.warning("%s %s from %s refused (%s): %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                sock.peer, status[:3], reason)
    body = f"{reason}\n".encode()
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                            ("Connection", "close")])
    return [body]


def _body_length(environ) -> int | None:
    """The body's announced length; None for a chunked body; 0 when there is none to read
    here (also for an invalid Content-Length, which the application refuses)."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        return max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0
