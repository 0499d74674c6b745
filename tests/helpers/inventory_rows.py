"""Agents, computers, network devices, ports and addresses as GLPI and the plugin store them.

Every builder takes an engine (its own transaction) or an open connection, and returns the new
row's id; explicit ids are optional. ``NOW`` and ``LATER`` are the inventory import tests' clock.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, update

import schema
from fusion_bridge.services.inventory.values import parse_ip
from schema.constants import ItemType
from schema.plugin_network import networkequipments as pf_networkequipments
from schema.plugin_network import printers as pf_printers
from tests.helpers.db import insert_row, rows, writing

NOW = datetime(2025, 6, 1, 12, 0, 0)
LATER = datetime(2025, 6, 2, 8, 30, 0)


def add_agent(bind, agent_id: int | None = None, device_id: str | None = None, *, name: str | None = None,
              computers_id: int = 0, entities_id: int = 0, **values) -> int:
    """An agent as its first PROLOG leaves it (no thread counts of its own), plus ``values``.

    Named after its device id. A ``name`` alone gives the device id ``<name>-2024-03-05-10-22-33``;
    with neither, both follow the id the database gives: ``agent<id>``, ``agent<id>-2024-01-01-00-00-00``.
    """
    if device_id is None and name is not None:
        device_id = f"{name}-2024-03-05-10-22-33"
    row = {"entities_id": entities_id, "computers_id": computers_id, "threads_networkdiscovery": 0,
           "threads_networkinventory": 0, **values}
    if agent_id is not None:
        row["id"] = agent_id
    if device_id is not None:
        row.update(name=name or device_id, device_id=device_id)
    else:  # named after the id below; GLPI 10's agents need a (unique) device id from the start
        row["device_id"] = f"new-{uuid.uuid4().hex}"
    with writing(bind) as conn:
        agent_id = insert_row(conn, schema.agents, **row)
        if device_id is None:
            conn.execute(update(schema.agents).where(schema.agents.c.id == agent_id).values(
                name=f"agent{agent_id}", device_id=f"agent{agent_id}-2024-01-01-00-00-00"))
    return agent_id


def add_agents_with_addresses(engine, agents: dict[int, tuple[str | None, int | None]]) -> None:
    """Agent id -> (address it last called from, port of its HTTP server), in bulk: agent ``n``
    is ``a<n>-2026-11-25-10-00-00``."""
    rows = [{"id": agent_id, "name": f"a{agent_id}", "device_id": f"a{agent_id}-2026-11-25-10-00-00",
             "entities_id": 0, "threads_networkdiscovery": 0, "threads_networkinventory": 0,
             "agent_port": str(port) if port else None} for agent_id, (_a, port) in agents.items()]
    addresses = [{"plugin_fusioninventory_agents_id": agent_id, "address": address, "date": None}
                 for agent_id, (address, _p) in agents.items() if address]
    with writing(engine) as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(insert(schema.agents), rows[start:start + 1000])
        for start in range(0, len(addresses), 1000):
            conn.execute(insert(schema.bridge_agentaddresses), addresses[start:start + 1000])


def add_computer(bind, name: str = "pc", *, computer_id: int | None = None, entities_id: int = 0,
                 **values) -> int:
    row = {"name": name, "entities_id": entities_id, "is_deleted": 0, "is_template": 0, **values}
    if computer_id is not None:
        row["id"] = computer_id
    return insert_row(bind, schema.glpi_computers, **row)


def add_computer_with_agent(bind, name: str | None = None, **agent_values) -> tuple[int, int]:
    """A computer and its agent, as GLPI's inventory import links them: (computer, agent). The
    agent is named as ``add_agent`` names it (after ``name`` when given)."""
    with writing(bind) as conn:
        computer = add_computer(conn, name or "pc")
        return computer, add_agent(conn, name=name, computers_id=computer, **agent_values)


def add_computer_address(bind, computer_id: int, ip: str) -> int:
    """An IPv4 address of a computer not tied to a port (what an inventory may write)."""
    return insert_row(bind, schema.glpi_ipaddresses, entities_id=0, items_id=0,
                      itemtype=ItemType.NETWORK_NAME, version=4, name=ip, is_deleted=0, is_dynamic=0,
                      mainitems_id=computer_id, mainitemtype=ItemType.COMPUTER)


def add_port(bind, itemtype: str, items_id: int, *, mac: str | None = None, ip: str | None = None,
             kind: str = "NetworkPortEthernet", port_id: int | None = None, entities_id: int = 0) -> int:
    """A network port of an asset and, with ``ip``, its network name and address (GLPI's
    port → NetworkName → IPAddress chain, the address columns as GLPI fills them)."""
    port = {"itemtype": itemtype, "items_id": items_id, "entities_id": entities_id, "mac": mac,
            "instantiation_type": kind, "name": "eth0", "is_deleted": 0, "is_dynamic": 0}
    if port_id is not None:
        port.update(id=port_id, logical_number=port_id, name=f"eth{port_id}")
    with writing(bind) as conn:
        port_id = insert_row(conn, schema.glpi_networkports, **port)
        if ip:
            name_id = insert_row(conn, schema.glpi_networknames, itemtype=ItemType.NETWORK_PORT,
                                 items_id=port_id, entities_id=entities_id, name="", is_deleted=0,
                                 is_dynamic=0)
            insert_row(conn, schema.glpi_ipaddresses, itemtype=ItemType.NETWORK_NAME, items_id=name_id,
                       entities_id=entities_id, mainitemtype=itemtype, mainitems_id=items_id, is_deleted=0,
                       is_dynamic=0, **parse_ip(ip).columns())
    return port_id


def add_network_device(bind, itemtype: str, ip: str, *, entities_id: int = 0, credential: int = 1,
                       is_deleted: int = 0, port_type: str = "NetworkPortEthernet",
                       with_extension: bool = True) -> int:
    """A network equipment or printer with one port holding ``ip`` and, ``with_extension``, the
    plugin's row of an inventoried device using SNMP credential ``credential``."""
    equipment = itemtype == ItemType.NETWORK_EQUIPMENT
    with writing(bind) as conn:
        device_id = insert_row(conn, schema.glpi_networkequipments if equipment else schema.glpi_printers,
                               name=f"dev-{ip}", entities_id=entities_id, is_deleted=is_deleted)
        # In GLPI 10/11 the "extension row" is the device's own columns (docs/schema-layouts.md §4):
        # no key of its own to return.
        if with_extension and equipment:
            conn.execute(insert(pf_networkequipments).values(networkequipments_id=device_id,
                                                             plugin_fusioninventory_configsecurities_id=credential))
        elif with_extension:
            conn.execute(insert(pf_printers).values(printers_id=device_id,
                                                    plugin_fusioninventory_configsecurities_id=credential))
        add_port(conn, itemtype, device_id, ip=ip, kind=port_type, entities_id=entities_id)
    return device_id


def add_entity(bind, entity_id: int, parent: int) -> None:
    insert_row(bind, schema.glpi_entities, id=entity_id, name=f"entity{entity_id}", entities_id=parent,
               completename=f"entity{entity_id}", level=2)


def ports_of(bind, itemtype: str, items_id: int) -> list:
    """The network ports of an asset (mappings), by id."""
    ports = schema.glpi_networkports
    return rows(bind, ports, ports.c.itemtype == itemtype, ports.c.items_id == items_id)
