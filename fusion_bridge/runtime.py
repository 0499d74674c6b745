"""What one process of the app holds: settings, the database engine, the services."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

import protocol
from fusion_bridge.config import Config
from fusion_bridge.adapters.db import make_engine
from fusion_bridge.services.agent.exchange import AgentExchange
from fusion_bridge.services.rest.calls import RestCalls
from fusion_bridge.services.agent.settings import SettingsCache
from fusion_bridge.services.inventory.computers import SECTIONS_READ as IMPORT_SECTIONS
from fusion_bridge.services.relay import intake as relay_intake
from fusion_bridge.services.relay.settings import caps_of


@dataclass
class Runtime:
    config: Config
    engine: Engine = field(init=False)
    autocommit_engine: Engine = field(init=False)
    limits: protocol.Limits = field(init=False)
    exchange: AgentExchange = field(init=False)
    rest: RestCalls = field(init=False)
    # The CONTENT sections of an INVENTORY the server reads: the local import's, or the relay's.
    inventory_sections: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.config.database_url)
        self.autocommit_engine = (make_engine(self.config.database_url, autocommit=True)
                                  if self.engine.dialect.name in ("mysql", "mariadb") else self.engine)
        self.limits = protocol.Limits(max_decompressed=self.config.max_xml_bytes, max_depth=self.config.max_xml_depth)
        relay = relay_intake.RelayIntake(caps_of(self.config)) if self.config.inventory_upstream else None
        self.inventory_sections = relay_intake.SECTIONS_READ if relay else IMPORT_SECTIONS
        self.exchange = AgentExchange(self.engine, self.autocommit_engine,
                                      SettingsCache(self.engine, self.config.settings_ttl), relay=relay)
        self.rest = RestCalls(self.engine, read_engine=self.autocommit_engine)

    def dispose(self) -> None:
        self.engine.dispose()
        self.autocommit_engine.dispose()
