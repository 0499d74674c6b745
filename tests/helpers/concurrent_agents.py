"""Many new agents at once: each sends its first PROLOG then its first INVENTORY (the recorded
240 KB document of the real agent 2.6), through one or several app instances."""

from __future__ import annotations

import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.agent_requests import ZLIB_HEADERS, prolog

ROOT = Path(__file__).resolve().parent.parent.parent
# The real agent's INVENTORY (HARDWARE/NAME "vm", no BIOS/SSN, no HARDWARE/UUID).
RECORDED_INVENTORY = ROOT / "fixtures" / "cases" / "inventory_zlib" / "01-INVENTORY" / "request.xml"
RECORDED_DEVICE_ID = b"fixture-zlib-2025-06-01-12-00-00"
AGENT_PATH = "/plugins/fusioninventory/"


def recorded_inventory(device_id: str, name: str | None = None, uuid: str | None = None) -> bytes:
    """The recorded INVENTORY as ``device_id`` sends it, its HARDWARE/NAME changed to ``name``,
    with a HARDWARE/UUID when ``uuid`` is given."""
    xml = RECORDED_INVENTORY.read_bytes().replace(RECORDED_DEVICE_ID, device_id.encode())
    at = xml.index(b"<NAME>vm</NAME>", xml.index(b"<HARDWARE>"))
    replacement = b"<NAME>" + (name or "vm").encode() + b"</NAME>"
    if uuid is not None:
        replacement += b"<UUID>" + uuid.encode() + b"</UUID>"
    xml = xml[:at] + replacement + xml[at + len(b"<NAME>vm</NAME>"):]
    return zlib.compress(xml)


@dataclass
class Outcome:
    statuses: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, device_id: str, what: str, status: int) -> None:
        with self.lock:
            self.statuses.append((device_id, what, status))

    @property
    def failures(self) -> list[tuple[str, str, int]]:
        return [entry for entry in self.statuses if entry[2] != 200]


def first_contacts(apps, device_ids: list[str], concurrency: int, names: dict[str, str] | None = None,
                   uuid: str | None = None) -> Outcome:
    """Every agent of ``device_ids`` sends a PROLOG then its first INVENTORY, ``concurrency``
    agents at a time, agent i through ``apps[i % len(apps)]``; the first wave starts together.
    ``names``: HARDWARE/NAME by DEVICEID (else the recorded "vm"); ``uuid``: a HARDWARE/UUID
    for all (cloned virtual machines)."""
    outcome = Outcome()
    bodies = {device_id: recorded_inventory(device_id, (names or {}).get(device_id), uuid) for device_id in device_ids}
    start = threading.Barrier(min(concurrency, len(device_ids)))

    def agent(index: int, device_id: str) -> None:
        client = apps[index % len(apps)].test_client()
        if index < concurrency:
            start.wait(timeout=60)  # the first wave starts at the same instant
        response = client.post(AGENT_PATH, data=prolog(device_id), headers=ZLIB_HEADERS)
        outcome.add(device_id, "PROLOG", response.status_code)
        response = client.post(AGENT_PATH, data=bodies[device_id], headers=ZLIB_HEADERS)
        outcome.add(device_id, "INVENTORY", response.status_code)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(agent, index, device_id) for index, device_id in enumerate(device_ids)]:
            future.result()
    return outcome
