"""Slow or hostile clients do not stop ``fusion-bridge serve`` (the real server, its defaults).

50 connections trickle one byte per second for 30 s — half of them their headers, half their
body after complete headers — and open a new connection whenever the server closes one; a
valid PROLOG from another client, sent every couple of seconds meanwhile, is answered in under
a second each time. With gunicorn's sync workers six such connections stopped the server (a
PROLOG waited 19 s). Then, with a short ``FUSION_BRIDGE_CLIENT_TIMEOUT``: a trickled request is
answered 408 and logged, while a body sent slowly but steadily goes through.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
import urllib.request

from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.serve_process import Serve, running_serve

TRICKLERS = 50
TRICKLE_SECONDS = 30
PROBE_EVERY = 2.0
ANSWER_WITHIN = 1.0


def post_prolog(serve: Serve, device_id: str, timeout: float = 10) -> tuple[int, float]:
    """(HTTP status, seconds) of a PROLOG on a new connection."""
    started = time.monotonic()
    request = urllib.request.Request(serve.url, data=prolog(device_id), headers=ZLIB_HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            reply.read()
            return reply.status, time.monotonic() - started
    except OSError:  # timed out or refused: as slow as the test allows
        return 0, time.monotonic() - started


class Trickler:
    """One slow client: its request one byte per second, again on a new connection whenever
    the server closes the last one."""

    HEAD = b"POST /plugins/fusioninventory/ HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/x-compress-zlib\r\n"

    def __init__(self, port: int, body: bool):
        self.port, self.body = port, body
        self.replies: list[bytes] = []
        self.sock: socket.socket | None = None
        self.pending = b""

    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sock.setblocking(False)
        if self.body:  # complete headers at once, then the body byte by byte
            self.sock.sendall(self.HEAD + b"Content-Length: 100000\r\n\r\n")
            self.pending = b"x" * 100000
        else:
            self.pending = self.HEAD + b"X-Padding: " + b"y" * 100000

    def tick(self) -> None:
        try:
            self.sock.send(self.pending[:1])
            self.pending = self.pending[1:]
        except OSError:
            self.closed()

    def closed(self) -> None:
        """The server answered or closed: keep what it said, come back on a new connection."""
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(1)
            reply = self.sock.recv(200)
            if reply:
                self.replies.append(reply)
        except OSError:
            pass
        self.sock.close()
        self.connect()


def trickle(tricklers: list[Trickler], until: float, connected: threading.Event) -> None:
    selector = selectors.DefaultSelector()
    try:
        for trickler in tricklers:
            trickler.connect()
        connected.set()
        while time.monotonic() < until:
            tick_end = time.monotonic() + 1.0
            for trickler in tricklers:
                trickler.tick()
            for trickler in tricklers:
                selector.register(trickler.sock, selectors.EVENT_READ, trickler)
            # Within the second: whoever the server answers or closes starts again.
            for key, _ in selector.select(max(0.0, tick_end - time.monotonic())):
                key.data.closed()
            for key in list(selector.get_map().values()):
                selector.unregister(key.fileobj)
            time.sleep(max(0.0, tick_end - time.monotonic()))
    finally:
        selector.close()
        for trickler in tricklers:
            if trickler.sock is not None:
                trickler.sock.close()


def test_fifty_trickling_connections_do_not_delay_a_prolog(tmp_path):
    with running_serve(tmp_path) as serve:
        assert post_prolog(serve, "slow-clients-probe")[0] == 200  # the agent is known
        tricklers = [Trickler(serve.port, body=bool(n % 2)) for n in range(TRICKLERS)]
        connected = threading.Event()
        until = time.monotonic() + TRICKLE_SECONDS
        thread = threading.Thread(target=trickle, args=(tricklers, until, connected), daemon=True)
        thread.start()
        assert connected.wait(10), "the slow clients could not connect"
        time.sleep(2)  # every slow connection has sent something by now
        probes = []
        while time.monotonic() < until - PROBE_EVERY:
            status, seconds = post_prolog(serve, "slow-clients-probe")
            probes.append((round(time.monotonic() - until + TRICKLE_SECONDS, 1), status, round(seconds, 3)))
            time.sleep(PROBE_EVERY)
        thread.join(TRICKLE_SECONDS)
        slow = [probe for probe in probes if probe[1] != 200 or probe[2] >= ANSWER_WITHIN]
        assert len(probes) >= 10 and not slow, f"(t s, status, seconds) of slow PROLOGs: {slow}\n{serve.log_tail()}"
        # The server, not the test, ended the slow requests (after the default 20 s).
        cut = [reply for trickler in tricklers for reply in trickler.replies]
        assert len(cut) >= TRICKLERS and all(reply.startswith(b"HTTP/1.1 408") for reply in cut), cut[:5]


def send_slowly(port: int, head: bytes, body: bytes, chunk: int, pause: float) -> bytes:
    """The request's head at once, then its body ``chunk`` bytes every ``pause`` s; the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for start in range(0, len(body), chunk):
                sock.sendall(body[start:start + chunk])
                time.sleep(pause)
        except OSError:
            pass  # refused before the end: the reply says why
        reply = b""
        while chunk_read := sock.recv(65536):
            reply += chunk_read
        return reply


