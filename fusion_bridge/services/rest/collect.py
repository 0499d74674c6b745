"""Collect over REST: ``getJobs``, ``setAnswer``, ``jobsDone`` (docs/plugin-semantics.md §7.6).

A collect run targets one ``PluginFusioninventoryCollect``; ``getJobs`` turns it into one job per
registry, WMI or file definition of that collect (all with the run's ``uniqid`` as uuid and the
definition id as ``_sid``), values as strings like the plugin's. Results go to the ``*_contents``
tables of the agent's computer.

Where the plugin trusts any caller, the bridge checks ownership: ``getJobs`` hands the agent a
token (the plugin's CSRF token, stored in ``glpi_plugin_fusionbridge_resttokens``, one live
token per agent); every ``setAnswer`` must carry the live token of the agent owning the run of
that uuid, and gets the next one. ``setAnswer`` without a token is accepted only when no token
was ever issued to that agent (a run handed out by GLPI's own server). The run must be handed out
(Started/Running) and the ``_sid`` a definition of its collect. ``jobsDone`` (the agent sends
only the uuid) finishes a handed-out collect run.
"""

from __future__ import annotations

import hmac
import re
import secrets
from datetime import datetime
from typing import Mapping

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.ops import metrics
from fusion_bridge.services import runs
from fusion_bridge.errors import Conflict, InvalidRequest, NotHandedOut, NotYours, UnknownRun
from fusion_bridge.services.rest.calls import agent_runs_probe, as_stored, handing_out
from fusion_bridge.services.agent.settings import SettingsCache
from fusion_bridge.domain.text import fit_utf8mb3, local_now, php_json
from schema.constants import Method, Module, TaskjobLogState as Log, TaskjobState as State

COLLECT_DISABLED = "Collect module has been disabled for this agent"
PATH_NOT_FOUND = "Path not found"
NOTHING_TO_COLLECT = "The collect of this job no longer exists or has no registry, WMI or file definition."

collects = schema.collects
registries, registries_contents = schema.collects_registries, schema.collects_registries_contents
wmis, wmis_contents = schema.collects_wmis, schema.collects_wmis_contents
files, files_contents = schema.collects_files, schema.collects_files_contents
tokens = schema.bridge_resttokens
_runs, _jobs, _agents = schema.taskjobstates, schema.taskjobs, schema.agents

# Keys of a setAnswer that are protocol, not collected values.
PROTOCOL_KEYS = ("action", "uuid", "_cpt", "_sid", "_glpi_csrf_token", "method", "machineid")
HEX = re.compile(r"^0x[0-9a-fA-F]+$")
AGENT_COLLECT_RUNS = agent_runs_probe(Method.COLLECT)

def _run_by_uuid(conn: Connection, uuid: str):
    """The plugin's lookup (first run of that uniqid not Finished), restricted to collect runs.

    Only the run row is locked: the job row is shared by every agent of the job.
    """
    run = conn.execute(
        select(_runs.c.id, _runs.c.state, _runs.c.items_id, _runs.c.itemtype,
               _runs.c.plugin_fusioninventory_taskjobs_id.label("job_id"),
               _runs.c.plugin_fusioninventory_agents_id.label("agent_id"))
        .where(_runs.c.uniqid == as_stored(uuid), _runs.c.state != int(State.FINISHED))
        .order_by(_runs.c.id)
        .limit(1)
        .with_for_update()
    ).first()
    if run is None:
        return None
    method = conn.execute(select(_jobs.c.method).where(_jobs.c.id == run.job_id)).scalar()
    return run if method == Method.COLLECT else None


def _known_run(conn: Connection, uuid: str | None):
    """The run of a collect job uuid; InvalidRequest when missing, UnknownRun when unknown."""
    if not uuid:
        raise InvalidRequest("missing uuid")
    run = _run_by_uuid(conn, uuid)
    if run is None:
        raise UnknownRun(f"unknown collect job uuid {uuid[:64]!r}")
    return run


def _php_string(value) -> str:
    return "" if value is None else str(value)


