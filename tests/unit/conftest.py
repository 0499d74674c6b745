"""Unit tests use no database and no network: a unit test asking for a database fixture or
opening a socket fails, and says where such a test belongs (tests/integration)."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def database_url():
    pytest.fail("a unit test uses no database: database tests belong in tests/integration")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(sock, address, *args):
        raise AssertionError(f"a unit test used the network ({address!r}): such tests belong in "
                             "tests/integration")

    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, refuse)
