"""What a preparation pass reports, and the back-off of tasks whose preparation failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass
class TaskPreparation:
    task_id: int
    name: str | None = None
    jobs: int = 0
    prepared: int = 0
    cancelled: int = 0
    skipped: int = 0  # (target, agent) pairs left alone: a live (or finished) run exists
    held: int = 0  # pairs held back until the previous action is done with their items
    retried: int = 0  # failed runs prepared again (retry_count/retry_delay)
    execution: int = 0  # the task's current execution (0: a 9.5 task without executions)
    execution_started: bool = False  # the pass started it
    execution_ended: datetime | None = None  # set when the current execution is over
    error: str | None = None
    retry_at: datetime | None = None  # set when the task is backing off after an error


@dataclass
class PreparationReport:
    now: datetime
    tasks: dict[int, TaskPreparation] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    busy: bool = False  # another preparer held the lock: this pass did nothing
    seconds: float = 0.0

    @property
    def prepared(self) -> int:
        return sum(t.prepared for t in self.tasks.values())

    @property
    def cancelled(self) -> int:
        return sum(t.cancelled for t in self.tasks.values())

    @property
    def skipped(self) -> int:
        return sum(t.skipped for t in self.tasks.values())

    def lines(self) -> list[str]:
        if self.busy:
            return ["preparation: another preparer is running; nothing done"]
        out = [f"preparation: {self.prepared} run(s) prepared, {self.cancelled} cancelled, "
               f"{self.skipped} already live or done, {len(self.tasks)} task(s), {self.seconds:.2f} s"]
        for task in self.tasks.values():
            state = (f"error: {task.error}" if task.error else
                     f"{task.prepared} prepared, {task.cancelled} cancelled, {task.skipped} skipped")
            if task.execution and not task.error:
                state += f", execution {task.execution}{' (new)' if task.execution_started else ''}"
                if task.execution_ended:
                    state += f" over since {task.execution_ended:%Y-%m-%d %H:%M:%S}"
                if task.retried:
                    state += f", {task.retried} retried"
                if task.held:
                    state += f", {task.held} held until the previous action is done"
            retry = f" (next try {task.retry_at:%Y-%m-%d %H:%M:%S})" if task.retry_at else ""
            out.append(f"  task {task.task_id} {task.name or ''!r}: {task.jobs} job(s), {state}{retry}")
        out.extend(f"  error: {error}" for error in self.errors)
        return out


# ---------------------------------------------------------------------------------------------
# Error back-off (state kept by the caller, e.g. the scheduler process)


class TaskBackoff:
    """A task whose preparation raised is retried after 1, 2, 4, … up to 60 minutes."""

    def __init__(self, first: timedelta = timedelta(minutes=1), maximum: timedelta = timedelta(minutes=60)):
        self.first = first
        self.maximum = maximum
        self._failures: dict[int, int] = {}
        self._retry_at: dict[int, datetime] = {}

    def ready(self, task_id: int, now: datetime) -> bool:
        retry_at = self._retry_at.get(task_id)
        return retry_at is None or now >= retry_at

    def retry_at(self, task_id: int) -> datetime | None:
        return self._retry_at.get(task_id)

    def failed(self, task_id: int, now: datetime) -> datetime:
        count = self._failures.get(task_id, 0) + 1
        self._failures[task_id] = count
        delay = min(self.first * (2 ** min(count - 1, 30)), self.maximum)
        self._retry_at[task_id] = now + delay
        return self._retry_at[task_id]

    def succeeded(self, task_id: int) -> None:
        self._failures.pop(task_id, None)
        self._retry_at.pop(task_id, None)
