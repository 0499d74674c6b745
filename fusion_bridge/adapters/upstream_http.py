"""HTTP(S) client to the relay's upstream (GLPI's inventory import).

Standard library only (``http.client``): a direct connection, whatever ``http_proxy`` /
``https_proxy`` say (a proxy between the bridge and GLPI is configured by pointing the URL at
it, not inherited from the environment); TLS verified by default, against a CA file when
given; HTTP Basic credentials from the settings or the URL, never shown (``Upstream.display``).
One ``UpstreamClient`` per forwarding thread keeps its connection open between documents when
the upstream allows it (GLPI answers ``Connection: close``, the plugin on Apache may not).
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from fusion_bridge.domain.relay_policy import CONNECTING, MAX_REPLY_BYTES, SENT, Answer

DEFAULT_USER_AGENT = "fusion-bridge relay"


@dataclass(frozen=True)
class Upstream:
    """Where and how to post: parsed and checked once (``Upstream.parse``)."""

    scheme: str
    host: str
    port: int
    path: str
    display: str  # the URL without credentials, for logs and status
    authorization: str | None = field(default=None, repr=False)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    @classmethod
    def parse(cls, url: str, *, ca_file: str = "", verify: bool = True, user: str = "", password: str = "",
              connect_timeout: float = 10.0, read_timeout: float = 120.0) -> "Upstream":
        """Raise ValueError (without the credentials) when ``url`` or the TLS settings are wrong."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise ValueError("the inventory upstream is not a valid URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the inventory upstream must be an http:// or https:// URL with a host, e.g. "
                             "https://glpi.example/front/inventory.php")
        if parts.username is not None and not user:
            user, password = unquote(parts.username), unquote(parts.password or "")
        host = parts.hostname
        shown_host = f"[{host}]" if ":" in host else host
        netloc = shown_host + (f":{port}" if port else "")
        display = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~") + (f"?{parts.query}" if parts.query else "")
        context = None
        if parts.scheme == "https":
            context = _tls_context(ca_file, verify)
        authorization = None
        if user:
            token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
            authorization = f"Basic {token}"
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("upstream time-outs must be positive")
        return cls(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path, display,
                   authorization, context, connect_timeout, read_timeout)


def _tls_context(ca_file: str, verify: bool) -> ssl.SSLContext:
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"cannot read the upstream CA file {ca_file}: {error}") from None


class UpstreamClient:
    """Posts documents to one upstream over a kept-alive connection. Not thread-safe: one per
    thread."""

    def __init__(self, upstream: Upstream):
        self.upstream = upstream
        self._conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, content_type: str | None, user_agent: str | None,
             forwarded_for: str | None) -> Answer:
        headers = {"Content-Type": content_type or "application/xml",
                   "User-Agent": user_agent or DEFAULT_USER_AGENT}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        if self.upstream.authorization:
            headers["Authorization"] = self.upstream.authorization
        started = time.monotonic()
        try:
            conn = self._connection()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Answer(error=_connect_error(error, self.upstream), stage=CONNECTING,
                          latency=time.monotonic() - started)
        try:
            conn.request("POST", self.upstream.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read(MAX_REPLY_BYTES + 1)
            if len(payload) > MAX_REPLY_BYTES or response.will_close:
                self.close()
            return Answer(response.status, payload, dict(response.getheaders()), stage=SENT,
                          latency=time.monotonic() - started)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Answer(error=_sent_error(error, self.upstream), stage=SENT, latency=time.monotonic() - started)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None and _closed_by_peer(self._conn):
            self.close()
        if self._conn is None:
            upstream = self.upstream
            if upstream.scheme == "https":
                conn = http.client.HTTPSConnection(upstream.host, upstream.port, timeout=upstream.connect_timeout,
                                                   context=upstream.ssl_context)
            else:
                conn = http.client.HTTPConnection(upstream.host, upstream.port, timeout=upstream.connect_timeout)
            conn.connect()  # the connect time-out covers the TCP and TLS handshakes
            conn.sock.settimeout(upstream.read_timeout)
            self._conn = conn
        return self._conn


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle kept-alive connection the server has closed reads as ready (EOF): reconnect
    instead of sending a document into it."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _connect_error(error: BaseException, upstream: Upstream) -> str:
    where = f"{upstream.host}:{upstream.port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate of {where} not trusted: {error.verify_message or error}"
    if isinstance(error, ssl.SSLError):
        return f"TLS handshake with {where} failed: {error.reason or error}"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve {upstream.host}: {error.strerror or error}"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no connection to {where} within {upstream.connect_timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return f"connection to {where} refused"
    reason = error.strerror if isinstance(error, OSError) and error.strerror else error
    return f"cannot connect to {where}: {reason}"


def _sent_error(error: BaseException, upstream: Upstream) -> str:
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no answer within {upstream.read_timeout:g} s"
    if isinstance(error, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                          http.client.IncompleteRead)):
        return "connection dropped before the whole answer came"
    if isinstance(error, http.client.HTTPException):
        return f"unreadable answer: {type(error).__name__}"
    reason = error.strerror if isinstance(error, OSError) and error.strerror else error
    return f"connection failed after sending: {reason}"
