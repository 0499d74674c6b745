"""GLPI's import, entity and location rules applied to discovered and SNMP-inventoried devices.

``RulePass.load`` reads the active rules once per agent message (docs/import-rules.md §1);
``discovery_decision`` and ``inventory_decision`` build the plugin's rule input for a device
(docs/import-rules.md §3) and play the rules with the pure engine of
``fusion_bridge.domain.rules``; the search for "is already present in GLPI" runs here on live
assets (docs/import-rules.md §4). ``record_match`` writes the Import information tab's
``rulematchedlogs`` and ``record_refusal`` the plugin's ignored-import row, as the plugin does
(docs/import-rules.md §6). Nothing here writes run logs: callers get the comments to write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.domain import rules as R
from protocol import DiscoveredDevice, InventoriedDevice
from schema.constants import ItemType
from schema.glpi_core_rules import glpi_ruleactions, glpi_rulecriterias, glpi_rules
from schema.plugin_agents import ignoredimportdevices, rulematchedlogs

from .matching import ASSET_TABLES, live
from .ports import ipaddresses, networknames, ports
from .values import NULL_MAC, fitted, normalize_mac

log = logging.getLogger(__name__)

DISCOVERY_TYPES = {"1": ItemType.COMPUTER, "COMPUTER": ItemType.COMPUTER, "2": ItemType.NETWORK_EQUIPMENT,
                   "NETWORKING": ItemType.NETWORK_EQUIPMENT, "STORAGE": ItemType.NETWORK_EQUIPMENT,
                   "3": ItemType.PRINTER, "PRINTER": ItemType.PRINTER}
MATCHED_LOGS_KEPT = 30  # per item, as the plugin's cleanOlddata


@dataclass
class RulePass:
    """The active rules of one agent message, and the rules already reported as skipped."""

    imports: list[R.Rule]
    entities: list[R.Rule]
    locations: list[R.Rule]
    agent_id: int
    agent_tag: str | None
    reported: set[int] = field(default_factory=set)
    # No import rule of the plugin's type in a glpiinventory database (GLPI 10/11 have none, they
    # import with core rules the bridge does not evaluate): discovery matches devices as the
    # bridge does without rules (docs/glpi10-protocol.md §7).
    bridge_matching: bool = False

    @classmethod
    def load(cls, conn: Connection, agent_id: int) -> "RulePass":
        rules_t, criteria_t, actions_t = glpi_rules, glpi_rulecriterias, glpi_ruleactions
        sub_types = (R.IMPORT_RULES, R.ENTITY_RULES, R.LOCATION_RULES)
        active = select(rules_t.c.id).where(rules_t.c.is_active == 1, rules_t.c.sub_type.in_(sub_types))
        criteria: dict[int, list[R.Criterion]] = {}
        for row in conn.execute(select(criteria_t).where(criteria_t.c.rules_id.in_(active))
                                .order_by(criteria_t.c.id)):
            criteria.setdefault(row.rules_id, []).append(
                R.Criterion(row.criteria or "", int(row.condition or 0), row.pattern or ""))
        actions: dict[int, list[R.Action]] = {}
        for row in conn.execute(select(actions_t).where(actions_t.c.rules_id.in_(active)).order_by(actions_t.c.id)):
            actions.setdefault(row.rules_id, []).append(R.Action(row.action_type or "", row.field or "",
                                                                 row.value or ""))
        by_type: dict[str, list[R.Rule]] = {sub_type: [] for sub_type in sub_types}
        for row in conn.execute(select(rules_t).where(rules_t.c.id.in_(active))):
            by_type[row.sub_type].append(R.Rule(
                row.id, row.name or "", row.sub_type, row.ranking or 0, (row.match or "AND").strip(),
                tuple(criteria.get(row.id, ())), tuple(actions.get(row.id, ()))))
        tag = conn.execute(select(schema.agents.c.tag).where(schema.agents.c.id == agent_id)).scalar()
        bridge_matching = layout_of(conn).renames and not by_type[R.IMPORT_RULES] and conn.execute(
            select(rules_t.c.id).where(rules_t.c.sub_type == R.IMPORT_RULES).limit(1)).first() is None
        return cls(by_type[R.IMPORT_RULES], by_type[R.ENTITY_RULES], by_type[R.LOCATION_RULES], agent_id, tag,
                   bridge_matching=bridge_matching)

    def new_skips(self, *decisions) -> list[str]:
        """Info lines for rules skipped for the first time in this pass, logged once each."""
        lines = []
        for decision in decisions:
            for rule, reason in decision.skipped:
                if rule.id in self.reported:
                    continue
                self.reported.add(rule.id)
                log.warning("rule %s %r (%s) not applied: %s is not supported by fusion-bridge",
                            rule.id, rule.name, rule.sub_type, reason)
                lines.append(skipped_comment(rule, reason))
        return lines


def skipped_comment(rule: R.Rule, reason: str) -> str:
    return f"Rule {rule.name!r} (id {rule.id}) not applied: {reason} is not supported by fusion-bridge"


@dataclass(frozen=True)
class Decision:
    """What the rules say of one device."""

    rule_input: R.RuleInput
    imported: R.ImportDecision
    entity: R.Assignment
    location: R.Assignment

    @property
    def refused_by(self) -> R.Rule | None:
        if self.imported.kind == R.REFUSED:
            return self.imported.rule
        for assignment in (self.entity, self.location):
            if assignment.refused:
                return assignment.rule
        return None

    @property
    def refusal_comment(self) -> str:
        """The plugin's run log line for a refused device."""
        return "==importdenied== " + self.rule_input.text()


