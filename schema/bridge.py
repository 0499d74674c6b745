"""Tables owned by fusion-bridge itself (prefix ``glpi_plugin_fusionbridge_``).

They are the only tables the bridge may create in a real GLPI database.
"""

from __future__ import annotations

import functools

from sqlalchemy import Column, Index, Integer, MetaData, String, Table
from sqlalchemy.dialects import mysql

from schema.base import (
    MYSQL_DIALECTS,
    SQLITE_PREFIXED_INDEXES,
    flag_column,
    id_column,
    glpi_table,
    int_column,
    int_type,
    longblob_column,
    string_column,
    text_column,
    timestamp_column,
)
from schema.class_names import GLPIINVENTORY
from schema.layout import physical_identifier

PREFIX = "glpi_plugin_fusionbridge_"

# Rows: ``standalone`` ("1" when the bridge created the whole schema itself, "0" in a real
# GLPI) and ``schema_version``.
bridge_meta = glpi_table(
    PREFIX + "meta",
    Column("name", String(100), primary_key=True),
    text_column("value"),
)

# The last INVENTORY each agent sent, zlib-compressed, for the import that runs later.
bridge_inventories = glpi_table(
    PREFIX + "inventories",
    Column("plugin_fusioninventory_agents_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("device_id"),
    timestamp_column("date"),
    string_column("query", 32),
    string_column("compression", 16, nullable=False, default="zlib"),
    int_column("size", comment="uncompressed size in bytes"),
    longblob_column("content"),
    Index("device_id", "device_id"),
)

# The source address of each agent's last XML contact, for waking it up (push mode). ``date`` is
# when that address was written: first seen from the agent (MariaDB: the PROLOG's UPDATE tells
# whether it changed) or re-confirmed (SQLite and other messages: at most every 5 min per
# worker). The date of the agent's last contact, from that address, is ``agents.last_contact``.
# ``port``: the agent's HTTP port when known here (NULL: ``agents.agent_port``, else the
# plugin's ``agent_port`` config).
bridge_agentaddresses = glpi_table(
    PREFIX + "agentaddresses",
    Column("plugin_fusioninventory_agents_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("address", 64, nullable=False, default=""),
    int_column("port", None, nullable=True),
    timestamp_column("date"),
)

# Every wake-up attempt: probe of http://ADDR:PORT/status, then /now when the agent waits.
# outcome: woken, unreachable, busy or refused (the agent does not trust this server).
bridge_wakeups = glpi_table(
    PREFIX + "wakeups",
    id_column(),
    int_column("plugin_fusioninventory_agents_id"),
    int_column("plugin_fusioninventory_taskjobstates_id", None, nullable=True),
    timestamp_column("date"),
    string_column("address", 64),
    string_column("outcome", 16, nullable=False, default="unreachable"),
    text_column("detail"),
    Index("plugin_fusioninventory_agents_id", "plugin_fusioninventory_agents_id", "date"),
    Index("plugin_fusioninventory_taskjobstates_id", "plugin_fusioninventory_taskjobstates_id"),
)

TABLES = [bridge_meta, bridge_inventories, bridge_agentaddresses, bridge_wakeups]

# The token handed to each agent by Collect ``getJobs`` and rotated by every ``setAnswer``
# (the plugin uses GLPI's CSRF token there): one live token per agent. A POSTed answer must
# carry the live token of the agent that owns the run it answers.
bridge_resttokens = glpi_table(
    PREFIX + "resttokens",
    Column("plugin_fusioninventory_agents_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("token", 64, nullable=False, default=""),
    timestamp_column("date"),
)

TABLES.append(bridge_resttokens)

# ---------------------------------------------------------------------------------------------
# Task management of the original design (plugin 2.3.0) that the 9.5 schema cannot express.
# A task or job without a row here behaves exactly as in the 9.5 plugin (pull, no pool, no
# balancing, no periodicity, no retries, no ordering between actions).

# Per task. ``communication``: ``pull`` (the agents take their runs at their next PROLOG) or
# ``push`` (at the schedule's start the bridge wakes the task's agents). A pushed run whose
# agent has not called in ``push_timeout`` seconds after its wake-up is woken again, at most
# ``push_retries`` times, then set to Error. ``periodicity_count``/``periodicity_type``
# (minutes, hours, days, months; count 0 = not periodic): a new execution starts when every run
# of the previous one is over and the period since its start has elapsed. ``execution_id``
# numbers the executions (1 = the first); ``execution_start`` is when the current one began.
# ``last_push``: the execution whose runs were last pushed, so a pass never pushes twice.
bridge_tasks = glpi_table(
    PREFIX + "tasks",
    Column("plugin_fusioninventory_tasks_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("communication", 8, nullable=False, default="pull"),
    int_column("push_timeout", "300"),
    int_column("push_retries", "2"),
    int_column("periodicity_count"),
    string_column("periodicity_type", 10, nullable=False, default="minutes"),
    int_column("execution_id"),
    timestamp_column("execution_start"),
    int_column("last_push"),
)

# Per action (taskjob). ``pool``: '' (the listed actors only), ``module`` (every agent allowed to
# run the job's module, agentmodules semantics) or ``subnet`` (the agents with an address in
# the target's subnet), evaluated at preparation, capped at ``pool_max_agents`` (0 = no cap);
# in push mode only pool agents whose /status answers are kept. ``balance`` = 1: the targets are
# split between the agents (IP ranges in contiguous slices, computers and devices in chunks)
# instead of every agent doing every target; a failed or timed-out slice is prepared again on
# another agent, at most ``slice_retries`` times. ``retry_count``/``retry_delay`` (minutes):
# a failed run is prepared again after the delay, at most that many times (2.3.0's
# retry_nb/retry_time). ``wait_previous``: this action starts only when the previous action of
# the task has finished on the items they share, plus this many minutes (-1: do not wait).
bridge_taskjobs = glpi_table(
    PREFIX + "taskjobs",
    Column("plugin_fusioninventory_taskjobs_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("pool", 16, nullable=False, default=""),
    int_column("pool_max_agents"),
    flag_column("balance"),
    int_column("slice_retries", "2"),
    int_column("retry_count"),
    int_column("retry_delay"),
    int_column("wait_previous", "0"),
)

# Per run (taskjobstate) the bridge prepared or pushed: its task execution, which attempt it is
# (0 = first; a retry or a slice moved to another agent has ``previous_run`` = the failed run),
# its slice (``slice_first`` offset and ``slice_count`` addresses, also in the run's
# ``specificity`` as "<first offset>-<count>"), progress (``addresses_done``, from the agent's
# reports), and push state (``pushes`` wake-ups so far, the last at ``pushed_at``).
bridge_runs = glpi_table(
    PREFIX + "runs",
    Column("plugin_fusioninventory_taskjobstates_id", int_type(11), primary_key=True, autoincrement=False),
    int_column("plugin_fusioninventory_tasks_id"),
    int_column("execution_id"),
    int_column("attempt"),
    int_column("previous_run"),
    int_column("slice_first", None, nullable=True),
    int_column("slice_count", None, nullable=True),
    int_column("addresses_done"),
    int_column("pushes"),
    timestamp_column("pushed_at"),
    Index("execution", "plugin_fusioninventory_tasks_id", "execution_id"),
    Index("previous_run", "previous_run"),
)

TABLES.extend([bridge_tasks, bridge_taskjobs, bridge_runs])

# ---------------------------------------------------------------------------------------------
# Inventory relay (fusion_bridge/services/relay): INVENTORYs waiting to be forwarded to GLPI's
# own import. One row per agent (and, while the agent runs an ESX job, per ESX host it sends:
# ``subject``), so a newer document of the same agent replaces the queued one: the queue never
# holds more than one document per agent. ``body`` is the request body as the agent sent it
# (still compressed), with its ``content_type``, ``user_agent`` and the agent's ``remote_addr``.
# ``queued_at``: when the agent's first waiting document came (a replacement keeps its place;
# forwarding goes by ``id``, which follows it); ``arrived``: when this document came;
# ``generation`` grows at each replacement, so a forwarder that finishes sending an older one
# keeps the newer. ``state``: ``queued`` or ``dead`` (refused by the upstream
# ``relay_max_attempts`` times). ``attempts``: sends so far; ``rejections``: sends the upstream
# refused. A forwarder owns a row while ``claim_token`` is set and ``claim_expires`` is ahead.
bridge_relayqueue = glpi_table(
    PREFIX + "relayqueue",
    id_column(),
    int_column("plugin_fusioninventory_agents_id"),
    string_column("subject", 64, nullable=False, default=""),
    string_column("device_id"),
    longblob_column("body"),
    string_column("content_type"),
    string_column("user_agent"),
    string_column("remote_addr", 64),
    int_column("size", comment="body size in bytes, as sent"),
    timestamp_column("queued_at"),
    timestamp_column("arrived"),
    int_column("generation", "1"),
    string_column("state", 8, nullable=False, default="queued"),
    int_column("attempts"),
    int_column("rejections"),
    timestamp_column("next_attempt"),
    string_column("claim_token", 32),
    timestamp_column("claim_expires"),
    timestamp_column("last_attempt"),
    int_column("last_status", None, nullable=True),
    text_column("last_error"),
    Index("agent_subject", "plugin_fusioninventory_agents_id", "subject", unique=True),
    Index("state", "state", "next_attempt"),
    Index("size", "size"),
)

# Per agent: the last forwarding attempt of its inventory (``outcome``: delivered, retry,
# rejected, dead), with the upstream's HTTP status, the latency and the error, and the last
# successful delivery (``delivered_at``, ``delivered`` documents so far).
bridge_relaydeliveries = glpi_table(
    PREFIX + "relaydeliveries",
    Column("plugin_fusioninventory_agents_id", int_type(11), primary_key=True, autoincrement=False),
    string_column("device_id"),
    timestamp_column("date"),
    string_column("outcome", 16, nullable=False, default=""),
    int_column("http_status", None, nullable=True),
    int_column("latency_ms", None, nullable=True),
    text_column("error"),
    timestamp_column("delivered_at"),
    int_column("delivered"),
    Index("date", "date"),
    Index("delivered_at", "delivered_at"),
)

TABLES.extend([bridge_relayqueue, bridge_relaydeliveries])

# ---------------------------------------------------------------------------------------------
# The same tables in a GLPI 10/11 database (docs/glpi10-schema.md §5): GLPI's conventions there,
# utf8mb4 and unsigned ids and foreign keys, so that GLPI's checks for utf8mb3 tables and signed
# keys find nothing of ours to convert. Same column names for now; ``column_name`` is the hook
# for names that follow the flavour.

GLPI10_CHARSET = "utf8mb4"
GLPI10_COLLATION = "utf8mb4_unicode_ci"


def _is_key(column: Column) -> bool:
    return isinstance(column.type, Integer) and (column.name == "id" or column.name.endswith("_id"))


def _unsigned_key_type():
    return Integer().with_variant(mysql.INTEGER(display_width=10, unsigned=True), *MYSQL_DIALECTS)


def copy_for_glpi10(table: Table, metadata: MetaData, column_name=lambda name: name) -> Table:
    """``table`` as created in a GLPI 10/11 database, in ``metadata``."""
    columns = [Column(column_name(column.name), _unsigned_key_type() if _is_key(column) else column.type,
                      primary_key=column.primary_key, autoincrement=column.autoincrement,
                      nullable=column.nullable, comment=column.comment,
                      server_default=column.server_default.arg if column.server_default is not None else None)
               for column in table.columns]
    indexes = [Index(column_name(index.name), *[column_name(column.name) for column in index.columns],
                     unique=index.unique)
               for index in table.indexes]
    return Table(table.name, metadata, *columns, *indexes, mysql_engine="InnoDB", mysql_charset=GLPI10_CHARSET,
                 mysql_collate=GLPI10_COLLATION, sqlite_autoincrement=table.dialect_kwargs.get("sqlite_autoincrement",
                                                                                                 False))


_GLPI10_METADATA = MetaData()
SQLITE_PREFIXED_INDEXES.append(_GLPI10_METADATA)
# Column and index names follow the flavour (agents_id…, docs/schema-layouts.md §2), as engines
# of the glpiinventory layout render them.
GLPI10_TABLES = [copy_for_glpi10(table, _GLPI10_METADATA, column_name=functools.partial(physical_identifier,
                                                                                      GLPIINVENTORY))
                 for table in TABLES]


def bridge_tables(flavour: str) -> list[Table]:
    """The bridge's own tables as created in a database of ``flavour`` ("fusioninventory" or
    "glpiinventory")."""
    if flavour == "fusioninventory":
        return list(TABLES)
    if flavour == "glpiinventory":
        return list(GLPI10_TABLES)
    raise ValueError(f"unknown schema flavour {flavour!r}")
