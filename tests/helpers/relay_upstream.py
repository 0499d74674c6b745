"""A small HTTP upstream on loopback for the relay tests, scripted per request.

Each POST takes the next scripted action (default ``OK``): answer an empty ``<REPLY>``
compressed like the request (as the FusionInventory plugin), GLPI 10's
``<REPLY><RESPONSE>SEND</RESPONSE></REPLY>``, a status with or without an ``ERROR`` reply, hold
the request past the client's time-out, or drop the connection. It records every request
(DEVICEID, headers, body) and how many were in flight at most. A GLPI Agent JSON inventory is
answered in JSON as GLPI 10 answers it (``{"status":"ok"}``, or ``{"status":"error",…}``). With
``forward_to`` it passes successful requests on to another server (a second bridge) and records
what that one answered.
"""

from __future__ import annotations

import collections
import http.client
import json
import re
import ssl
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from fusion_bridge.config import Config
from fusion_bridge.domain.text import local_now
from fusion_bridge.services.relay.settings import RelaySettings

OK = ("ok",)
GLPI10_OK = ("glpi10",)
TIMEOUT = ("timeout",)
DROP = ("drop",)


def status(code: int, headers: dict | None = None, body: bytes = b"") -> tuple:
    return ("status", code, headers or {}, body)


def error_reply(reason: str, code: int = 200) -> tuple:
    return ("error", code, reason)


PLUGIN_REPLY = b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n</REPLY>\n'
GLPI10_REPLY = b'<?xml version="1.0"?>\n<REPLY><RESPONSE>SEND</RESPONSE></REPLY>'
JSON_REPLY = b'{"expiration":"24","status":"ok"}'  # GLPI 10's answer to a JSON inventory
_DEVICE_ID = re.compile(rb"<DEVICEID>([^<]*)</DEVICEID>")
_NAME = re.compile(rb"<HARDWARE>.*?<NAME>([^<]*)</NAME>", re.S)


def _who(document: bytes) -> tuple[str, str | None, bool]:
    """(DEVICEID, the machine's name, whether the document is GLPI Agent's JSON)."""
    if document.lstrip()[:1] == b"{":
        parsed = json.loads(document)
        hardware = parsed.get("content", {}).get("hardware", {})
        return parsed.get("deviceid", ""), hardware.get("name"), True
    match, name = _DEVICE_ID.search(document), _NAME.search(document)
    return match.group(1).decode() if match else "", name.group(1).decode() if name else None, False


@dataclass
class Request:
    device_id: str
    name: str | None
    headers: dict
    body: bytes
    action: str
    started: float = field(default_factory=time.monotonic)


def document_xml(body: bytes) -> bytes:
    if body[:1] == b"\x78":
        return zlib.decompress(body)
    if body[:2] == b"\x1f\x8b":
        return zlib.decompress(body, 31)
    return body


