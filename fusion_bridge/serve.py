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
        from fusion_bridge.app import create_app  # Flask only in the workers, not in the CLI

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
    } | _ops_options(config)


def _ops_options(config: Config) -> dict:
    """gunicorn's logger (the bridge's log format), hooks, TLS, metrics listener, and its access
    log off: the bridge writes its own lines (fusion_bridge/ops)."""
    from fusion_bridge.ops.runtime import gunicorn_options as ops_options
    from fusion_bridge.ops.settings import OpsSettings

    return ops_options(OpsSettings.from_env(), [config.bind])


def agent_url(bind: str, tls: bool = False) -> str:
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}/plugins/fusioninventory/"


def run(config: Config, access_log: bool = False) -> None:
    BridgeServer(config, gunicorn_options(config, access_log)).run()
