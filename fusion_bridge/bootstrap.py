"""What one worker process holds, built in one place: its settings, the database engines, one
cache of the plugin's settings, and the services every entry point calls.

``create_app`` (``fusion_bridge.app``) builds one ``Services`` per app, i.e. per gunicorn worker,
after the fork (no database connection crosses a fork). The views, the WSGI fast paths and
anything else serving requests use this one object, so a worker has one ``SettingsCache``: a
change of GLPI's module switches shows everywhere after the same TTL.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

import protocol
from fusion_bridge import throttled_log
from fusion_bridge.adapters.db import DbLimits, make_engine
from fusion_bridge.adapters.db_retry import RetryPolicy, retrying
from fusion_bridge.adapters.deploy_repository import FileRepository
from fusion_bridge.adapters.secret_codec import glpi_secrets
from fusion_bridge.config import Config
from fusion_bridge.services.agent.contact import ContactCalls, ContactPolicy
from fusion_bridge.services.agent.exchange import AgentExchange
from fusion_bridge.services.agent.settings import SettingsCache
from fusion_bridge.services.inventory.computers import SECTIONS_READ as IMPORT_SECTIONS
from fusion_bridge.services.relay import intake as relay_intake
from fusion_bridge.services.relay.settings import caps_of
from fusion_bridge.services.rest.calls import RestCalls
from fusion_bridge.services.rest.collect import CollectCalls
from fusion_bridge.services.deploy.jobs import DeployCalls
from fusion_bridge.services.deploy.status import DeployStatusCalls
from fusion_bridge.services.rest.esx import EsxCalls


class Services:
    def __init__(self, config: Config):
        self.config = config
        # A stuck database is a 503 within seconds: connecting, reads, lock waits and statements
        # are bounded; what the database rolled back is run again (adapters.db_retry).
        db_limits = DbLimits(connect_timeout=config.db_connect_timeout, read_timeout=config.db_read_timeout,
                             write_timeout=config.db_write_timeout, lock_wait_timeout=config.db_lock_wait_timeout,
                             statement_timeout=config.db_statement_timeout,
                             sqlite_busy_timeout=config.sqlite_busy_timeout)
        self.retry_policy = RetryPolicy(retries=config.db_retries, budget=config.db_retry_budget)
        throttled_log.configure(config.log_interval)
        self.engine: Engine = make_engine(config.database_url, limits=db_limits, flavour=config.schema_flavour)
        # MariaDB: read-only probes run without a transaction (one round trip, no ROLLBACK).
        self.autocommit_engine: Engine = (make_engine(config.database_url, autocommit=True, limits=db_limits,
                                                      flavour=config.schema_flavour)
                                          if self.engine.dialect.name in ("mysql", "mariadb") else self.engine)
        self.limits = protocol.Limits(max_decompressed=config.max_xml_bytes, max_depth=config.max_xml_depth)
        self.settings = SettingsCache(self.engine, config.settings_ttl)
        self.repository = FileRepository(config.deploy_repository)
        # GLPI 10/11's site key, read once per process; secret_codec(flavour, self.glpi_secrets)
        # gives the services their SecretCodec (docs/glpi-secrets.md §2).
        self.glpi_secrets = glpi_secrets(config.glpi_key_file)

        # The agent endpoint: XML messages, REST getConfig. With an upstream, inventories are
        # queued for GLPI's own import (the relay) instead of imported here.
        relay = (relay_intake.RelayIntake(caps_of(config), limits=self.limits) if config.inventory_upstream
                 else None)
        # The CONTENT sections of an INVENTORY the server reads: the local import's, or the relay's.
        self.inventory_sections: tuple[str, ...] = relay_intake.SECTIONS_DECODED if relay else IMPORT_SECTIONS
        self.exchange = AgentExchange(self.engine, self.autocommit_engine, self.settings, relay=relay)
        self.rest = RestCalls(self.engine, self.settings, read_engine=self.autocommit_engine)
        # GLPI Agent's CONTACT (docs/glpi10-protocol.md §5). The schema flavour decides what is
        # wired here: on GLPI 10/11 the reply style GLPI10 and glpi_agents as ``agents_table``;
        # ``inventory_version`` once JSON inventories are taken (relayed or imported).
        self.contact = ContactCalls(self.engine, ContactPolicy())
        self.reply_style = protocol.ReplyStyle.FUSIONINVENTORY
        # The REST tasks (b/collect, b/esx, b/deploy).
        self.collect = CollectCalls(self.engine, self.settings, read_engine=self.autocommit_engine)
        self.esx = EsxCalls(self.engine, read_engine=self.autocommit_engine)
        self.deploy = DeployCalls(self.engine, self.settings, self.repository, read_engine=self.autocommit_engine)
        self.deploy_status = DeployStatusCalls(self.engine)

    def retrying(self, call, *args, **kwargs):
        """``call(*args, **kwargs)`` as one unit of work: run again after a deadlock, a lock wait
        timeout or a lost connection (``adapters.db_retry``). Every entry point serving requests
        calls its service through this."""
        return retrying(call, *args, policy=self.retry_policy, **kwargs)

    def dispose(self) -> None:
        self.engine.dispose()
        self.autocommit_engine.dispose()