def test_late_requests_get_408_and_steady_ones_go_through(tmp_path):
    with running_serve(tmp_path, FUSION_BRIDGE_CLIENT_TIMEOUT="2") as serve:
        post = b"POST /plugins/fusioninventory/ HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/x-compress-zlib\r\n"

        started = time.monotonic()
        headers_late = send_slowly(serve.port, b"", post, 1, 0.5)
        assert headers_late.startswith(b"HTTP/1.1 408"), headers_late
        assert time.monotonic() - started < 10

        body = prolog("slow-but-steady")
        started = time.monotonic()
        body_late = send_slowly(serve.port, post + b"Content-Length: %d\r\n\r\n" % len(body), body, 1, 0.5)
        assert body_late.startswith(b"HTTP/1.1 408"), body_late
        assert time.monotonic() - started < 10

        # 2 s, plus 1 s per 500 bytes received: 4 KB at ~1 KB/s takes longer than 2 s and passes.
        plain = (b'<?xml version="1.0" encoding="UTF-8" ?>\n<REQUEST><!-- ' + b"p" * 4000 + b" -->"
                 b"<DEVICEID>slow-but-steady</DEVICEID><QUERY>PROLOG</QUERY><TOKEN>12345678</TOKEN></REQUEST>\n")
        started = time.monotonic()
        steady = send_slowly(serve.port, post.replace(b"x-compress-zlib", b"xml") +
                             b"Content-Length: %d\r\n\r\n" % len(plain), plain, 250, 0.25)
        assert steady.startswith(b"HTTP/1.1 200"), steady[:300]
        assert time.monotonic() - started > 3

        log = serve.log_text()
        assert "refused (408): request headers not received within 2 s" in log, serve.log_tail()
        assert "POST /plugins/fusioninventory/ from 127.0.0.1 refused (408): request body not received" in log, \
            serve.log_tail()


def cut_short(port: int, head: bytes, sent: bytes) -> bytes:
    """A request whose client stops sending (and half-closes) before the end of its body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + sent)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply


def test_a_body_cut_short_is_refused_not_taken_whole(tmp_path):
    """gunicorn reports no short body (it sets wsgi.input_terminated): an upload cut by the
    client used to be stored as a smaller file, an agent message to be parsed as it was."""
    with running_serve(tmp_path, "--no-scheduler", FUSION_BRIDGE_ADMIN_TOKEN="token") as serve:
        upload = b"POST /api/deploy/files?name=cut.bin HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer token\r\n"
        for declared in (40 * 1024 * 1024, 4 * 1024 * 1024):  # read by the upload itself / read first
            reply = cut_short(serve.port, upload + b"Content-Length: %d\r\n\r\n" % declared, b"y" * 5000)
            assert reply.startswith(b"HTTP/1.1 400"), reply[:300]
            assert b"request body ended after 5000 of its %d bytes" % declared in reply, reply
        body = prolog("cut-short")
        reply = cut_short(serve.port, b"POST /plugins/fusioninventory/ HTTP/1.1\r\nHost: bridge\r\n"
                          b"Content-Length: %d\r\n\r\n" % (len(body) + 10), body)
        assert reply.startswith(b"HTTP/1.1 400"), reply[:300]
        request = urllib.request.Request(f"http://127.0.0.1:{serve.port}/api/deploy/files",
                                         headers={"Authorization": "Bearer token"})
        with urllib.request.urlopen(request, timeout=10) as listed:
            assert b"cut.bin" not in listed.read()
        assert not (tmp_path / "fusion-bridge-files" / "files" / "manifests").exists() or \
            not any((tmp_path / "fusion-bridge-files" / "files" / "manifests").iterdir())
        assert "refused (400): request body ended after 5000 of its" in serve.log_text()
