"""The forwarder as a process: ``fusion-bridge relay run`` (a dedicated instance), or a child
of ``fusion-bridge serve`` when an inventory upstream is set.

A fresh interpreter rather than a fork, like the scheduler (fusion_bridge/scheduler.py): gunicorn
forks its workers from the same parent. The database URL and the upstream (which may carry
credentials) go through the environment, never the command line, so ``ps`` does not show them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fusion_bridge.adapters.db import make_engine
from fusion_bridge.config import Config
from fusion_bridge.services.relay.forwarder import Forwarder
from fusion_bridge.services.relay.settings import RelaySettings

ENV_PARENT = "FUSION_BRIDGE_RELAY_PARENT"  # set by serve for its relay child


def relay_child_main(config: Config) -> None:
    """Forward until SIGTERM, or until the ``serve`` that started it is gone."""
    settings = RelaySettings.from_config(config)
    parent = os.environ.get(ENV_PARENT)

    def _terminate(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    engine = make_engine(config.database_url)
    forwarder = Forwarder(engine, settings)
    try:
        forwarder.run(should_stop=lambda: parent is not None and str(os.getppid()) != parent)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


@dataclass
class RelayProcess:
    popen: subprocess.Popen
    owner: int  # pid of the process that started it: gunicorn workers share serve's stack

    def stop(self, timeout: float = 15) -> None:
        if os.getpid() != self.owner or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout)


def start_relay_child(config: Config) -> RelayProcess | None:
    """Start ``fusion-bridge relay run`` next to the server when an upstream is set (before
    gunicorn forks its workers); None otherwise."""
    if not config.inventory_upstream:
        return None
    env = dict(os.environ)
    env["FUSION_BRIDGE_DATABASE_URL"] = config.database_url
    env["FUSION_BRIDGE_INVENTORY_UPSTREAM"] = config.inventory_upstream
    env[ENV_PARENT] = str(os.getpid())
    source = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    popen = subprocess.Popen([sys.executable, "-m", "fusion_bridge", "relay", "run"], env=env,
                             stdin=subprocess.DEVNULL)
    return RelayProcess(popen, os.getpid())
