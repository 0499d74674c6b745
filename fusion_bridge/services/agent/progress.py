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
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.errors import InvalidRequest, UnknownRun
from fusion_bridge.services import runs
from fusion_bridge.domain.rules import CREATED, LINKED, NO_RULE
from fusion_bridge.services.inventory import rules
from fusion_bridge.services.inventory.names import snmp_updated_prefix
from fusion_bridge.services.inventory import (ImportResult, asset_row, create_asset, discovery_comment,
                                            discovered_match, import_decided_device, item_link,
                                            snmp_device_has_information, snmp_error_comment,
                                            snmp_no_information_comment, snmp_update_comment,
                                            update_inventoried_device)
from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State

states = schema.statediscoveries
_runs = schema.taskjobstates
ADDED, UPDATED = "==addtheitem==", "==updatetheitem=="
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
        runs.finish(conn, run.id, discovery_summary(conn, added, updated), now, agent_id)
    elif isinstance(message, protocol.NetDiscoveryDevices):
        created = linked = 0
        rule_pass = rules.RulePass.load(conn, agent_id)
        for device in message.devices:
            result = import_by_rules(conn, run.id, rule_pass, device, now)
            if result is not None:
                created += result.created
                linked += not result.created
        runs.add_log(conn, run.id, Log.RUNNING, f"{len(message.devices)} ==devicesfound==", now, ItemType.AGENT, agent_id)
        _update_counters(conn, counters.id, nb_found=counters.nb_found + len(message.devices),
                         nb_import=counters.nb_import + created, nb_exists=counters.nb_exists + linked)
        _advance_slice(conn, run, message.devices)


def _glpiinventory(conn: Connection) -> bool:
    """Whether run log lines take glpiinventory's spelling (docs/glpi10-protocol.md §9)."""
    return layout_of(conn).renames


def discovery_summary(conn: Connection, added: int, updated: int) -> str:
    """The comment ending a discovery run, as the plugin of the connection's layout writes it
    (docs/plugin-semantics.md §8; glpiinventory: docs/glpi10-protocol.md §9)."""
    if _glpiinventory(conn):
        return f"Processed: {added + updated} Created: {added} Updated: {updated}"
    return f"Processed:{added + updated} Created:{added}  Updated:{updated}"


def import_by_rules(conn: Connection, run_id: int, rule_pass: rules.RulePass, device: protocol.DiscoveredDevice,
                    now: datetime) -> ImportResult | None:
    """One DEVICE through GLPI's import, entity and location rules (docs/import-rules.md §3):
    refused (the plugin's ``==importdenied==`` line and ignored-import row; None), linked or
    created, with the asset's rule-matched log and the ``==addtheitem==``/``==updatetheitem==``
    line."""
    agent_id = rule_pass.agent_id
    decision = rules.discovery_decision(conn, rule_pass, device)
    for line in rule_pass.new_skips(decision.imported, decision.entity, decision.location):
        _log_once(conn, run_id, line, now, agent_id)
    if decision.refused_by is not None:
        runs.add_log(conn, run_id, Log.RUNNING, decision.refusal_comment, now, ItemType.AGENT, agent_id)
        rules.record_refusal(conn, decision, Method.NETWORK_DISCOVERY, now)
        return None
    imported = decision.imported
    fallback = decision.rule_input.get("itemtype") or ItemType.UNMANAGED
    match = (imported.itemtype, imported.items_id) if imported.kind == LINKED else None
    if imported.kind == NO_RULE and rule_pass.bridge_matching:
        match = discovered_match(conn, device)
    create_type = imported.itemtype if imported.kind == CREATED else fallback
    entity = rules.created_entity(decision, _int(device.entity))
    result = import_decided_device(conn, agent_id, device, entity, now, match, create_type,
                                   decision.location.locations_id)
    if imported.rule is not None:
        # The plugin records the rule's input only when the rule linked.
        criteria = decision.rule_input.as_json() if imported.kind == LINKED else None
        rules.record_match(conn, rule_pass, imported.rule, result.itemtype, result.items_id,
                           Method.NETWORK_DISCOVERY, now, criteria)
    comment = discovery_comment(result.itemtype, result.items_id, result.created, _glpiinventory(conn))
    runs.add_log(conn, run_id, Log.RUNNING, comment, now, ItemType.AGENT, agent_id)
    return result


def _log_once(conn: Connection, run_id: int, comment: str, now: datetime, agent_id: int) -> None:
    """An Info line the run does not have yet (a skipped rule is reported once per run)."""
    logs = schema.taskjoblogs
    known = conn.execute(select(logs.c.id).where(logs.c.plugin_fusioninventory_taskjobstates_id == run_id,
                                                 logs.c.state == Log.INFO, logs.c.comment == comment).limit(1)).first()
    if known is None:
        runs.add_log(conn, run_id, Log.INFO, comment, now, ItemType.AGENT, agent_id)


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
        updated = _count_logs(conn, run.id, snmp_updated_prefix(_glpiinventory(conn)))
        runs.finish(conn, run.id, f"Total updated:{updated}", now, agent_id)
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
        else:
            comment = inventory_by_rules(conn, run.id, agent_id, itemtype, items_id, message.device, now)
        runs.add_log(conn, run.id, Log.RUNNING, comment, now, ItemType.AGENT, agent_id)


def inventory_by_rules(conn: Connection, run_id: int, agent_id: int, itemtype: str, items_id: int,
                       device: protocol.InventoriedDevice, now: datetime) -> str:
    """An SNMP result of a network device or printer through GLPI's import and location rules
    (docs/import-rules.md §3): refused, or imported into the asset they link to, the asset the
    agent named (no rule matched), or a new one. Returns the run log line."""
    target: tuple[str, int] = (itemtype, items_id)
    locations_id = None
    if itemtype in (ItemType.NETWORK_EQUIPMENT, ItemType.PRINTER):
        rule_pass = rules.RulePass.load(conn, agent_id)
        decision = rules.inventory_decision(conn, rule_pass, itemtype, device)
        for line in rule_pass.new_skips(decision.imported, decision.entity, decision.location):
            _log_once(conn, run_id, line, now, agent_id)
        if decision.refused_by is not None:
            rules.record_refusal(conn, decision, Method.NETWORK_INVENTORY, now)
            return decision.refusal_comment
        imported, locations_id = decision.imported, decision.location.locations_id
        known = asset_row(conn, itemtype, items_id)
        if imported.kind == LINKED:
            target = (imported.itemtype, imported.items_id)
        elif imported.kind == CREATED or known is None:
            create_type = imported.itemtype if imported.kind == CREATED else itemtype
            entity = rules.created_entity(decision, known["entities_id"] if known is not None else 0)
            target = (create_type, create_asset(conn, create_type, entity, now, device.info.name,
                                                device.info.serial, locations_id))
        if imported.rule is not None:
            rules.record_match(conn, rule_pass, imported.rule, *target, Method.NETWORK_INVENTORY, now,
                               decision.rule_input.as_json())
    if update_inventoried_device(conn, *target, device, now, locations_id):
        return snmp_update_comment(*target, glpiinventory=_glpiinventory(conn))
    return f"[==detail==] The device no longer exists {item_link(*target, _glpiinventory(conn))}"


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
