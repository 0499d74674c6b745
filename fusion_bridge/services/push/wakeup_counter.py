"""GLPI's wake-up counter (``wakeup_agent_counter`` / ``wakeup_agent_time`` of a task, the
plugin's ``wakeup_agent_max``): the waves of push tasks and the wake-ups of pull tasks, for
services/push.py (whose docstring tells the rules). Also the task window and timeslot filters
both use.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.services.push import wakeup
from fusion_bridge.services.scheduling.timeslots import active_timeslots
from schema.constants import TaskjobState as State

tasks, jobs, runs = schema.tasks, schema.taskjobs, schema.taskjobstates
bridge_tasks = schema.bridge_tasks

DEFAULT_WAKEUP_AGENT_MAX = 10
PULL_PROBE_FACTOR = 4


class Contended(Exception):
    """A run or wave changed under the claim: another pass claimed it first."""


def in_window(now: datetime):
    """The plugin's schedule window of a task, as SQL."""
    start, end = tasks.c.datetime_start, tasks.c.datetime_end
    return or_(
        and_(start.isnot(None), end.is_(None), start <= now),
        and_(start.isnot(None), end.isnot(None), start <= now, end >= now),
        and_(start.is_(None), end.is_(None)),
    )


def exec_slot_open(conn: Connection, now: datetime):
    slot = tasks.c.plugin_fusioninventory_timeslots_exec_id
    slots = active_timeslots(conn, now)
    return or_(slot == 0, slot.in_(sorted(slots))) if slots else slot == 0


def wakeup_agent_max(conn: Connection) -> int:
    """The plugin's ``wakeup_agent_max`` config value when numeric, else 10."""
    configs = schema.configs
    value = conn.execute(select(configs.c.value).where(configs.c.type == "wakeup_agent_max")).scalar()
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else DEFAULT_WAKEUP_AGENT_MAX


def wave_size(counter, minutes, agent_max: int) -> tuple[int, timedelta | None]:
    counter, minutes = int(counter or 0), int(minutes or 0)
    if counter > 0 and minutes > 0:
        return max(1, min(counter, agent_max)), timedelta(minutes=minutes)
    return 0, None


def claim_wave(conn: Connection, task_id: int, last_wave: datetime | None, now: datetime) -> None:
    """Take the task's wave slot: ``last_agent_wakeup`` = now, if nobody else took it."""
    seen = tasks.c.last_agent_wakeup
    condition = seen.is_(None) if last_wave is None else seen == last_wave
    result = conn.execute(update(tasks).where(tasks.c.id == task_id, condition).values(last_agent_wakeup=now))
    if result.rowcount != 1:
        raise Contended(f"task {task_id}: wave taken by another pass")


@dataclass
class PullWave:
    task_id: int
    cap: int
    agents: list[int]  # agents with Prepared runs of the task, by first run id
    runs: dict[int, list[int]]


def pull_waves(conn: Connection, now: datetime, task_id: int | None, agent_max: int) -> list[PullWave]:
    """The pull tasks whose wake-up counter is due now, each claimed (``last_agent_wakeup``)."""
    push_tasks = (select(bridge_tasks.c.plugin_fusioninventory_tasks_id)
                  .where(bridge_tasks.c.communication == "push"))
    statement = (
        select(tasks.c.id, tasks.c.wakeup_agent_counter, tasks.c.wakeup_agent_time, tasks.c.last_agent_wakeup)
        .where(tasks.c.is_active == 1, tasks.c.wakeup_agent_counter > 0, tasks.c.wakeup_agent_time > 0,
               in_window(now), exec_slot_open(conn, now), tasks.c.id.not_in(push_tasks))
        .order_by(tasks.c.id)
    )
    if task_id is not None:
        statement = statement.where(tasks.c.id == task_id)
    waves = []
    for row in conn.execute(statement).all():
        cap, every = wave_size(row.wakeup_agent_counter, row.wakeup_agent_time, agent_max)
        if row.last_agent_wakeup is not None and now < row.last_agent_wakeup + every:
            continue
        by_agent: dict[int, list[int]] = defaultdict(list)
        for run_id, agent_id in conn.execute(
                select(runs.c.id, runs.c.plugin_fusioninventory_agents_id)
                .join(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id)
                .where(jobs.c.plugin_fusioninventory_tasks_id == row.id, runs.c.state == int(State.PREPARED),
                       runs.c.plugin_fusioninventory_agents_id > 0)
                .order_by(runs.c.id)):
            by_agent[agent_id].append(run_id)
        if not by_agent:
            continue
        claim_wave(conn, row.id, row.last_agent_wakeup, now)
        waves.append(PullWave(row.id, cap, list(by_agent), dict(by_agent)))
    return waves


def run_wave(engine: Engine, wave: PullWave, skip: set[int], report, wake_options: dict) -> int:
    """Wake agents of the wave until ``cap`` of them were woken (busy or unreachable ones do not
    count), probing at most ``PULL_PROBE_FACTOR`` × cap agents. Returns how many were woken."""
    queue = [agent for agent in wave.agents if agent not in skip]
    limit = wave.cap * PULL_PROBE_FACTOR
    woken = probed = 0
    while queue and woken < wave.cap and probed < limit:
        size = min(wave.cap - woken, limit - probed)
        batch, queue = queue[:size], queue[size:]
        result = wakeup.wake_agents(engine, batch, run_ids={agent: wave.runs[agent] for agent in batch},
                                    **wake_options)
        report.add(result)
        probed += len(batch)
        woken += result.counts()[wakeup.WOKEN]
    return woken
