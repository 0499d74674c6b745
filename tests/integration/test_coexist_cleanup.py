"""The bridge's rows of tasks purged in GLPI (issue 13): removed by the scheduler, never
inherited by a new task; on SQLite and MariaDB."""

from __future__ import annotations

from sqlalchemy import delete, select

import schema
from fusion_bridge.scheduler import Scheduler, SchedulerSettings
from fusion_bridge.services.admin import definitions
from fusion_bridge.services.admin.task_settings import set_job_settings, set_task_settings, task_settings
from fusion_bridge.services.scheduling.cleanup import forget_orphans
from fusion_bridge.services.scheduling.preparation import prepare_runs
from tests.helpers.executions import T0, discovery_task

bridge_tasks, bridge_jobs, bridge_runs = schema.bridge_tasks, schema.bridge_taskjobs, schema.bridge_runs


def managed_task(engine) -> tuple[int, int]:
    """A periodic task with action settings and prepared runs (so rows in all three bridge tables)."""
    task, job, _rng, _agents = discovery_task(engine, agents=2)
    set_task_settings(engine, task, {"period": "1d"})
    set_job_settings(engine, job, {"retry_count": 1})
    assert prepare_runs(engine, T0).prepared == 2
    return task, job


def glpi_purges(engine, task: int) -> None:
    """What GLPI's purge of a task deletes: the task, its jobs, their runs and logs."""
    runs, jobs = schema.taskjobstates, schema.taskjobs
    with engine.begin() as conn:
        job_ids = select(jobs.c.id).where(jobs.c.plugin_fusioninventory_tasks_id == task)
        run_ids = select(runs.c.id).where(runs.c.plugin_fusioninventory_taskjobs_id.in_(job_ids))
        conn.execute(delete(schema.taskjoblogs).where(schema.taskjoblogs.c.plugin_fusioninventory_taskjobstates_id
                                                      .in_(run_ids)))
        conn.execute(delete(runs).where(runs.c.plugin_fusioninventory_taskjobs_id.in_(job_ids)))
        conn.execute(delete(jobs).where(jobs.c.plugin_fusioninventory_tasks_id == task))
        conn.execute(delete(schema.tasks).where(schema.tasks.c.id == task))


def bridge_rows(engine) -> tuple[set, set, set]:
    with engine.connect() as conn:
        return (set(conn.execute(select(bridge_tasks.c.plugin_fusioninventory_tasks_id)).scalars()),
                set(conn.execute(select(bridge_jobs.c.plugin_fusioninventory_taskjobs_id)).scalars()),
                set(conn.execute(select(bridge_runs.c.plugin_fusioninventory_tasks_id)).scalars()))


def test_the_scheduler_removes_the_bridge_rows_of_a_task_purged_in_glpi(engine):
    kept, kept_job = managed_task(engine)
    purged, purged_job = managed_task(engine)
    assert bridge_rows(engine) == ({kept, purged}, {kept_job, purged_job}, {kept, purged})
    glpi_purges(engine, purged)

    # Tasks and actions at every pass; runs (a large table) only with the retention.
    report = forget_orphans(engine, include_runs=False)
    assert (report.tasks, report.actions, report.runs) == (1, 1, 0)
    assert bridge_rows(engine) == ({kept}, {kept_job}, {kept, purged})
    scheduler = Scheduler(engine, SchedulerSettings())
    passed = scheduler.run_pass(retention=True)
    assert passed.orphans.runs == 2 and passed.lines()[0].startswith("orphans:")
    assert bridge_rows(engine) == ({kept}, {kept_job}, {kept})


def test_a_new_task_does_not_inherit_a_purged_tasks_settings(engine):
    task, job = managed_task(engine)  # the task with the highest id
    glpi_purges(engine, task)
    # No id is handed out again (AUTOINCREMENT on SQLite, InnoDB's counter on MariaDB)...
    new = definitions.create_task(engine, "new task", is_active=True)
    assert new["id"] != task
    # ...and the purged task's rows are gone before any preparation looks at tasks.
    Scheduler(engine, SchedulerSettings()).run_pass()
    assert bridge_rows(engine)[:2] == (set(), set())
    with engine.connect() as conn:
        assert task_settings(conn, new["id"]).execution_id == 0


def test_deleting_a_task_or_action_with_the_bridge_deletes_its_bridge_rows(engine):
    task, job = managed_task(engine)
    other, other_job = managed_task(engine)
    definitions.remove_action(engine, other_job)
    assert bridge_rows(engine) == ({task, other}, {job}, {task})
    definitions.delete_task(engine, task)
    assert bridge_rows(engine) == ({other}, set(), set())
