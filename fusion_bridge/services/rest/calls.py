"""The REST ("Fusion" JSON) calls of the Deploy, Collect and ESX tasks: ``getConfig`` and what
the task services (``deploy``, ``collect``, ``esx``) share (docs/plugin-semantics.md §6, §7.8).

``getConfig`` is asked three times per agent run (once per REST task), nearly always for an
agent with nothing to do: one indexed statement answers it (the agent with one EXISTS probe per
task asked on its prepared runs); the entity's ``agent_base_url`` is read only when something is
scheduled, and the plugin's module switches only when a run is prepared.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Union

from sqlalchemy import and_, bindparam, exists, literal_column, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db_probe import ReadProbe
from fusion_bridge.errors import DomainError, InvalidRequest, NotHandedOut, NotYours, UnknownAgent
from fusion_bridge.services import runs
from fusion_bridge.services.agent.dispatch import ALREADY_SENT, LOCK_AGENT_RUNS, refusal_reason
from fusion_bridge.services.agent.settings import PluginSettings, SettingsCache
from fusion_bridge.domain.text import fit_utf8mb3
from schema.constants import ItemType, Module, TaskjobState as State

CONFIG_VALIDITY_PERIOD = 600
PLUGIN_PATH = "/plugins/fusioninventory"

_agents, _runs, _jobs, _tasks = schema.agents, schema.taskjobstates, schema.taskjobs, schema.tasks

# Where the request came in (scheme, host, prefix), or how to work it out: it is needed only when
# something is scheduled or handed out, so callers may pass a function to skip the work otherwise.
RequestBase = Union[str, Callable[[], str]]


def resolve_base(request_base: RequestBase) -> str:
    return request_base() if callable(request_base) else request_base


def as_stored(value: str | None) -> str | None:
    """A ``machineid`` or ``uuid`` from a query string as the column would hold it: GLPI's 3-byte
    ``utf8`` columns cannot, and MariaDB refuses to compare them with 4-byte UTF-8 (a collation
    mix). The XML path stores a DEVICEID so fitted: the same agent is found."""
    return fit_utf8mb3(value)


def _prepared(itemtype: str):
    # Served by the (agent, state) index; the itemtype is what the plugin counts.
    return exists().where(and_(_runs.c.plugin_fusioninventory_agents_id == _agents.c.id,
                               _runs.c.state == int(State.PREPARED), _runs.c.itemtype == itemtype))


# task name (lower case, as the agent sends it in task[...]) -> (module, row flag, entry head, path)
SCHEDULED_TASKS = {
    "deploy": (Module.DEPLOY, "deploy", {"task": "Deploy"}, "deploy"),
    "collect": (Module.COLLECT, "collect", {"task": "Collect"}, "collect"),
    "esx": (Module.ESX, "esx", {"periodicity": 3600, "delayStartup": 3600, "task": "ESX"}, "esx"),
}
FLAG_ITEMTYPES = {"deploy": ItemType.DEPLOY_PACKAGE, "collect": ItemType.COLLECT, "esx": ItemType.CREDENTIAL_IP}


def _config_probe(flags: frozenset[str]) -> ReadProbe:
    # The agent with one EXISTS per task asked (an agent asks for one task per call).
    return ReadProbe(
        select(_agents.c.id, _agents.c.lock, _agents.c.entities_id,
               *[_prepared(FLAG_ITEMTYPES[flag]).label(flag) for flag in sorted(flags)])
        .where(_agents.c.device_id == bindparam("device_id"))
        .order_by(_agents.c.id)
        .limit(1)
    )


CONFIG_PROBES = {frozenset(flags): _config_probe(frozenset(flags))
                 for flags in ((), ("deploy",), ("collect",), ("esx",), ("deploy", "collect"), ("deploy", "esx"),
                               ("collect", "esx"), ("deploy", "collect", "esx"))}


class RestCalls:
    def __init__(self, engine: Engine, settings: SettingsCache, read_engine: Engine | None = None):
        """``read_engine``: an autocommit engine for the read-only probe (one round trip instead
        of the statement plus a ROLLBACK); ``engine`` by default."""
        self._engine = read_engine or engine
        self._settings = settings

    def get_config(self, machine_id: str, tasks: list[str] | None = None,
                   request_base: RequestBase = "") -> dict:
        """The agent's REST schedule; InvalidRequest without a machine id, UnknownAgent for an
        unknown or locked agent (the plugin's 400).

        ``tasks``: the names of the ``task[...]`` arguments (the plugin answers only for the tasks
        asked). ``request_base``: scheme, host and prefix the request came in on, used when the
        entity has no ``agent_base_url``. REST calls do not update ``last_contact``; the plugin
        does not either.
        """
        if not machine_id:
            raise InvalidRequest("missing machineid")
        schedule: list[dict] = []
        asked = []
        for task in tasks or ():
            known = SCHEDULED_TASKS.get(task.lower())
            if known and known not in asked:
                asked.append(known)
        agent = CONFIG_PROBES[frozenset(known[1] for known in asked)].first(self._engine,
                                                                           device_id=as_stored(machine_id))
        if agent is None or agent.lock:
            raise UnknownAgent(machine_id)
        wanted = [known for known in asked if getattr(agent, known[1])]
        if wanted:
            # Only now, and with no connection held (on SQLite a second one would wait for it).
            settings = self._settings.get()
            wanted = [known for known in wanted if settings.agent_can_do(known[0], agent.id)]
        if wanted:
            with self._engine.connect() as conn:
                base = entity_base_url(conn, agent.entities_id or 0) or resolve_base(request_base)
                conn.rollback()
            for _module, _flag, head, path in wanted:
                schedule.append({**head, "remote": f"{base.rstrip('/')}{PLUGIN_PATH}/b/{path}/"})
        return {"configValidityPeriod": CONFIG_VALIDITY_PERIOD, "schedule": schedule}


def entity_base_url(conn: Connection, entity_id: int) -> str:
    """``agent_base_url`` of the entity's plugin row, else of its nearest ancestor's, else of
    row id 1 (``PluginFusioninventoryEntity::getValue``); '' when none is set."""
    entities = schema.entities
    values: dict[int, str] = {}
    first = ""
    for row in conn.execute(select(entities.c.id, entities.c.entities_id, entities.c.agent_base_url)
                            .where(entities.c.agent_base_url != "").order_by(entities.c.id)):
        value = (row.agent_base_url or "").strip()
        if not value or value == "N/A":
            continue
        values.setdefault(row.entities_id, value)
        if row.id == 1:
            first = value
    if not values:
        return ""
    parents = schema.glpi_entities
    current, seen = entity_id, set()
    while current is not None and current >= 0 and current not in seen:
        if current in values:
            return values[current]
        seen.add(current)
        current = conn.execute(select(parents.c.entities_id).where(parents.c.id == current)).scalar()
    return first


# ---------------------------------------------------------------------------------------------
# What the Deploy, Collect and ESX getJobs share


AGENT_BY_DEVICE_ID = (
    select(_agents.c.id, _agents.c.lock, _agents.c.computers_id, _agents.c.entities_id)
    .where(_agents.c.device_id == bindparam("device_id"))
    .order_by(_agents.c.id)
    .limit(1)
)
RUN_DETAILS = (
    select(_runs.c.id, _runs.c.state, _runs.c.itemtype, _runs.c.items_id, _runs.c.uniqid,
           _runs.c.date_start, _runs.c.nb_retry, _runs.c.max_retry, _jobs.c.actors, _tasks.c.is_active, _tasks.c.datetime_start, _tasks.c.datetime_end,
           _tasks.c.plugin_fusioninventory_timeslots_exec_id.label("exec_timeslot"))
    .select_from(_runs)
    .join(_jobs, _jobs.c.id == _runs.c.plugin_fusioninventory_taskjobs_id)
    .join(_tasks, _tasks.c.id == _jobs.c.plugin_fusioninventory_tasks_id)
    .where(_runs.c.id.in_(bindparam("ids", expanding=True)), _jobs.c.method == bindparam("method"))
    .order_by(_jobs.c.id, _runs.c.id)
)


def agent_runs_probe(method: str):
    """Whether the agent is known, locked, and has a run of ``method`` that getJobs would hand
    out or fail (``busy``): one indexed statement, run without a transaction. Most getJobs find
    nothing to do and stop there, before any lock or transaction."""
    return ReadProbe(
        select(_agents.c.lock, exists().where(
            # Literal states: an expanding IN parameter is re-rendered on every execution.
            _runs.c.plugin_fusioninventory_agents_id == _agents.c.id,
            _runs.c.state.in_([literal_column(str(state)) for state in runs.ACTIVE]),
            _jobs.c.id == _runs.c.plugin_fusioninventory_taskjobs_id, _jobs.c.method == method).label("busy"))
        .where(_agents.c.device_id == bindparam("device_id"))
        .order_by(_agents.c.id)
        .limit(1)
    )


def agent_has_runs(read_engine: Engine, probe: ReadProbe, machine_id: str | None) -> bool:
    """Run an ``agent_runs_probe``: False when the agent has nothing of that method to do;
    InvalidRequest when ``machine_id`` is missing, UnknownAgent when it is unknown or locked
    (as ``rest_agent``)."""
    if not machine_id:
        raise InvalidRequest("missing machineid")
    row = probe.first(read_engine, device_id=as_stored(machine_id))
    if row is None or row.lock:
        raise UnknownAgent(machine_id)
    return bool(row.busy)


def rest_agent(conn: Connection, machine_id: str | None):
    """The agent row of a ``machineid``; InvalidRequest when missing, UnknownAgent when
    unknown or locked."""
    if not machine_id:
        raise InvalidRequest("missing machineid")
    agent = conn.execute(AGENT_BY_DEVICE_ID, {"device_id": as_stored(machine_id)}).first()
    if agent is None or agent.lock:
        raise UnknownAgent(machine_id)
    return agent


def runnable_runs(conn: Connection, agent, method: str, now: datetime) -> list:
    """The agent's runs of ``method`` it may execute now, as ``getTaskjobstatesForAgent``.

    The agent's active run rows are locked first (as at PROLOG), so of two concurrent getJobs
    one hands a run out. A run asked for again while Started/Running goes to Error; runs that
    fail the task's checks are cancelled with the plugin's words.
    """
    locked = dict(conn.execute(LOCK_AGENT_RUNS, {"agent_id": agent.id}).all())
    if not locked:
        return []
    result = []
    for run in conn.execute(RUN_DETAILS, {"ids": list(locked), "method": method}).all():
        # The agent row was read before the lock: RUN_DETAILS may show a snapshot in which a run
        # another getJobs just handed out is still Prepared. The locked state is the current one.
        if locked[run.id] != State.PREPARED:
            runs.fail(conn, run.id, ALREADY_SENT, now)
            continue
        refusal = refusal_reason(conn, run, agent, now)
        if refusal is not None:
            runs.cancel(conn, run.id, refusal, now)
            continue
        result.append(run)
    return result


def allowed_runs(conn: Connection, agent, method: str, module: str, settings: PluginSettings,
                 disabled_comment: str, now: datetime) -> list:
    """``runnable_runs`` of an agent the module switch allows; when it does not, the runs are
    cancelled with ``disabled_comment`` (the plugin's getJobs does so) and none is returned."""
    candidates = runnable_runs(conn, agent, method, now)
    if candidates and not settings.agent_can_do(module, agent.id):
        for run in candidates:
            runs.cancel(conn, run.id, disabled_comment, now)
        return []
    return candidates


@dataclass
class Handout:
    """What a getJobs hands runs out from: its transaction, the agent, the plugin's settings
    and the runs the agent may execute now."""

    conn: Connection
    agent: Any
    settings: PluginSettings
    runs: list


@contextmanager
def handing_out(engine: Engine, read_engine: Engine, probe: ReadProbe, settings_cache: SettingsCache,
                machine_id: str | None, method: str, module: str, disabled_comment: str,
                now: datetime) -> Iterator[Handout | None]:
    """The start of a module's getJobs: ``agent_has_runs``, then in one transaction (committed
    when the block ends) ``rest_agent`` and ``allowed_runs``. None when there is nothing to
    hand out."""
    if not agent_has_runs(read_engine, probe, machine_id):
        yield None
        return
    settings = settings_cache.get()  # before the transaction (SQLite: one writer)
    with engine.begin() as conn:
        agent = rest_agent(conn, machine_id)
        candidates = allowed_runs(conn, agent, method, module, settings, disabled_comment, now)
        yield Handout(conn, agent, settings, candidates) if candidates else None


def owned_run(conn: Connection, agent_id: int, uuid: str, method: str, what: str,
              not_owned: type[DomainError] = NotYours):
    """The calling agent's handed-out run of ``method`` with that uuid, locked.

    ``not_owned`` (NotYours by default) when the agent has no such run (the plugin applies a
    uuid to whatever run has it), NotHandedOut when the run is not handed out or already over."""
    run = conn.execute(
        select(_runs.c.id, _runs.c.state, _runs.c.items_id, _runs.c.itemtype, _runs.c.nb_retry,
               _runs.c.max_retry, _runs.c.plugin_fusioninventory_taskjobs_id.label("job_id"))
        .where(_runs.c.uniqid == as_stored(uuid), _runs.c.plugin_fusioninventory_agents_id == agent_id)
        .order_by(_runs.c.id.desc())
        .limit(1)
        .with_for_update()
    ).first()
    job_method = run and conn.execute(select(_jobs.c.method).where(_jobs.c.id == run.job_id)).scalar()
    if run is None or job_method != method:
        raise not_owned(f"uuid {uuid[:64]!r} is not {what} of this agent")
    if run.state not in runs.HANDED_OUT:
        raise NotHandedOut(f"this {what.split(' ', 1)[1]} was not handed out or is already over")
    return run
