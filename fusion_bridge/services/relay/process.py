"""The forwarder as a process: ``fusion-bridge relay run`` (a dedicated instance), or a child
of ``fusion-bridge serve`` when an inventory upstream is set.

A fresh interpreter rather than a fork (fusion_bridge/supervision.py, ``CommandChild``): gunicorn
forks its workers from the same parent. The database URL and the upstream (which may carry
credentials) go through the environment, never the command line, so ``ps`` does not show them.
"""

from __future__ import annotations

import os
import signal

from fusion_bridge.adapters.db import make_engine
from fusion_bridge.config import Config
from fusion_bridge.services.relay.forwarder import Forwarder
from fusion_bridge.services.relay.settings import RelaySettings
from fusion_bridge.supervision import CommandChild, start_command

ENV_PARENT = "FUSION_BRIDGE_RELAY_PARENT"  # set by serve for its relay child


def relay_child_main(config: Config) -> None:
    """Forward until SIGTERM, or until the ``serve`` that started it is gone."""
    settings = RelaySettings.from_config(config)
    parent = os.environ.get(ENV_PARENT)

    def _terminate(_signum, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _terminate)
    engine = make_engine(config.database_url, flavour=config.schema_flavour)
    forwarder = Forwarder(engine, settings)
    try:
        forwarder.run(should_stop=lambda: parent is not None and str(os.getppid()) != parent)
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


def start_relay_child(config: Config) -> CommandChild | None:
    """Start ``fusion-bridge relay run`` next to the server when an upstream is set (before
    gunicorn forks its workers); None otherwise."""
    if not config.inventory_upstream:
        return None
    return start_command(["relay", "run"], {"FUSION_BRIDGE_DATABASE_URL": config.database_url,
                                            "FUSION_BRIDGE_INVENTORY_UPSTREAM": config.inventory_upstream,
                                            ENV_PARENT: str(os.getpid())}, stop_timeout=15)
