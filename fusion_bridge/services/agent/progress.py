"""What the agent reports while it runs a network job (docs/plugin-semantics.md §8).

Every message of a run is applied in the transaction that recorded the agent's contact, with
the run's row locked, so the messages the agent's threads send at once are applied one by one.
A message naming a run that is not the sending agent's is refused.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

import protocol
import schema
from fusion_bridge.errors import InvalidRequest, UnknownRun
from fusion_bridge.services import runs
from fusion_bridge.services.inventory import (discovery_comment, import_discovered_device, item_link,
                                            snmp_device_has_information, snmp_error_comment,
                                            snmp_no_information_comment, snmp_update_comment,
                                            update_inventoried_device)
from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State

states = schema.statediscoveries
_runs = schema.taskjobstates
ADDED, UPDATED, DETAIL_UPDATE = "==addtheitem==", "==updatetheitem==", "[==detail==] Update "
INVENTORY_TYPES = {"NETWORKING": ItemType.NETWORK_EQUIPMENT, "PRINTER": ItemType.PRINTER}


def locked_run(conn: Connection, message: protocol.TaskMessage, agent_id: int, method: str):
    """The run the message belongs to, locked; UnknownRun unless it is this agent's."""
    if message.process_number is None:
        raise InvalidRequest(f"{message.query} message without PROCESSNUMBER")
    row = conn.execute(
        select(_runs.c.id, _runs.c.state, _runs.c.itemtype, _runs.c.items_id,
               _runs.c.plugin_fusioninventory_agents_id.label("agent_id"), schema.taskjobs.c.method)
        .join(schema.taskjobs, schema.taskjobs.c.id == _runs.c.plugin_fusioninventory_taskjobs_id)
        .where(_runs.c.id == message.process_number)
        .with_for_update()
    ).first()
    if row is None or row.agent_id != agent_id or row.method != method:
        raise UnknownRun(f"PROCESSNUMBER {message.process_number} is not a {method} run of this agent")
    return row


def _still_running(conn: Connection, run) -> bool:
    """Messages for a finished, failed or cancelled run are ignored (e.g. the second END)."""
    if run.state not in runs.ACTIVE:
        return False
    if run.state != State.AGENT_HAS_SENT_DATA:
        runs.agent_reports(conn, run.id)
    return True


def netdiscovery(conn: Connection, agent_id: int, message: protocol.TaskMessage, now: datetime) -> None:
    run = locked_run(conn, message, agent_id, Method.NETWORK_DISCOVERY)
    if not _still_running(conn, run):
        return
    counters = _state_row(conn, run.id, agent_id, now)
    if isinstance(message, protocol.NetDiscoveryStart):
        if counters.start_time is None:
            _update_counters(conn, counters.id, start_time=now)
    elif isinstance(message, protocol.NetDiscoveryNbIp):
        _update_counters(conn, counters.id, nb_ip=counters.nb_ip + message.nb_ip)
    elif isinstance(message, protocol.NetDiscoveryEnd):
        _update_counters(conn, counters.id, end_time=now)
        _complete_slice(conn, run.id)
        added, updated = _count_logs(conn, run.id, ADDED), _count_logs(conn, run.id, UPDATED)
        runs.finish(conn, run.id, f"Processed:{added + updated} Created:{added}  Updated:{updated}", now, agent_id)
    elif isinstance(message, protocol.NetDiscoveryDevices):
        created = 0
        for device in message.devices:
            entity = _int(device.entity)
            result = import_discovered_device(conn, agent_id, device, entity, now)
            created += result.created
            runs.add_log(conn, run.id, Log.RUNNING, discovery_comment(result.itemtype, result.items_id, result.created),
                         now, ItemType.AGENT, agent_id)
        runs.add_log(conn, run.id, Log.RUNNING, f"{len(message.devices)} ==devicesfound==", now, ItemType.AGENT, agent_id)
        _update_counters(conn, counters.id, nb_found=counters.nb_found + len(message.devices),
                         nb_import=counters.nb_import + created,
                         nb_exists=counters.nb_exists + len(message.devices) - created)
        _advance_slice(conn, run, message.devices)


