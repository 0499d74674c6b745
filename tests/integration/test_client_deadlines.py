"""ClientSocket's deadlines (fusion_bridge/client_deadlines.py) on a real socket pair: a late
request is cut off with a 408, a body that keeps the minimum pace is not, and a reply the
client does not take ends the connection instead of holding the thread."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from fusion_bridge.client_deadlines import ClientLimits, ClientSocket, RequestTimedOut

LIMITS = ClientLimits(timeout=0.5, min_rate=1000, request_limit=3)


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    yield ClientSocket(server, ("192.0.2.7", 5555), LIMITS), client
    server.close()
    client.close()


def test_headers_late_get_a_408(pair, caplog):
    server, client = pair
    client.sendall(b"POST / HTTP/1.1\r\n")
    assert server.recv(100) == b"POST / HTTP/1.1\r\n"
    started = time.monotonic()
    with pytest.raises(RequestTimedOut) as late:
        server.recv(100)
    assert 0.3 < time.monotonic() - started < 1.5
    assert late.value.phase == "headers"
    assert client.recv(100).startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert "connection from 192.0.2.7 refused (408): request headers not received within" in caplog.text
    # Once refused, reads are the socket's own again (gunicorn's closing drain).
    client.sendall(b"more")
    assert server.recv(100) == b"more"


def test_a_body_keeping_the_minimum_pace_is_not_cut_off(pair):
    server, client = pair
    server.start_body()

    def steady():  # 2 KB/s for 1.5 s: more than the 0.5 s allowance, within 0.5 s + 1 s per KB
        for _ in range(15):
            client.sendall(b"x" * 200)
            time.sleep(0.1)

    sender = threading.Thread(target=steady)
    sender.start()
    received = 0
    while received < 3000:
        received += len(server.recv(65536))
    sender.join()

    # Then a stall: the allowance earned by the 3000 bytes (3 s) is capped by the request limit.
    started = time.monotonic()
    with pytest.raises(RequestTimedOut) as late:
        server.recv(100)
    assert late.value.phase == "body"
    assert time.monotonic() - started < 3
    # No 408 from the socket for a body: the WSGI wrapper, which knows the request, answers.
    client.setblocking(False)
    with pytest.raises(BlockingIOError):
        client.recv(100)


def test_a_reply_not_taken_ends_the_connection(pair, caplog):
    server, client = pair
    server.end_reading()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    started = time.monotonic()
    with pytest.raises(BrokenPipeError):
        server.sendall(b"y" * (8 * 1024 * 1024))  # the client never reads
    assert time.monotonic() - started < LIMITS.request_limit + 1
    assert "reply to 192.0.2.7 not taken within 3 s: connection closed" in caplog.text