class ScriptedUpstream:
    def __init__(self, delay: float = 0.0, hold: float = 2.0, forward_to: str | None = None,
                 tls: "ssl.SSLContext | None" = None):
        self.delay = delay  # seconds each request takes
        self.hold = hold  # how long TIMEOUT keeps a request before closing it
        self.forward_to = forward_to
        self.script: collections.deque = collections.deque()
        self.requests: list[Request] = []
        self.delivered: list[Request] = []  # answered with a success
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}/plugins/fusioninventory/"

    def push(self, *actions) -> None:
        self.script.extend(actions)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def delivered_ids(self) -> list[str]:
        with self._lock:
            return [r.device_id for r in self.delivered]

    # --- the server side ---------------------------------------------------------------------

    def _next_action(self) -> tuple:
        try:
            return self.script.popleft()
        except IndexError:
            return OK

    def _handler(self):
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with upstream._lock:
                    upstream.in_flight += 1
                    upstream.max_in_flight = max(upstream.max_in_flight, upstream.in_flight)
                try:
                    upstream._answer(self, body)
                finally:
                    with upstream._lock:
                        upstream.in_flight -= 1

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        action = self._next_action()
        device_id, name, is_json = _who(document_xml(body))
        request = Request(device_id, name, {k.lower(): v for k, v in handler.headers.items()}, body, action[0])
        with self._lock:
            self.requests.append(request)
        if self.delay:
            time.sleep(self.delay)
        kind = action[0]
        if kind == "timeout":
            time.sleep(self.hold)
            handler.close_connection = True
            return
        if kind == "drop":
            handler.close_connection = True
            return
        if kind == "status":
            _, code, headers, payload = action
            self._send(handler, code, payload, "text/plain", headers)
            return
        if kind == "error":
            _, code, reason = action
            refusal = (json.dumps({"status": "error", "message": reason, "expiration": 24}).encode() if is_json
                       else f"<?xml version=\"1.0\"?>\n<REPLY><ERROR>{reason}</ERROR></REPLY>".encode())
            self._send(handler, code, self._compressed(body, refusal), self._json_type(body, is_json))
            return
        if self.forward_to:
            code, payload, content_type = self._forward(request)
            self._deliver(handler, request, code, payload, content_type, counted=200 <= code < 300)
            return
        reply = JSON_REPLY if is_json else GLPI10_REPLY if kind == "glpi10" else PLUGIN_REPLY
        self._deliver(handler, request, 200, self._compressed(body, reply), self._json_type(body, is_json))

    def _deliver(self, handler, request: Request, code: int, payload: bytes, content_type: str | None,
                 counted: bool = True) -> None:
        """Answer a success. It is counted before the answer goes (the client may look at the
        count as soon as it has read the answer) and taken back if the answer could not be
        written: a forwarder that gave up waiting (its read time-out) closed the connection,
        never saw the success, and rightly sends the document again."""
        if counted:
            with self._lock:
                self.delivered.append(request)
        if not self._send(handler, code, payload, content_type) and counted:
            with self._lock:
                self.delivered.remove(request)

    @staticmethod
    def _json_type(request_body: bytes, is_json: bool) -> str | None:
        """GLPI's Content-Type of a JSON answer when it is not compressed (None: by the payload)."""
        return "application/json" if is_json and request_body[:1] != b"\x78" else None

    @staticmethod
    def _compressed(request_body: bytes, xml: bytes) -> bytes:
        return zlib.compress(xml, 6) if request_body[:1] == b"\x78" else xml

    def _forward(self, request: Request) -> tuple[int, bytes, str]:
        target = urlsplit(self.forward_to)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        headers = {k: v for k, v in request.headers.items()
                   if k in ("content-type", "user-agent", "x-forwarded-for")}
        try:
            conn.request("POST", target.path, body=request.body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read(), response.getheader("Content-Type") or "application/xml"
        except OSError as error:
            return 502, f"bad gateway: {error}".encode(), "text/plain"
        finally:
            conn.close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, payload: bytes, content_type: str | None,
              headers: dict | None = None) -> bool:
        """Write the answer; False when the client had already gone (its read time-out)."""
        handler.send_response(code)
        if content_type is None:
            content_type = "application/x-compress-zlib" if payload[:1] == b"\x78" else "application/xml"
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        try:
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except OSError:
            handler.close_connection = True
            return False
        return True


# --- fixtures and helpers shared by the relay tests ------------------------------------------

# Short back-offs so fault tests take fractions of a second. The read time-out is short enough for
# the time-out test (the upstream holds TIMEOUT requests longer: conftest's ``upstream``) and long
# enough that an answer the loaded CI machine is slow to write is not taken as none.
FAST_RELAY = {
    "UPSTREAM_CONNECT_TIMEOUT": 0.5, "UPSTREAM_READ_TIMEOUT": 2, "RELAY_CLAIM_SECONDS": 5,
    "RELAY_BACKOFF_BASE": 0.05, "RELAY_BACKOFF_CAP": 0.2, "RELAY_POLL_SECONDS": 0.05, "RELAY_MAX_ATTEMPTS": 2,
}


def relay_config(database_url: str, upstream_url: str, **more) -> Config:
    return Config().updated({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "INVENTORY_UPSTREAM": upstream_url,
                             **FAST_RELAY, **more})


def relay_settings(database_url: str, upstream_url: str, **more) -> RelaySettings:
    return RelaySettings.from_config(relay_config(database_url, upstream_url, **more))


class MovableClock:
    """The forwarder's clock, moved by the test instead of waiting."""

    def __init__(self, now: datetime | None = None):
        self.now = now or local_now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
