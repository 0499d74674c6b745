"""Ordered actions of a managed task: an action waits for the previous one on the items they share.

The seed's example: action 1 wakes computers (Wake-on-LAN, targets = the computers), action 2
deploys a package to them (actors = the same computers). Action 2's run on a computer is
prepared only when action 1 has no live run on that computer in the current execution (nor a
failed one waiting for its retry or, balanced, for another agent of its pool), and ``wait_previous`` minutes have passed since action 1's
last run on it ended. Items action 1 does not touch are not held. ``wait_previous = -1``: the
action does not wait. The previous action is the task's action with the next lower id.

Items ("places") of a run: its target when the target is a place — a computer, a network
device, an agent, an IP range with the SNMP devices inside it (and the computers of the previous
action having an address inside it: the seed's "wake the computers, then discover the range"),
a group or deploy group with its computers — otherwise (a deploy package, a collect) the agent
that runs it and that agent's computer, where the action really happens. A held pair of this
action makes its items pending for the next action too, so the order holds along the whole
chain of actions.

A balanced action (``balancing``) splits a target between the agents of its pool, so it is
held back by whole targets (``OrderingHold.holds_target``): a target waits while the previous
action is busy with any of its items; which agent would get which slice does not matter.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.services.scheduling.actors import deploy_group_computers, glpi_group_computers, select_in
from fusion_bridge.services.runs import ACTIVE_OR_POSTPONED
from fusion_bridge.services.scheduling.executions import BRIDGE_RUN, RUN_AGENT, Execution, retryable_failures
from fusion_bridge.domain.ipv4 import ipv4_int
from fusion_bridge.services.scheduling.targets import TargetResolver, range_bounds, restricts_to_range_entity
from fusion_bridge.services.admin.task_settings import JobSettings, job_settings
from schema.constants import ItemType

runs = schema.taskjobstates
logs = schema.taskjoblogs
jobs = schema.taskjobs
bridge_runs = schema.bridge_runs
ipaddresses = schema.glpi_ipaddresses

# Targets that are not a place but a payload: their run happens on the agent's computer.
PAYLOADS = {ItemType.DEPLOY_PACKAGE, ItemType.COLLECT}

Item = tuple[str, int]


@dataclass
class Places:
    """Expands targets and agents into the items they stand for; caches per pass of a task."""

    conn: Connection
    resolver: TargetResolver
    _computers: dict[int, int] = field(default_factory=dict)
    _expanded: dict[Item, set[Item]] = field(default_factory=dict)
    _addresses: dict[int, list[int]] = field(default_factory=dict)  # computer -> its IPv4s as int
    _bounds: dict[int, tuple[int, int] | None] = field(default_factory=dict)  # IP range -> bounds

    def load_agents(self, agent_ids) -> None:
        missing = [a for a in agent_ids if a not in self._computers]
        for row in select_in(self.conn, [schema.agents.c.id, schema.agents.c.computers_id],
                             schema.agents.c.id, missing):
            self._computers[row.id] = row.computers_id or 0

    def of_agent(self, agent_id: int) -> set[Item]:
        items = {(ItemType.AGENT, agent_id)}
        computer = self._computers.get(agent_id, 0)
        if computer > 0:
            items.add((ItemType.COMPUTER, computer))
        return items

    def of_target(self, target: Item) -> set[Item]:
        if target not in self._expanded:
            itemtype, item_id = target
            items = {target}
            if itemtype == ItemType.DEPLOY_GROUP:
                items |= {(ItemType.COMPUTER, c) for c in deploy_group_computers(self.conn, [item_id])}
            elif itemtype == ItemType.GROUP:
                items |= {(ItemType.COMPUTER, c) for c in glpi_group_computers(self.conn, [item_id])}
            elif itemtype == ItemType.IP_RANGE:
                items |= set(self.resolver.devices_of_ip_range(item_id))
            self._expanded[target] = items
        return self._expanded[target]

    def computers_in_range(self, range_id: int, computers: set[int]) -> set[Item]:
        """Those of ``computers`` (few: the previous action's busy ones) having a GLPI IPv4
        address inside the IP range. Ranges are not expanded to all their computers: a /16
        may hold thousands."""
        if range_id not in self._bounds:
            self._bounds[range_id] = range_bounds(self.conn, [range_id]).get(range_id)
        bounds = self._bounds[range_id]
        if bounds is None or not computers:
            return set()
        missing = [c for c in computers if c not in self._addresses]
        for computer in missing:
            self._addresses[computer] = []
        for row in select_in(self.conn, [ipaddresses.c.mainitems_id, ipaddresses.c.name], ipaddresses.c.mainitems_id,
                             missing, ipaddresses.c.mainitemtype == ItemType.COMPUTER,
                             ipaddresses.c.is_deleted == 0):
            ip = ipv4_int(row.name)
            if ip is not None:
                self._addresses[row.mainitems_id].append(ip)
        low, high = bounds
        return {(ItemType.COMPUTER, c) for c in computers
                if any(low <= ip <= high for ip in self._addresses[c])}

    def of_run(self, target: Item, agent_id: int, origins: dict[Item, set[Item]] | None = None) -> set[Item]:
        """Items a run of (target, agent) works on; ``origins``: raw targets a resolved one
        came from (an SNMP device from its IP range)."""
        if target[0] in PAYLOADS:
            return self.of_agent(agent_id)
        items = set(self.of_target(target))
        for origin in (origins or {}).get(target, ()):
            items |= self.of_target(origin)
        return items


@dataclass
class OrderingHold:
    """The items the previous action is still busy with (or finished too recently)."""

    busy: set[Item]
    places: Places
    origins: dict[Item, set[Item]]

    def _ranges_touched(self, target: Item) -> set[Item]:
        """Busy computers with an address in the target's IP range(s) (its own, or the range
        an SNMP device came from)."""
        ranges = {target} if target[0] == ItemType.IP_RANGE else set(self.origins.get(target, ()))
        computers = {item_id for itemtype, item_id in self.busy if itemtype == ItemType.COMPUTER}
        found: set[Item] = set()
        for itemtype, range_id in ranges:
            if itemtype == ItemType.IP_RANGE:
                found |= self.places.computers_in_range(range_id, computers)
        return found

    def holds(self, target: Item, agent_id: int) -> bool:
        if target[0] in PAYLOADS:
            items = self.places.of_agent(agent_id)
        else:
            items = self.places.of_run(target, agent_id, self.origins) | self.places.of_agent(agent_id)
        return not items.isdisjoint(self.busy) or bool(self._ranges_touched(target))

    def holds_target(self, target: Item) -> bool:
        """Whether a balanced action must leave the whole target for a later pass (a payload
        target — a package — runs on the agents' computers, none of which is known yet)."""
        if target[0] in PAYLOADS:
            return False
        return not self.places.of_run(target, 0, self.origins).isdisjoint(self.busy) or \
            bool(self._ranges_touched(target))

    def held_items(self, target: Item, agent_id: int) -> set[Item]:
        """Items a held pair leaves pending for the next action."""
        return self.places.of_run(target, agent_id, self.origins) | self._ranges_touched(target)


def previous_job(conn: Connection, job) -> object | None:
    return conn.execute(
        select(jobs.c.id, jobs.c.method)
        .where(jobs.c.plugin_fusioninventory_tasks_id == job.plugin_fusioninventory_tasks_id,
               jobs.c.id < job.id)
        .order_by(jobs.c.id.desc()).limit(1)
    ).first()


def _busy_items(conn: Connection, previous_id: int, execution: Execution, places: Places,
                wait: timedelta, now: datetime) -> set[Item]:
    """Items of the previous action's runs of this execution that are live, ended less than
    ``wait`` ago, or failed and waiting for a retry."""
    columns = (runs.c.id, runs.c.itemtype, runs.c.items_id, RUN_AGENT, runs.c.state)
    statement = (
        select(*columns, func.max(logs.c.date).label("last"))
        .select_from(runs.join(bridge_runs, BRIDGE_RUN == runs.c.id)
                     .outerjoin(logs, logs.c.plugin_fusioninventory_taskjobstates_id == runs.c.id))
        .where(runs.c.plugin_fusioninventory_taskjobs_id == previous_id,
               bridge_runs.c.plugin_fusioninventory_tasks_id == execution.task_id,
               bridge_runs.c.execution_id == execution.execution_id)
        .group_by(*columns)
    )
    rows = conn.execute(statement).all()
    busy_runs: list[tuple[Item, int]] = []
    cutoff = now - wait
    for row in rows:
        if row.state in ACTIVE_OR_POSTPONED or (row.last is not None and row.last > cutoff):
            busy_runs.append(((row.itemtype, row.items_id), row.plugin_fusioninventory_agents_id))
    settings: JobSettings = job_settings(conn, previous_id)
    for failed in retryable_failures(conn, previous_id, execution, settings):
        retry_at = failed.failed_at + timedelta(minutes=settings.retry_delay) if failed.failed_at else None
        if retry_at is not None and retry_at > now:
            busy_runs.append((failed.target, failed.agent_id))
    places.load_agents({agent for _, agent in busy_runs})
    busy: set[Item] = set()
    for target, agent in busy_runs:
        busy |= places.of_agent(agent) if target[0] in PAYLOADS else places.of_target(target)
    return busy


def ordering_hold(conn: Connection, job, execution: Execution, settings: JobSettings, places: Places,
                  raw_targets: list[Item], agent_ids, now: datetime) -> OrderingHold | None:
    """What holds the job's pairs back in this pass; None when nothing does."""
    if settings.wait_previous < 0:
        return None
    previous = previous_job(conn, job)
    if previous is None:
        return None
    wait = timedelta(minutes=settings.wait_previous)
    busy = _busy_items(conn, previous.id, execution, places, wait, now)
    busy |= execution.held_items.get(previous.id, set())
    if not busy:
        return None
    places.load_agents(agent_ids)
    origins: dict[Item, set[Item]] = defaultdict(set)
    restrict = restricts_to_range_entity(conn, job.id)
    for raw in raw_targets:
        if raw[0] == ItemType.IP_RANGE:
            for device in places.resolver.devices_of_ip_range(raw[1], restrict):
                origins[device].add(raw)
    return OrderingHold(busy, places, dict(origins))
