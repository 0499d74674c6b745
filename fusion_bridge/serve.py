"""Run the app under gunicorn, with the bridge's own worker (fusion_bridge/worker.py: sync
request handling in threads, bounded time per client)."""

from __future__ import annotations

import multiprocessing
import socket

from gunicorn.app.base import BaseApplication

from fusion_bridge.adapters.glpi_key import read_key_file
from fusion_bridge.config import Config
from fusion_bridge.errors import GlpiKeyUnusable
from fusion_bridge.supervision import BridgeArbiter, SupervisedChild


class BridgeServer(BaseApplication):
    def __init__(self, config: Config, options: dict, children: list[SupervisedChild] | None = None):
        self._config = config
        self._options = options
        self._children = children or []
        super().__init__()

    @property
    def bridge_config(self) -> Config:
        return self._config

    def load_config(self) -> None:
        for key, value in self._options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        # Built in each worker after the fork: no database connection crosses a fork.
        from fusion_bridge.app import create_app  # Flask only in the workers, not in the CLI

        return create_app(self._config)

    def run(self) -> None:
        try:
            BridgeArbiter(self, self._children).run()
        except RuntimeError as error:  # as BaseApplication.run
            raise SystemExit(f"\nError: {error}\n") from None
        finally:
            for child in self._children:
                child.stop()


def check_settings(config: Config) -> None:
    """ValueError for serve settings gunicorn would only trip over in its workers."""
    if config.threads < 1:
        raise ValueError(f"FUSION_BRIDGE_THREADS must be at least 1, got {config.threads}")
    if config.client_timeout <= 0 or config.client_min_rate <= 0:
        raise ValueError("FUSION_BRIDGE_CLIENT_TIMEOUT and FUSION_BRIDGE_CLIENT_MIN_RATE must be positive")
    if config.glpi_key_file:  # a key file given but unusable: say so now, not at the first run needing it
        try:
            read_key_file(config.glpi_key_file)
        except GlpiKeyUnusable as error:
            raise ValueError(error.detail) from None


def default_workers() -> int:
    return 2 * multiprocessing.cpu_count() + 1


def gunicorn_options(config: Config, access_log: bool) -> dict:
    return {
        "bind": [config.bind],
        "workers": config.workers or default_workers(),
        "worker_class": "fusion_bridge.worker.BridgeWorker",
        "threads": config.threads,
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


def run(config: Config, access_log: bool = False, scheduler: bool = True) -> None:
    """Serve until stopped; with ``scheduler``, also keep the scheduler child running."""
    children = []
    if scheduler:
        from fusion_bridge.scheduler import start_process

        # `fusion-bridge prepare` in a child process, with its own database engine.
        children.append(SupervisedChild("scheduler", lambda: start_process(config.database_url)))
    if config.inventory_upstream:
        from fusion_bridge.services.relay.process import start_relay_child

        # The inventory relay's forwarder (`fusion-bridge relay run`), supervised like the scheduler.
        children.append(SupervisedChild("relay forwarder", lambda: start_relay_child(config)))
    BridgeServer(config, gunicorn_options(config, access_log), children).run()
