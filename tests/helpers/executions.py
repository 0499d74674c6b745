"""Managed tasks for the tests of executions, retries and ordering: a clock (``T0`` + minutes),
ready-made task set-ups, and the runs with their bridge rows read back."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

import schema
from fusion_bridge.services.admin.task_settings import set_job_settings
from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State
from tests.helpers.inventory_rows import add_agent, add_computer_with_agent
from tests.helpers.task_rows import add_iprange, add_job, add_log, add_package, add_task

T0 = datetime(2024, 3, 6, 10, 30, 0)
RANGE, AGENT = ItemType.IP_RANGE, ItemType.AGENT
COMPUTER, PACKAGE = ItemType.COMPUTER, ItemType.DEPLOY_PACKAGE
runs_t, bridge_runs, bridge_tasks = schema.taskjobstates, schema.bridge_runs, schema.bridge_tasks


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def discovery_task(engine, agents: int = 2, reprepare: int = 1):
    """A task with one discovery job of one range on ``agents`` agents: (task, job, range, agents)."""
    with engine.begin() as conn:
        rng = add_iprange(conn, "10.0.0.1", "10.0.0.254")
        agent_ids = [add_agent(conn) for _ in range(agents)]
        task = add_task(conn, reprepare_if_successful=reprepare)
        job = add_job(conn, task, [(RANGE, rng)], [(AGENT, a) for a in agent_ids])
    return task, job, rng, agent_ids


def wake_then_deploy(engine, wait: int):
    """Action 1 wakes computers 1 and 2 (agent W sends the packets); action 2 deploys a package
    on computers 1, 2 and 3 (computer 3 is not woken), waiting ``wait`` minutes for action 1:
    (task, wake job, deploy job, computers, their agents)."""
    with engine.begin() as conn:
        (c1, a1), (c2, a2), (c3, a3) = (add_computer_with_agent(conn) for _ in range(3))
        waker = add_agent(conn)
        package = add_package(conn, name="pkg")
        task = add_task(conn)
        wake = add_job(conn, task, [(COMPUTER, c1), (COMPUTER, c2)], [(AGENT, waker)], Method.WAKEONLAN)
        deploy = add_job(conn, task, [(PACKAGE, package)], [(COMPUTER, c) for c in (c1, c2, c3)],
                         Method.DEPLOY)
    set_job_settings(engine, deploy, {"wait_previous": wait})
    return task, wake, deploy, (c1, c2, c3), (a1, a2, a3)


def run_rows(engine, job_id: int | None = None) -> list:
    """Every run (of ``job_id``) with its execution, attempt and previous run, by id."""
    statement = (select(runs_t, bridge_runs.c.execution_id, bridge_runs.c.attempt, bridge_runs.c.previous_run)
                 .select_from(runs_t.outerjoin(
                     bridge_runs, bridge_runs.c.plugin_fusioninventory_taskjobstates_id == runs_t.c.id))
                 .order_by(runs_t.c.id))
    if job_id is not None:
        statement = statement.where(runs_t.c.plugin_fusioninventory_taskjobs_id == job_id)
    with engine.connect() as conn:
        return conn.execute(statement).mappings().all()


def agents_of(engine, job: int) -> list[int]:
    return sorted(r["plugin_fusioninventory_agents_id"] for r in run_rows(engine, job))


def end_runs(engine, run_ids, when: datetime, state: int = State.FINISHED) -> None:
    """The agent's last message: state 3 (log Ok) or 4 (log Error) at ``when``."""
    with engine.begin() as conn:
        for run_id in run_ids:
            conn.execute(update(runs_t).where(runs_t.c.id == run_id).values(state=int(state)))
            add_log(conn, run_id, Log.OK if state == State.FINISHED else Log.ERROR, when)


def execution_of(engine, task_id: int):
    """(execution id, execution start) of a managed task."""
    with engine.connect() as conn:
        return conn.execute(select(bridge_tasks.c.execution_id, bridge_tasks.c.execution_start)
                            .where(bridge_tasks.c.plugin_fusioninventory_tasks_id == task_id)).first()