def _advance_slice(conn: Connection, run, devices) -> None:
    """``addresses_done`` of a sliced run: the highest reported address's offset in the slice
    + 1, never lower than before. The agent scans its block in order with several threads and
    reports only the addresses that answered, so this is a lower bound of the work done.

    Plain 9.5 runs (no bridge row, or no slice) cost one primary-key read. The run's row is
    locked by ``locked_run``, so this read-then-write cannot race another message of the run.
    """
    if run.itemtype != ItemType.IP_RANGE:
        return
    bridge = schema.bridge_runs
    ranges = schema.ipranges
    row = conn.execute(
        select(bridge.c.slice_first, bridge.c.slice_count, bridge.c.addresses_done, ranges.c.ip_start)
        .select_from(bridge.join(ranges, ranges.c.id == run.items_id))
        .where(bridge.c.plugin_fusioninventory_taskjobstates_id == run.id, bridge.c.slice_count.is_not(None))
    ).first()
    if row is None:
        return
    try:
        slice_start = int(ipaddress.IPv4Address(row.ip_start or "")) + (row.slice_first or 0)
    except ValueError:
        return
    done = row.addresses_done or 0
    for device in devices:
        try:
            offset = int(ipaddress.IPv4Address(device.ip or "")) - slice_start
        except ValueError:
            continue
        if 0 <= offset < row.slice_count:
            done = max(done, offset + 1)
    if done > (row.addresses_done or 0):
        conn.execute(update(bridge).where(bridge.c.plugin_fusioninventory_taskjobstates_id == run.id,
                                          bridge.c.addresses_done < done).values(addresses_done=done))


def _complete_slice(conn: Connection, run_id: int) -> None:
    """At END the agent has scanned its whole slice (one UPDATE; nothing for plain runs)."""
    bridge = schema.bridge_runs
    conn.execute(update(bridge).where(bridge.c.plugin_fusioninventory_taskjobstates_id == run_id,
                                      bridge.c.slice_count.is_not(None))
                 .values(addresses_done=bridge.c.slice_count))


def snmpquery(conn: Connection, agent_id: int, message: protocol.TaskMessage, now: datetime) -> None:
    run = locked_run(conn, message, agent_id, Method.NETWORK_INVENTORY)
    if not _still_running(conn, run):
        return
    if isinstance(message, protocol.SnmpQueryStart):
        runs.add_log(conn, run.id, Log.RUNNING, "==inventorystarted==", now, ItemType.AGENT, agent_id)
    elif isinstance(message, protocol.SnmpQueryEnd):
        runs.finish(conn, run.id, f"Total updated:{_count_logs(conn, run.id, DETAIL_UPDATE)}", now, agent_id)
    elif isinstance(message, protocol.SnmpQueryError):
        itemtype, items_id = _inventoried_item(run, message.item_type, message.item_id)
        runs.add_log(conn, run.id, Log.RUNNING, "1 ==devicesqueried==", now, ItemType.AGENT, agent_id)
        runs.add_log(conn, run.id, Log.ERROR, snmp_error_comment(message.message, itemtype, items_id),
                     now, ItemType.AGENT, agent_id)
    elif isinstance(message, protocol.SnmpQueryResult):
        itemtype, items_id = _inventoried_item(run, message.device.info.type, message.item_id)
        runs.add_log(conn, run.id, Log.RUNNING, "1 ==devicesqueried==", now, ItemType.AGENT, agent_id)
        if not snmp_device_has_information(message.device):
            comment = snmp_no_information_comment(itemtype, items_id)
        elif update_inventoried_device(conn, itemtype, items_id, message.device, now):
            comment = snmp_update_comment(itemtype, items_id)
        else:
            comment = f"[==detail==] The device no longer exists {item_link(itemtype, items_id)}"
        runs.add_log(conn, run.id, Log.RUNNING, comment, now, ItemType.AGENT, agent_id)


def _inventoried_item(run, agent_type: str | None, agent_id_text: str | None) -> tuple[str, int]:
    """The device a result is about: the run's own target unless the agent names another."""
    itemtype = INVENTORY_TYPES.get((agent_type or "").upper(), run.itemtype)
    return itemtype, _int(agent_id_text) or run.items_id


def _state_row(conn: Connection, run_id: int, agent_id: int, now: datetime):
    query = select(states).where(states.c.plugin_fusioninventory_taskjob_id == run_id,
                                 states.c.plugin_fusioninventory_agents_id == agent_id)
    row = conn.execute(query).first()
    if row is None:
        conn.execute(insert(states).values(plugin_fusioninventory_taskjob_id=run_id,
                                           plugin_fusioninventory_agents_id=agent_id, date_mod=now))
        row = conn.execute(query).first()
    return row


def _update_counters(conn: Connection, state_id: int, **values) -> None:
    conn.execute(update(states).where(states.c.id == state_id).values(**values))


def _count_logs(conn: Connection, run_id: int, marker: str) -> int:
    logs = schema.taskjoblogs
    return conn.execute(select(func.count()).where(
        logs.c.plugin_fusioninventory_taskjobstates_id == run_id, logs.c.comment.contains(marker, autoescape=True)
    )).scalar()


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0
