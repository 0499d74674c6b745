"""Runs of a managed task that another preparer made, settled before the bridge prepares or
pushes the task.

GLPI's ``taskscheduler`` cron and the task form's "Force start" prepare runs with the 9.5 rule
(docs/plugin-semantics.md §5): a pair whose last run finished gets a new one at every pass.
Such a run has no bridge row, so it belongs to no execution of a managed task
(``executions``), and push would wake its agent like any other: with a daily task whose
execution had finished, the same slice ran twice. Here every *live* run of the task without a
bridge row is, in id order:

* **cancelled** while still Prepared when its action is load-balanced (the other preparer
  knows nothing of the slices and would redo every one), or when its (target, agent) is
  already covered in the current execution: by a run of the execution that is live, finished
  or failed, by a live run of an earlier execution, by a finished run anywhere when the task
  must not run a successful target again (``reprepare_if_successful = 0``), or by an earlier
  run adopted here;
* otherwise **adopted**: given a bridge row in the current execution, it is that pair's run of
  the execution (and is pushed, retried and counted like the bridge's own).

A run already handed out (Started, Running) or postponed is never cancelled: an agent has it.
It is adopted when its pair is not covered yet, else left to end on its own (it still blocks its
pair, as every live run does). `fusion-bridge db takeover` stops the other preparer altogether.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.engine import Connection

import schema
from fusion_bridge.services import runs as run_service
from fusion_bridge.services.scheduling.actors import chunks
from schema.constants import TaskjobState as State

log = logging.getLogger(__name__)

runs, jobs, tasks = schema.taskjobstates, schema.taskjobs, schema.tasks
bridge_runs, bridge_jobs = schema.bridge_runs, schema.bridge_taskjobs
BRIDGE_RUN = bridge_runs.c.plugin_fusioninventory_taskjobstates_id

COVERED = ("Prepared outside fusion-bridge (by GLPI's own task preparation) for an action, target and agent "
           "the current execution of this task already covers: cancelled so that it does not run twice")
BALANCED = ("Prepared outside fusion-bridge (by GLPI's own task preparation) for the whole target of a "
            "load-balanced action, whose slices fusion-bridge prepares: cancelled")


@dataclass
class Settled:
    adopted: int = 0
    cancelled: int = 0


def settle_foreign_runs(conn: Connection, task_id: int, execution_id: int, when: datetime) -> Settled:
    """Adopt or cancel the task's live runs that have no bridge row (see the module's
    docstring); inside the caller's transaction."""
    settled = Settled()
    live = run_service.ACTIVE_OR_POSTPONED
    foreign = conn.execute(
        select(runs.c.id, runs.c.plugin_fusioninventory_taskjobs_id.label("job"), runs.c.itemtype,
               runs.c.items_id, runs.c.plugin_fusioninventory_agents_id.label("agent"), runs.c.state)
        .select_from(runs.join(jobs, jobs.c.id == runs.c.plugin_fusioninventory_taskjobs_id)
                     .outerjoin(bridge_runs, BRIDGE_RUN == runs.c.id))
        .where(jobs.c.plugin_fusioninventory_tasks_id == task_id, runs.c.state.in_(live), BRIDGE_RUN.is_(None))
        .order_by(runs.c.id)
    ).all()
    if not foreign:
        return settled
    job_ids = sorted({row.job for row in foreign})
    balanced = set(conn.execute(select(bridge_jobs.c.plugin_fusioninventory_taskjobs_id).where(
        bridge_jobs.c.plugin_fusioninventory_taskjobs_id.in_(job_ids), bridge_jobs.c.balance == 1)).scalars())
    covered = _covered_pairs(conn, task_id, execution_id, job_ids)
    adopt: list[int] = []
    cancel: dict[int, str] = {}
    for row in foreign:
        pair = (row.job, row.itemtype, row.items_id, row.agent)
        if row.job in balanced or pair in covered:
            if row.state == State.PREPARED:
                cancel[row.id] = BALANCED if row.job in balanced else COVERED
            continue
        covered.add(pair)
        adopt.append(row.id)
    for part in chunks(adopt):
        conn.execute(insert(bridge_runs), [{"plugin_fusioninventory_taskjobstates_id": run_id,
                                            "plugin_fusioninventory_tasks_id": task_id,
                                            "execution_id": execution_id} for run_id in part])
    settled.adopted = len(adopt)
    settled.cancelled = len(run_service.move_many(conn, list(cancel), run_service.Move.CANCEL, when,
                                                  lambda run_id: cancel[run_id],
                                                  only_from=(int(State.PREPARED),)))
    if settled.adopted or settled.cancelled:
        log.info("task %s: %d run(s) prepared outside fusion-bridge adopted into execution %s, %d cancelled",
                 task_id, settled.adopted, execution_id, settled.cancelled)
    return settled


def _covered_pairs(conn: Connection, task_id: int, execution_id: int, job_ids: list[int]) -> set[tuple]:
    """(job, itemtype, items_id, agent) of the bridge's runs that cover their pair now."""
    reprepare = conn.execute(select(tasks.c.reprepare_if_successful).where(tasks.c.id == task_id)).scalar()
    covering = [
        and_(BRIDGE_RUN.is_not(None), runs.c.state.in_(run_service.ACTIVE_OR_POSTPONED)),
        and_(bridge_runs.c.plugin_fusioninventory_tasks_id == task_id, bridge_runs.c.execution_id == execution_id,
             runs.c.state.in_(run_service.FINISHED_OR_FAILED)),
    ]
    if not reprepare:
        covering.append(runs.c.state == int(State.FINISHED))
    rows = conn.execute(
        select(runs.c.plugin_fusioninventory_taskjobs_id, runs.c.itemtype, runs.c.items_id,
               runs.c.plugin_fusioninventory_agents_id)
        .select_from(runs.outerjoin(bridge_runs, BRIDGE_RUN == runs.c.id))
        .where(runs.c.plugin_fusioninventory_taskjobs_id.in_(job_ids), or_(*covering))
    ).all()
    return {tuple(row) for row in rows}
