"""Run the app under gunicorn (sync workers: the fastest choice for this DB-bound handler)."""

from __future__ import annotations

import multiprocessing
import socket

from gunicorn.app.base import BaseApplication

from fusion_bridge.config import Config


class BridgeServer(BaseApplication):
    def __init__(self, config: Config, options: dict):
        self._config = config
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        # Built in each worker after the fork: no database connection crosses a fork.
        from fusion_bridge import create_app

        return create_app(self._config)


def default_workers() -> int:
    return 2 * multiprocessing.cpu_count() + 1


def gunicorn_options(config: Config, access_log: bool) -> dict:
    return {
        "bind": [config.bind],
        "workers": config.workers or default_workers(),
        "worker_class": "sync",
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": config.log_level.lower(),
        "proc_name": "fusion-bridge",
        # gunicorn >= 25 opens a control socket at one fixed path per user, which several
        # instances on one machine would fight over.
        "control_socket_disable": True,
    }


def agent_url(bind: str) -> str:
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/plugins/fusioninventory/"


def run(config: Config, access_log: bool = False) -> None:
    from fusion_bridge.services.relay.process import start_relay_child

    relay = start_relay_child(config)  # the inventory relay's forwarder, when an upstream is set
    try:
        BridgeServer(config, gunicorn_options(config, access_log)).run()
    finally:
        if relay is not None:
            relay.stop()
