"""What one process of the app holds: settings, the database engine, the services."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

import protocol
from fusion_bridge.config import Config
from fusion_bridge import throttled_log
from fusion_bridge.adapters.db import DbLimits, make_engine
from fusion_bridge.adapters.db_retry import RetryPolicy, retrying
from fusion_bridge.services.agent.exchange import AgentExchange
from fusion_bridge.services.rest.calls import RestCalls
from fusion_bridge.services.agent.settings import SettingsCache


@dataclass
class Runtime:
    config: Config
    engine: Engine = field(init=False)
    autocommit_engine: Engine = field(init=False)
    limits: protocol.Limits = field(init=False)
    exchange: AgentExchange = field(init=False)
    rest: RestCalls = field(init=False)
    retry_policy: RetryPolicy = field(init=False)

    def __post_init__(self) -> None:
        config = self.config
        limits = DbLimits(connect_timeout=config.db_connect_timeout, read_timeout=config.db_read_timeout,
                          write_timeout=config.db_write_timeout, lock_wait_timeout=config.db_lock_wait_timeout,
                          statement_timeout=config.db_statement_timeout,
                          sqlite_busy_timeout=config.sqlite_busy_timeout)
        self.retry_policy = RetryPolicy(retries=config.db_retries, budget=config.db_retry_budget)
        throttled_log.configure(config.log_interval)
        self.engine = make_engine(self.config.database_url, limits=limits)
        self.autocommit_engine = (make_engine(self.config.database_url, autocommit=True, limits=limits)
                                  if self.engine.dialect.name in ("mysql", "mariadb") else self.engine)
        self.limits = protocol.Limits(max_decompressed=self.config.max_xml_bytes, max_depth=self.config.max_xml_depth)
        self.exchange = AgentExchange(self.engine, self.autocommit_engine, SettingsCache(self.engine, self.config.settings_ttl))
        self.rest = RestCalls(self.engine, read_engine=self.autocommit_engine)

    def retrying(self, call, *args, **kwargs):
        """``call(*args, **kwargs)`` as one unit of work, run again after a deadlock, a lock wait
        timeout or a lost connection (adapters.db_retry)."""
        return retrying(call, *args, policy=self.retry_policy, **kwargs)

    def dispose(self) -> None:
        self.engine.dispose()
        self.autocommit_engine.dispose()