def collect_jobs(conn: Connection, run, computers_id: int) -> list[dict]:
    """The plugin's ``PluginFusioninventoryCollect::run``: the jobs of one run, in its key order."""
    collect = conn.execute(select(collects.c.id, collects.c.type).where(collects.c.id == run.items_id)).first()
    if collect is None:
        return []
    kind = (collect.type or "").lower()
    jobs: list[dict] = []
    if kind == "registry":
        for row in conn.execute(select(registries).where(
                registries.c.plugin_fusioninventory_collects_id == collect.id).order_by(registries.c.id)):
            jobs.append({"function": "getFromRegistry",
                         "path": _php_string(row.hive) + _php_string(row.path) + _php_string(row.key),
                         "uuid": run.uniqid, "_sid": str(row.id)})
    elif kind == "wmi":
        for row in conn.execute(select(wmis).where(
                wmis.c.plugin_fusioninventory_collects_id == collect.id).order_by(wmis.c.id)):
            job = {"function": "getFromWMI", "class": _php_string(row._mapping["class"]),
                   "properties": [_php_string(row.properties)], "uuid": run.uniqid, "_sid": str(row.id)}
            if row.moniker:
                job["moniker"] = row.moniker
            jobs.append(job)
    elif kind == "file":
        for row in conn.execute(select(files).where(
                files.c.plugin_fusioninventory_collects_id == collect.id).order_by(files.c.id)):
            values = row._mapping
            filters: dict = {"is_file": str(values["filter_is_file"]), "is_dir": str(values["filter_is_dir"])}
            if values["filter_regex"]:
                filters["regex"] = values["filter_regex"]
            if (values["filter_sizeequals"] or 0) > 0:
                filters["sizeEquals"] = str(values["filter_sizeequals"])
            elif (values["filter_sizegreater"] or 0) > 0:
                filters["sizeGreater"] = str(values["filter_sizegreater"])
            elif (values["filter_sizelower"] or 0) > 0:
                filters["sizeLower"] = str(values["filter_sizelower"])
            for column, key in (("filter_checksumsha512", "checkSumSHA512"), ("filter_checksumsha2", "checkSumSHA2"),
                                ("filter_name", "name"), ("filter_iname", "iname")):
                if values[column]:
                    filters[key] = values[column]
            jobs.append({"function": "findFile", "dir": _php_string(values["dir"]), "limit": str(values["limit"]),
                         "recursive": str(values["is_recursive"]), "filter": filters, "uuid": run.uniqid,
                         "_sid": str(values["id"])})
            # The computer's previous results of this definition go now, as in the plugin.
            conn.execute(delete(files_contents).where(
                files_contents.c.plugin_fusioninventory_collects_files_id == values["id"],
                files_contents.c.computers_id == computers_id))
    return jobs


class CollectCalls:
    def __init__(self, engine: Engine, settings: SettingsCache, read_engine: Engine | None = None):
        """``read_engine``: an autocommit engine for the read-only probe; ``engine`` by default."""
        self._engine = engine
        self._read_engine = read_engine or engine
        self._settings = settings

    # -- getJobs ---------------------------------------------------------------------------

    def get_jobs(self, machine_id: str | None, now: datetime | None = None) -> dict:
        now = now or local_now()
        handed_out = 0
        with handing_out(self._engine, self._read_engine, AGENT_COLLECT_RUNS, self._settings, machine_id,
                         Method.COLLECT, Module.COLLECT, COLLECT_DISABLED, now) as handout:
            if handout is None:
                return {}
            conn, agent = handout.conn, handout.agent
            jobs: list[dict] = []
            for run in handout.runs:
                out = collect_jobs(conn, run, agent.computers_id or 0)
                if not out:
                    # The plugin would mark it sent with nothing to send: it would never end.
                    runs.fail(conn, run.id, NOTHING_TO_COLLECT, now, run.items_id, run.itemtype)
                    continue
                jobs.extend(out)
                runs.hand_out(conn, run.id, now, agent.id)
                handed_out += 1
            if not jobs:
                return {}
            token = _issue_token(conn, agent.id, now)
        metrics.current.runs_handed_out(Method.COLLECT, handed_out)  # committed
        # Never "jobs": [] — the agent dies on it.
        return {"jobs": jobs, "postmethod": "POST", "token": token}

    # -- setAnswer -------------------------------------------------------------------------

    def set_answer(self, uuid: str | None, values: Mapping[str, str], now: datetime | None = None) -> dict:
        """One result of one job. ``values``: every argument of the call (query or form), in order."""
        now = now or local_now()
        with self._engine.begin() as conn:
            run = _known_run(conn, uuid)
            answer = _check_token(conn, run.agent_id, values.get("_glpi_csrf_token"), now)
            if run.state not in runs.HANDED_OUT:
                raise NotHandedOut("this collect job is not waiting for answers")
            sid = _int(values.get("_sid"))
            collect = conn.execute(select(collects.c.type).where(collects.c.id == run.items_id)).first()
            kind = ((collect.type if collect else "") or "").lower()
            if kind not in ("registry", "wmi", "file"):
                raise Conflict("the collect of this job no longer exists")
            if sid is None or not _is_definition(conn, kind, sid, run.items_id):
                raise InvalidRequest(f"_sid is not a {kind} definition of this job's collect")
            computers_id = conn.execute(
                select(_agents.c.computers_id).where(_agents.c.id == run.agent_id)).scalar() or 0
            data = {key: value for key, value in values.items() if key not in PROTOCOL_KEYS}
            logged: dict = data
            prefix = ""
            if kind == "file":
                prefix = _file_log_prefix(conn, sid)
                if data.get("path") and "size" in data:
                    runs.add_log(conn, run.id, Log.RUNNING,
                                 fit_utf8mb3(f"{prefix}file {data['path']} | size {data['size']}"), now,
                                 run.itemtype, run.items_id)
                    conn.execute(insert(files_contents).values(
                        computers_id=computers_id, plugin_fusioninventory_collects_files_id=sid,
                        pathfile=fit_utf8mb3(data["path"].replace("\\", "/").replace("//", "/"), 65535),
                        size=_int(data["size"]) or 0))
                    logged = {str(sid): data}
            elif kind == "registry":
                _replace_set(conn, registries_contents, "plugin_fusioninventory_collects_registries_id", "key",
                             computers_id, sid, data, hex_to_decimal=True)
            else:
                _replace_set(conn, wmis_contents, "plugin_fusioninventory_collects_wmis_id", "property",
                             computers_id, sid, data, hex_to_decimal=False)
            runs.agent_reports(conn, run.id)
            if logged:
                runs.add_log(conn, run.id, Log.INFO, fit_utf8mb3(prefix + php_json(logged, escape_slashes=False)), now,
                             run.itemtype, run.items_id)
            else:
                runs.add_log(conn, run.id, Log.ERROR, PATH_NOT_FOUND, now, run.itemtype, run.items_id)
        return answer

    # -- jobsDone --------------------------------------------------------------------------

    def jobs_done(self, uuid: str | None, now: datetime | None = None) -> dict:
        now = now or local_now()
        with self._engine.begin() as conn:
            run = _known_run(conn, uuid)
            if run.state not in runs.HANDED_OUT:
                raise NotHandedOut("this collect job was not handed out or is already over")
            runs.finish(conn, run.id, "", now, run.items_id, run.itemtype)
        return {}


