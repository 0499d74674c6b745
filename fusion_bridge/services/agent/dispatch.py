"""Handing prepared runs to their agent at PROLOG (docs/plugin-semantics.md §6.1, §7).

Each run the agent may still execute becomes one OPTION, in action order. The agent's active
run rows are locked first, so of many concurrent PROLOGs of one agent exactly one hands a run
out; the others then find it already sent, and fail it as the plugin does. Runs that fail the
plugin's checks are cancelled with its words.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.adapters.secret_codec import CLEAR, SecretCodec, codec_of
from fusion_bridge.ops import metrics
from fusion_bridge.services import runs
from fusion_bridge.services.agent import options
from fusion_bridge.services.scheduling.actors import computers_id_cache
from fusion_bridge.services.scheduling.group_members import computer_has_group
from fusion_bridge.services.agent.settings import PluginSettings
from fusion_bridge.services.scheduling.timeslots import in_schedule, timeslot_active
from protocol import ReplyOption
from schema.constants import ItemType, Method, TaskjobLogState as Log, TaskjobState as State, XML_METHODS

ALREADY_SENT = ("The agent is requesting a configuration that has already been sent to him by the server. "
                "It is more likely that the agent is subject to a critical error.")
TASK_INACTIVE = "The task has been deactivated after preparation of this job."
OUT_OF_SCHEDULE = "This job can not be executed anymore due to the task's schedule."
OUT_OF_TIMESLOT = "This job can not be executed anymore due to the task's timeslot."
NOT_AN_ACTOR = "This agent does not belong anymore in the actors defined in the job."
WOL_DONE = "WakeOnLan have not return state"

_runs, _jobs, _tasks = schema.taskjobstates, schema.taskjobs, schema.tasks

# Most PROLOGs find nothing to hand out: one narrow indexed probe answers that cheaply.
HAS_PENDING = (
    select(_runs.c.id)
    .where(_runs.c.plugin_fusioninventory_agents_id == bindparam("agent_id"), _runs.c.state.in_(runs.ACTIVE))
    .limit(1)
)
# Locks only the agent's run rows (not the shared job and task rows, which every agent of a
# task reads): concurrent PROLOGs of one agent queue here, those of other agents do not.
# The state comes with the lock: it is the current one even in a transaction whose snapshot
# was taken earlier (InnoDB REPEATABLE READ), where a plain read could still say Prepared.
LOCK_AGENT_RUNS = (
    select(_runs.c.id, _runs.c.state)
    .where(_runs.c.plugin_fusioninventory_agents_id == bindparam("agent_id"), _runs.c.state.in_(runs.ACTIVE))
    .with_for_update()
)
_agents = schema.agents
# Each run with its job, task and agent (the agent's columns repeat on every row).
RUN_DETAILS = (
    select(_runs.c.id, _runs.c.state, _runs.c.itemtype, _runs.c.items_id, _runs.c.specificity,
           _jobs.c.id.label("job_id"), _jobs.c.method, _jobs.c.actors,
           _tasks.c.is_active, _tasks.c.datetime_start, _tasks.c.datetime_end,
           _tasks.c.plugin_fusioninventory_timeslots_exec_id.label("exec_timeslot"),
           _agents.c.computers_id, _agents.c.threads_networkdiscovery, _agents.c.timeout_networkdiscovery,
           _agents.c.threads_networkinventory, _agents.c.timeout_networkinventory)
    .select_from(_runs)
    .join(_jobs, _jobs.c.id == _runs.c.plugin_fusioninventory_taskjobs_id)
    .join(_tasks, _tasks.c.id == _jobs.c.plugin_fusioninventory_tasks_id)
    .join(_agents, _agents.c.id == _runs.c.plugin_fusioninventory_agents_id)
    .where(_runs.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_jobs.c.id, _runs.c.id)
)


def has_pending_runs(conn: Connection, agent_id: int) -> bool:
    return conn.execute(HAS_PENDING, {"agent_id": agent_id}).first() is not None


class AgentView:
    """The agent's columns dispatch needs, read along with its runs."""

    def __init__(self, agent_id: int, row):
        self.id = agent_id
        self.computers_id = row.computers_id
        self.threads_networkdiscovery = row.threads_networkdiscovery
        self.timeout_networkdiscovery = row.timeout_networkdiscovery
        self.threads_networkinventory = row.threads_networkinventory
        self.timeout_networkinventory = row.timeout_networkinventory


class Outcome:
    """What one PROLOG does to the agent's runs (applied in a few bulk statements by
    ``runs.Batch``) and the OPTIONs it answers."""

    def __init__(self, now: datetime):
        self.moves = runs.Batch(now)
        self.options: list[ReplyOption] = []
        self.handed_out: dict[str, int] = {}  # method -> runs handed out


def hand_out(engine: Engine, agent_id: int, settings: PluginSettings,
             now: datetime) -> tuple[ReplyOption, ...]:
    """OPTIONs for the agent's pending runs; state changes and logs in one transaction."""
    outcome = Outcome(now)
    with engine.begin() as conn:
        locked = conn.execute(LOCK_AGENT_RUNS, {"agent_id": agent_id}).scalars().all()
        if not locked:
            return ()
        candidates = conn.execute(RUN_DETAILS, {"ids": locked}).all()
        if not candidates:
            return ()
        agent = AgentView(agent_id, candidates[0])
        secrets = codec_of(conn)  # SNMP v3 passphrases: GLPI-key encrypted on GLPI 10/11
        tuning = options.AgentTuning(agent.threads_networkdiscovery or 0, agent.timeout_networkdiscovery or 0,
                                     agent.threads_networkinventory or 0, agent.timeout_networkinventory or 0)
        for run in candidates:
            if run.state != State.PREPARED:
                outcome.moves.move(run.id, run.state, runs.Move.FAIL, ALREADY_SENT)
                continue
            refusal = refusal_reason(conn, run, agent, now)
            if refusal is not None:
                outcome.moves.move(run.id, run.state, runs.Move.CANCEL, refusal)
            elif run.method in XML_METHODS:
                _claim(conn, run, agent, tuning, settings, outcome, secrets)
            # REST runs stay prepared: the agent fetches them with getJobs.
        outcome.moves.apply(conn)
    for method, count in outcome.handed_out.items():  # committed
        metrics.current.runs_handed_out(method, count)
    return tuple(outcome.options)