# --- rule inputs --------------------------------------------------------------------------

def _usable_mac(text: str | None) -> str | None:
    mac = normalize_mac(text)
    return mac if mac and mac != NULL_MAC else None


def discovery_input(device: DiscoveredDevice, agent_tag: str | None) -> R.RuleInput:
    """The plugin's criteria for a NETDISCOVERY DEVICE, in its order (docs/import-rules.md §3)."""
    values: list[tuple[str, R.Value]] = []
    if device.serial:
        values.append(("serial", device.serial))
    mac = _usable_mac(device.mac)
    if mac:
        values.append(("mac", (mac,)))
    if device.ip:
        values.append(("ip", (device.ip,)))
    name = device.snmp_hostname or device.netbios_name
    if not name and device.dns_hostname:
        name = device.dns_hostname.split(".", 1)[0]  # the plugin keeps the first label
    if name:
        values.append(("name", name))
    values.append(("entities_id", device.entity or "0"))
    itemtype = DISCOVERY_TYPES.get((device.type or "").strip().upper())
    if itemtype:
        values.append(("itemtype", itemtype))
    return R.RuleInput(tuple(values), _extras(agent_tag, device.description))


def inventory_input(itemtype: str, device: InventoriedDevice, agent_tag: str | None) -> R.RuleInput:
    """The plugin's criteria for an SNMPQUERY DEVICE of ``itemtype`` (docs/import-rules.md §3)."""
    info = device.info
    values: list[tuple[str, R.Value]] = []
    serial = info.serial if info.serial and info.serial != "null" else None
    if serial:
        values.append(("serial", serial))
    if itemtype == ItemType.NETWORK_EQUIPMENT:
        mac = _usable_mac(info.mac)
        if mac:
            values.append(("mac", (mac,)))
        values.append(("itemtype", itemtype))
    else:
        values.append(("itemtype", itemtype))
        macs = tuple(m for m in (_usable_mac(p.mac) for p in device.ports) if m)
        ips = tuple(ip for port in device.ports for ip in port.ips[:1])
        if macs:
            values.append(("mac", macs))
        if ips:
            values.append(("ip", ips))
    if info.name:
        values.append(("name", info.name))
    extras = _extras(agent_tag, info.comments)
    if itemtype == ItemType.NETWORK_EQUIPMENT and info.ips:
        extras += (("ip", tuple(info.ips)),)  # for location rules, as the plugin's internal port IPs
    return R.RuleInput(tuple(values), extras)


def _extras(agent_tag: str | None, sysdescr: str | None) -> tuple[tuple[str, R.Value], ...]:
    extras: tuple[tuple[str, R.Value], ...] = ()
    if agent_tag:
        extras += (("tag", agent_tag),)
    if sysdescr:
        extras += (("sysdescr", sysdescr),)
    return extras


# --- deciding -----------------------------------------------------------------------------

def decide(conn: Connection, rule_pass: RulePass, rule_input: R.RuleInput) -> Decision:
    imported = R.decide_import(rule_pass.imports, rule_input, lambda search: find_asset(conn, search))
    by_tag = lambda tag: entity_by_tag(conn, tag)  # noqa: E731
    return Decision(rule_input, imported,
                    R.decide_assignment(rule_pass.entities, R.ENTITY_RULES, rule_input, by_tag),
                    R.decide_assignment(rule_pass.locations, R.LOCATION_RULES, rule_input))


def entity_by_tag(conn: Connection, tag: str) -> int | None:
    entities = schema.glpi_entities
    return conn.execute(select(entities.c.id).where(entities.c.tag == tag).order_by(entities.c.id).limit(1)
                        ).scalar()