def _file_log_prefix(conn: Connection, sid: int) -> str:
    """What a file search's log lines start with: nothing in FusionInventory, the search's name
    and ': ' in glpiinventory (docs/glpi10-protocol.md §9)."""
    if not layout_of(conn).renames:
        return ""
    return f"{conn.execute(select(files.c.name).where(files.c.id == sid)).scalar() or ''}: "


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _is_definition(conn: Connection, kind: str, sid: int, collect_id: int) -> bool:
    table = {"registry": registries, "wmi": wmis, "file": files}[kind]
    return conn.execute(select(table.c.id).where(
        table.c.id == sid, table.c.plugin_fusioninventory_collects_id == collect_id)).first() is not None


def _replace_set(conn: Connection, table, definition_column: str, key_column: str, computers_id: int, sid: int,
                 data: Mapping[str, str], hex_to_decimal: bool) -> None:
    """The plugin's ``updateComputer``: same key updated, missing keys deleted, new keys added."""
    existing = {row[1]: row[0] for row in conn.execute(
        select(table.c.id, table.c[key_column]).where(table.c.computers_id == computers_id,
                                                       table.c[definition_column] == sid))}
    wanted = {}
    for key, value in data.items():
        text = str(value)
        if hex_to_decimal and HEX.match(text):
            text = str(int(text, 16))
        wanted[fit_utf8mb3(str(key), 255)] = fit_utf8mb3(text, 255)
    stale = [row_id for key, row_id in existing.items() if key not in wanted]
    if stale:
        conn.execute(delete(table).where(table.c.id.in_(stale)))
    for key, value in wanted.items():
        if key in existing:
            conn.execute(update(table).where(table.c.id == existing[key]).values(value=value))
        else:
            conn.execute(insert(table).values({"computers_id": computers_id, definition_column: sid,
                                               key_column: key, "value": value}))


# -- tokens ----------------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_hex(20)


def _issue_token(conn: Connection, agent_id: int, now: datetime) -> str:
    token = _new_token()
    changed = conn.execute(update(tokens).where(tokens.c.plugin_fusioninventory_agents_id == agent_id)
                           .values(token=token, date=now)).rowcount
    if not changed:
        conn.execute(insert(tokens).values(plugin_fusioninventory_agents_id=agent_id, token=token, date=now))
    return token


def _check_token(conn: Connection, agent_id: int, given: str | None, now: datetime) -> dict:
    """Check the token of a setAnswer against the run's agent; the answer carrying the next one."""
    live = conn.execute(select(tokens.c.token).where(tokens.c.plugin_fusioninventory_agents_id == agent_id)
                        .with_for_update()).scalar()
    if live is None:
        if given:
            raise NotYours("wrong token for this job")
        return {}
    if not given:
        raise NotYours("missing token: this job's agent was given one")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), live.encode("utf-8")):
        raise NotYours("wrong token for this job")
    token = _new_token()
    conn.execute(update(tokens).where(tokens.c.plugin_fusioninventory_agents_id == agent_id)
                 .values(token=token, date=now))
    return {"token": token}
