"""What one worker process holds, built in one place: its settings, the database engines, one
cache of the plugin's settings, and the services every entry point calls.

It is also the one place that knows which server the bridge stands in for (``serving``:
FusionInventory for GLPI 9.5, or GLPI 10/11 with glpiinventory, found from the database at the
first request, ``services.agent.serving``) and wires what follows from it: the PROLOG reply's
form, CONTACT's ``glpi_agents`` and expiration, whether a PROLOG creates agents, and the
engines' GLPI-key codec (docs/glpi10-protocol.md §8).

``create_app`` (``fusion_bridge.app``) builds one ``Services`` per app, i.e. per gunicorn worker,
after the fork (no database connection crosses a fork). The views, the WSGI fast paths and
anything else serving requests use this one object, so a worker has one ``SettingsCache``: a
change of GLPI's module switches shows everywhere after the same TTL.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

import protocol
from fusion_bridge import throttled_log
from fusion_bridge.adapters.db import DbLimits, make_engine
from fusion_bridge.adapters.db_retry import RetryPolicy, retrying
from fusion_bridge.adapters.deploy_repository import FileRepository
from fusion_bridge.adapters.secret_codec import glpi_secrets, use_glpi_secrets
from fusion_bridge.config import Config
from fusion_bridge.services.agent.contact import ContactCalls, ContactPolicy
from fusion_bridge.services.agent.exchange import AgentExchange
from fusion_bridge.services.agent.serving import FUSIONINVENTORY_9_5, LazyServing
from fusion_bridge.services.agent.settings import SettingsCache
from fusion_bridge.services.inventory.computers import SECTIONS_READ as IMPORT_SECTIONS
from fusion_bridge.services.relay import intake as relay_intake
from fusion_bridge.services.relay.settings import caps_of
from fusion_bridge.services.rest.calls import RestCalls
from fusion_bridge.services.rest.collect import CollectCalls
from fusion_bridge.services.deploy.jobs import DeployCalls
from fusion_bridge.services.deploy.status import DeployStatusCalls
from fusion_bridge.services.rest.esx import EsxCalls

log = logging.getLogger("fusion_bridge.bootstrap")


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
        # GLPI 10/11's site key, read once per process; the engines' codec follows their layout
        # (``secret_codec.codec_of``, docs/glpi-secrets.md §2).
        self.glpi_secrets = glpi_secrets(config.glpi_key_file)
        use_glpi_secrets(self.engine, self.glpi_secrets)
        use_glpi_secrets(self.autocommit_engine, self.glpi_secrets)
        self.serving = LazyServing(self.engine)
        try:  # known before the first request when the database answers now
            self.serving.get()
        except SQLAlchemyError as error:
            log.info("database not reachable at start (%s): which GLPI it is will be found at the first "
                        "request", type(error).__name__)
        self.limits = protocol.Limits(max_decompressed=config.max_xml_bytes, max_depth=config.max_xml_depth)
        self.settings = SettingsCache(self.engine, config.settings_ttl)
        self.repository = FileRepository(config.deploy_repository)

        # The agent endpoint: XML messages, REST getConfig. With an upstream, inventories are
        # queued for GLPI's own import (the relay) instead of imported here.
        relay = (relay_intake.RelayIntake(caps_of(config), limits=self.limits) if config.inventory_upstream
                 else None)
        # The CONTENT sections of an INVENTORY the server reads: the local import's, or the relay's.
        self.inventory_sections: tuple[str, ...] = relay_intake.SECTIONS_DECODED if relay else IMPORT_SECTIONS
        self.exchange = AgentExchange(self.engine, self.autocommit_engine, self.settings, relay=relay,
                                      serving=self.serving.get)
        self.rest = RestCalls(self.engine, self.settings, read_engine=self.autocommit_engine)
        # GLPI Agent's CONTACT and the XML reply style: see ``contact`` and ``reply_style``.
        self._contact: ContactCalls | None = None
        self._reply_style: protocol.ReplyStyle | None = None
        # The REST tasks (b/collect, b/esx, b/deploy).
        self.collect = CollectCalls(self.engine, self.settings, read_engine=self.autocommit_engine)
        self.esx = EsxCalls(self.engine, read_engine=self.autocommit_engine)
        self.deploy = DeployCalls(self.engine, self.settings, self.repository, read_engine=self.autocommit_engine)
        self.deploy_status = DeployStatusCalls(self.engine)

    @property
    def contact(self) -> ContactCalls:
        """GLPI Agent's CONTACT (docs/glpi10-protocol.md §5): on GLPI 10/11 it writes
        ``glpi_agents`` and answers GLPI's inventory frequency as ``expiration``; on 9.5 it writes
        nothing. ``inventory`` is announced (and GLPI Agent's detecting PROLOG answered in JSON)
        when JSON inventories are taken: relayed to a GLPI 10/11 upstream (docs/glpi10-protocol.md §4.6)."""
        if self._contact is None:
            profile = self.serving.get()
            takes_json = self.exchange.relay is not None and profile.glpiinventory
            self._contact = ContactCalls(
                self.engine, ContactPolicy(inventory_version=profile.announced_version if takes_json else None),
                agents_table=profile.agents_table(),
                expiration=(lambda: self.settings.get().prolog_freq) if profile.glpiinventory else None)
        return self._contact

    @contact.setter
    def contact(self, calls: ContactCalls) -> None:
        self._contact = calls

    @property
    def reply_style(self) -> protocol.ReplyStyle:
        """How XML replies are written: GLPI 10's form on glpiinventory (docs/glpi10-protocol.md §3)."""
        # Not known yet means the database has not answered: an error reply, in 9.5's form.
        return self._reply_style or (self.serving.known() or FUSIONINVENTORY_9_5).reply_style

    @reply_style.setter
    def reply_style(self, style: protocol.ReplyStyle) -> None:
        self._reply_style = style

    def retrying(self, call, *args, **kwargs):
        """``call(*args, **kwargs)`` as one unit of work: run again after a deadlock, a lock wait
        timeout or a lost connection (``adapters.db_retry``). Every entry point serving requests
        calls its service through this."""
        return retrying(call, *args, policy=self.retry_policy, **kwargs)

    def dispose(self) -> None:
        self.engine.dispose()
        self.autocommit_engine.dispose()