def refusal_reason(conn: Connection, run, agent, now: datetime) -> str | None:
    """Why the plugin would cancel ``run`` instead of handing it out now, or None."""
    if not run.is_active:
        return TASK_INACTIVE
    if not in_schedule(run.datetime_start, run.datetime_end, now):
        return OUT_OF_SCHEDULE
    if run.exec_timeslot and not timeslot_active(conn, run.exec_timeslot, now):
        return OUT_OF_TIMESLOT
    if not agent_is_actor(conn, agent, runs.parse_item_list(run.actors)) and not _pool_job(conn, run.job_id):
        return NOT_AN_ACTOR
    return None


def _pool_job(conn: Connection, job_id: int) -> bool:
    """A job with a dynamic agent pool: its agents are chosen at preparation (which cancels the
    runs of agents that left the pool), not only among its listed actors."""
    pool = schema.bridge_taskjobs.c.pool
    return bool(conn.execute(select(pool).where(
        schema.bridge_taskjobs.c.plugin_fusioninventory_taskjobs_id == job_id, pool != "")).first())


def _claim(conn: Connection, run, agent, tuning, settings: PluginSettings, outcome: Outcome,
           secrets: SecretCodec = CLEAR) -> None:
    try:
        if run.method == Method.NETWORK_DISCOVERY:
            option = options.netdiscovery(conn, run, tuning, settings.config, secrets)
        elif run.method == Method.NETWORK_INVENTORY:
            option = options.snmpquery(conn, run, tuning, settings.config, secrets)
        elif run.itemtype == ItemType.COMPUTER:
            option = options.wakeonlan(conn, run)
        else:
            raise options.CannotBuild(f"Wake-on-LAN needs a computer target, not {run.itemtype}.")
    except options.CannotBuild as refusal:
        outcome.moves.move(run.id, run.state, runs.Move.FAIL, refusal.comment)
        return
    outcome.options.append(option)
    outcome.handed_out[run.method] = outcome.handed_out.get(run.method, 0) + 1
    if run.method == Method.WAKEONLAN:
        # The agent reports nothing for Wake-on-LAN: the plugin starts and finishes it at once.
        outcome.moves.log(run.id, Log.STARTED, "", ItemType.COMPUTER, 0)
        outcome.moves.move(run.id, run.state, runs.Move.FINISH, WOL_DONE, ItemType.COMPUTER, run.items_id)
        return
    if run.method == Method.NETWORK_DISCOVERY:
        threads, timeout = agent.threads_networkdiscovery, agent.timeout_networkdiscovery
    elif layout_of(conn).renames:
        # glpiinventory logs the values the OPTION carries (docs/glpi10-protocol.md §9).
        threads, timeout = option.threads, option.timeout
    else:
        threads, timeout = agent.threads_networkinventory, agent.timeout_networkinventory
    outcome.moves.move(run.id, run.state, runs.Move.HAND_OUT, f"{threads} threads {timeout} timeout")


def agent_is_actor(conn: Connection, agent, actors: list[tuple[str, int]]) -> bool:
    """Whether ``agent`` is one of the agents the job's actors stand for."""
    computer = agent.computers_id or 0
    for itemtype, item_id in actors:
        if itemtype == ItemType.AGENT and item_id == agent.id:
            return True
        if itemtype == ItemType.COMPUTER and computer and item_id == computer:
            return True
    if not computer:
        return False
    for itemtype, item_id in actors:
        if itemtype == ItemType.GROUP and _computer_in_group(conn, computer, item_id):
            return True
        if itemtype == ItemType.DEPLOY_GROUP and _computer_in_deploy_group(conn, computer, item_id):
            return True
    return False


def _computer_in_group(conn: Connection, computer_id: int, group_id: int) -> bool:
    computers, members = schema.glpi_computers, schema.glpi_groups_users
    row = conn.execute(select(computers.c.users_id).where(computers.c.id == computer_id)).first()
    if row is None:
        return False
    if computer_has_group(conn, computer_id, group_id):
        return True
    return bool(row.users_id) and conn.execute(
        select(members.c.id).where(and_(members.c.groups_id == group_id, members.c.users_id == row.users_id))
    ).first() is not None


def _computer_in_deploy_group(conn: Connection, computer_id: int, group_id: int) -> bool:
    group = (conn.execute(select(schema.deploygroups.c.type).where(schema.deploygroups.c.id == group_id)).scalar()
             or "").upper()
    if group == "STATIC":
        static = schema.deploygroups_staticdatas
        return conn.execute(select(static.c.id).where(
            static.c.plugin_fusioninventory_deploygroups_id == group_id, static.c.itemtype == ItemType.COMPUTER,
            static.c.items_id == computer_id)).first() is not None
    if group == "DYNAMIC":
        dynamic = schema.deploygroups_dynamicdatas
        caches = conn.execute(select(dynamic.c.computers_id_cache).where(
            dynamic.c.plugin_fusioninventory_deploygroups_id == group_id)).scalars()
        return any(computer_id in computers_id_cache(cache) for cache in caches)
    return False
