"""A stand-in for GLPI 10/11's core ``glpi_agents`` and ``glpi_agenttypes`` (columns as installed,
docs/glpi10-protocol.md §5.2), for testing the CONTACT's database part until the schema
carries the GLPI 10 layout. ``created_in(engine)`` creates both and drops them afterwards."""

from __future__ import annotations

import contextlib

from sqlalchemy import (TIMESTAMP, Column, Integer, MetaData, SmallInteger, String, Table, UniqueConstraint,
                        insert)

metadata = MetaData()

agenttypes = Table("glpi_agenttypes", metadata, Column("id", Integer, primary_key=True),
                   Column("name", String(255)))

MODULE_COLUMNS = ("use_module_wake_on_lan", "use_module_computer_inventory", "use_module_esx_remote_inventory",
                  "use_module_remote_inventory", "use_module_network_inventory", "use_module_network_discovery",
                  "use_module_package_deployment", "use_module_collect_data")

agents = Table(
    "glpi_agents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deviceid", String(255), nullable=False),
    Column("entities_id", Integer, nullable=False, server_default="0"),
    Column("is_recursive", SmallInteger, nullable=False, server_default="0"),
    Column("name", String(255)),
    Column("agenttypes_id", Integer, nullable=False),
    Column("last_contact", TIMESTAMP, nullable=True),
    Column("version", String(255)),
    Column("locked", SmallInteger, nullable=False, server_default="0"),
    Column("itemtype", String(100), nullable=False),
    Column("items_id", Integer, nullable=False),
    Column("useragent", String(255)),
    Column("tag", String(255)),
    Column("port", String(6)),
    Column("remote_addr", String(255)),
    Column("threads_networkdiscovery", Integer, nullable=False, server_default="1"),
    Column("threads_networkinventory", Integer, nullable=False, server_default="1"),
    Column("timeout_networkdiscovery", Integer, nullable=False, server_default="0"),
    Column("timeout_networkinventory", Integer, nullable=False, server_default="0"),
    *(Column(name, SmallInteger, nullable=False, server_default="0") for name in MODULE_COLUMNS),
    UniqueConstraint("deviceid", name="deviceid"),
)


@contextlib.contextmanager
def created_in(engine):
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(agenttypes).values(id=1, name="Core"))
    try:
        yield agents
    finally:
        metadata.drop_all(engine)