def find_asset(conn: Connection, search: R.Search) -> R.Found | None:
    """The first live asset of ``search.itemtypes`` (lowest id) matching every field searched."""
    for itemtype in search.itemtypes:
        table = ASSET_TABLES.get(itemtype)
        if table is None:
            continue
        conditions = list(live(table))
        if search.serial is not None:
            conditions.append(table.c.serial == search.serial)
        if search.name is not None:
            conditions.append(table.c.name == search.name)
        if search.states is not None:
            if "states_id" not in table.c:
                continue
            ids = [int(s) for s in search.states[1] if s.strip().lstrip("-").isdigit()]
            column = table.c.states_id
            conditions.append(column.in_(ids) if search.states[0] == R.Condition.IS else column.not_in(ids))
        conditions += _port_conditions(table, itemtype, search)
        found = conn.execute(select(table.c.id).where(*conditions).order_by(table.c.id).limit(1)).scalar()
        if found is not None:
            return itemtype, found
    return None


def _port_conditions(table, itemtype: str, search: R.Search) -> list:
    def port_of_item():
        return [ports.c.itemtype == itemtype, ports.c.items_id == table.c.id, ports.c.is_deleted == 0]

    def address_on_port():
        return exists().where(
            networknames.c.itemtype == ItemType.NETWORK_PORT, networknames.c.items_id == ports.c.id,
            networknames.c.is_deleted == 0, ipaddresses.c.itemtype == ItemType.NETWORK_NAME,
            ipaddresses.c.items_id == networknames.c.id, ipaddresses.c.is_deleted == 0,
            ipaddresses.c.name.in_(search.ips))

    if search.same_port and search.macs and search.ips:
        return [exists().where(*port_of_item(), ports.c.mac.in_(search.macs), address_on_port())]
    conditions = []
    if search.macs:
        conditions.append(exists().where(*port_of_item(), ports.c.mac.in_(search.macs)))
    if search.ips:
        conditions.append(exists().where(*port_of_item(), address_on_port()))
    return conditions


def discovery_decision(conn: Connection, rule_pass: RulePass, device: DiscoveredDevice) -> Decision:
    return decide(conn, rule_pass, discovery_input(device, rule_pass.agent_tag))


def inventory_decision(conn: Connection, rule_pass: RulePass, itemtype: str,
                       device: InventoriedDevice) -> Decision:
    return decide(conn, rule_pass, inventory_input(itemtype, device, rule_pass.agent_tag))


# --- what the plugin records ----------------------------------------------------------------

def record_match(conn: Connection, rule_pass: RulePass, rule: R.Rule, itemtype: str, items_id: int,
                 method: str, now: datetime, criteria: str | None) -> None:
    """A ``rulematchedlogs`` row (the asset's Import information tab); the 30 newest are kept."""
    conn.execute(insert(rulematchedlogs).values(fitted(rulematchedlogs, {
        "date": now, "items_id": items_id, "itemtype": itemtype, "rules_id": rule.id,
        "plugin_fusioninventory_agents_id": rule_pass.agent_id, "method": method, "criteria": criteria})))
    old = select(rulematchedlogs.c.id).where(
        rulematchedlogs.c.itemtype == itemtype, rulematchedlogs.c.items_id == items_id
    ).order_by(rulematchedlogs.c.date.desc(), rulematchedlogs.c.id.desc()).offset(MATCHED_LOGS_KEPT)
    stale = [row.id for row in conn.execute(old)]
    if stale:
        conn.execute(delete(rulematchedlogs).where(rulematchedlogs.c.id.in_(stale)))


def record_refusal(conn: Connection, decision: Decision, method: str, now: datetime) -> None:
    """The plugin's ``ignoredimportdevices`` row for a refused device (docs/import-rules.md §6); none
    where the layout has no such table (glpiinventory, docs/schema-layouts.md §8)."""
    if not layout_of(conn).stores(ignoredimportdevices.name):
        return
    rule_input = decision.rule_input
    rule = decision.refused_by
    values = {"date": now, "rules_id": rule.id if rule else 0, "method": method,
              "name": rule_input.get("name"), "itemtype": rule_input.get("itemtype")}
    for key in ("ip", "mac"):
        value = rule_input.get(key)
        if value:
            values[key] = R.php_json(list(value) if isinstance(value, tuple) else [value])
    if method == "networkdiscovery" and rule_input.get("serial"):
        values["serial"] = rule_input.get("serial")
    conn.execute(insert(ignoredimportdevices).values(fitted(ignoredimportdevices, values)))


def created_entity(decision: Decision, default: int) -> int:
    """Where a device the rules create goes: an entity rule's entity, else ``default``."""
    return decision.entity.entities_id if decision.entity.entities_id is not None else default


__all__ = ["RulePass", "Decision", "discovery_decision", "inventory_decision", "record_match", "record_refusal",
           "created_entity", "find_asset", "discovery_input", "inventory_input", "skipped_comment"]
