"""Typed, immutable values for what agents send.

Every message knows the agent (``device_id``) and the ``query`` it came as. Network task
messages carry the ``process_number`` (the run id the server put in PARAM PID), which may be
None when the agent omitted it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .devices import DiscoveredDevice, InventoriedDevice


@dataclass(frozen=True, slots=True)
class Message:
    device_id: str
    query: ClassVar[str] = ""


@dataclass(frozen=True, slots=True)
class Prolog(Message):
    token: str | None = None
    query: ClassVar[str] = "PROLOG"


@dataclass(frozen=True, slots=True)
class Inventory(Message):
    """A computer (or ESX host) inventory.

    ``xml`` is the decompressed document as received, kept for storage; ``content`` is the
    CONTENT element as plain data (see ``xmltree.to_data``).
    """

    version_client: str | None = None
    tag: str | None = None
    content: dict[str, list[Any]] = field(default_factory=dict, compare=False, repr=False)
    xml: bytes = field(default=b"", compare=False, repr=False)
    query: ClassVar[str] = "INVENTORY"


@dataclass(frozen=True, slots=True)
class TaskMessage(Message):
    process_number: int | None = None
    module_version: str | None = None


# --- NETDISCOVERY -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NetDiscoveryStart(TaskMessage):
    agent_version: str | None = None
    query: ClassVar[str] = "NETDISCOVERY"


@dataclass(frozen=True, slots=True)
class NetDiscoveryNbIp(TaskMessage):
    nb_ip: int = 0
    query: ClassVar[str] = "NETDISCOVERY"


@dataclass(frozen=True, slots=True)
class NetDiscoveryDevices(TaskMessage):
    devices: tuple[DiscoveredDevice, ...] = ()
    query: ClassVar[str] = "NETDISCOVERY"


@dataclass(frozen=True, slots=True)
class NetDiscoveryEnd(TaskMessage):
    query: ClassVar[str] = "NETDISCOVERY"


# --- SNMPQUERY ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SnmpQueryStart(TaskMessage):
    agent_version: str | None = None
    query: ClassVar[str] = "SNMPQUERY"


@dataclass(frozen=True, slots=True)
class SnmpQueryResult(TaskMessage):
    """One inventoried device (its INFO and PORTS)."""

    device: InventoriedDevice = InventoriedDevice()
    query: ClassVar[str] = "SNMPQUERY"

    @property
    def item_id(self) -> str | None:
        """The id the server gave the device in its OPTION (INFO/ID)."""
        return self.device.info.id


@dataclass(frozen=True, slots=True)
class SnmpQueryError(TaskMessage):
    item_id: str | None = None
    message: str = ""
    item_type: str | None = None
    query: ClassVar[str] = "SNMPQUERY"


@dataclass(frozen=True, slots=True)
class SnmpQueryEnd(TaskMessage):
    query: ClassVar[str] = "SNMPQUERY"


NETDISCOVERY_MESSAGES = (NetDiscoveryStart, NetDiscoveryNbIp, NetDiscoveryDevices, NetDiscoveryEnd)
SNMPQUERY_MESSAGES = (SnmpQueryStart, SnmpQueryResult, SnmpQueryError, SnmpQueryEnd)
