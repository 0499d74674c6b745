"""Fixtures of the end-to-end tests: ``fusion-bridge serve`` on the host's loopback (``server``)
or in a private network namespace with snmpd (``netns``, ``snmpd``, ``bridge``), and checks
that the agent has the tasks a test needs (they fail, never skip, when it does not)."""

from __future__ import annotations

import pytest

from tests.helpers import netns as netnslib
from tests.helpers.bridge_server import running_bridge, serving
from tests.helpers.e2e_tasks import installed_tasks_or_fail


@pytest.fixture
def server(database_url, tmp_path):
    """``fusion-bridge serve`` on a free port of the host's 127.0.0.1."""
    with serving(database_url, tmp_path) as running:
        yield running


@pytest.fixture
def netns():
    """A private network namespace with only ``lo``."""
    try:
        namespace = netnslib.NetNamespace()
    except netnslib.ToolMissing as missing:
        pytest.fail(str(missing))
    try:
        yield namespace
    finally:
        namespace.close()


@pytest.fixture
def snmpd(netns, tmp_path):
    """A real snmpd on udp 127.0.0.1:161 inside ``netns``."""
    try:
        daemon = netnslib.Snmpd(netns, tmp_path / "snmpd")
    except netnslib.ToolMissing as missing:
        pytest.fail(str(missing))
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def bridge(netns, database_url, engine, tmp_path):
    """``fusion-bridge serve`` (with its scheduler) on 127.0.0.1:8080 inside ``netns``."""
    with running_bridge(netns, database_url, engine, tmp_path / "server.log") as running:
        yield running


@pytest.fixture(scope="session")
def agent_tasks() -> str:
    """The agent and its network tasks are installed; the agent's path."""
    return installed_tasks_or_fail(("NetDiscovery", "network"), ("NetInventory", "network"),
                                   ("WakeOnLan", "network"))


@pytest.fixture(scope="session")
def deploy_task() -> str:
    """The agent and its Deploy task are installed; the agent's path."""
    return installed_tasks_or_fail(("Deploy", "deploy"))
