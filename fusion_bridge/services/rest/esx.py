"""ESX over REST: ``getJobs`` and ``setLog`` (docs/plugin-semantics.md §7.7).

A run targets one ``PluginFusioninventoryCredentialIp`` (an ESX host or vCenter address with its
credential). ``getJobs`` hands each runnable run out as ``{"uuid","host","user","password"}``
(the password as stored on GLPI 9.5, decrypted with the GLPI key on GLPI 10/11; a password that
cannot be decrypted fails the run with the reason, docs/glpi-secrets.md §4) and moves it to Started; unlike the plugin it also
writes a ``Started`` log line, so that the server-side timeout can date a run the agent never
reports on. ``setLog`` ends the run: ``ok`` → Finished (comment ``msg`` or ``ok``), ``ko`` →
Error with the agent's message; ``running`` adds a Running line. The uuid must be a run of the
calling ``machineid``'s agent (the plugin applies it to whatever run has that uuid). The ESX host
inventories themselves arrive as ordinary INVENTORY messages on the agent endpoint.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

import schema
from fusion_bridge.ops import metrics
from fusion_bridge.services import runs
from fusion_bridge.adapters.secret_codec import codec_of
from fusion_bridge.errors import InvalidRequest, SecretUnavailable, UnknownRun
from fusion_bridge.services.rest.calls import agent_has_runs, agent_runs_probe, owned_run, rest_agent, runnable_runs
from fusion_bridge.domain.text import fit_utf8mb3, local_now
from schema.constants import ItemType, Method, TaskjobLogState as Log

HOST_GONE = "The ESX host or its credential of this job no longer exists."

credentials, credentialips = schema.credentials, schema.credentialips
AGENT_ESX_RUNS = agent_runs_probe(Method.ESX)

ESX_HOST = (
    select(credentialips.c.ip, credentials.c.id, credentials.c.username, credentials.c.password)
    .select_from(credentialips.join(
        credentials, credentials.c.id == credentialips.c.plugin_fusioninventory_credentials_id))
)


class EsxCalls:
    def __init__(self, engine: Engine, read_engine: Engine | None = None):
        """``read_engine``: an autocommit engine for the read-only probe; ``engine`` by default."""
        self._engine = engine
        self._read_engine = read_engine or engine

    def get_jobs(self, machine_id: str | None, now: datetime | None = None) -> dict:
        now = now or local_now()
        if not agent_has_runs(self._read_engine, AGENT_ESX_RUNS, machine_id):
            return {}
        jobs = []
        handed_out = 0
        with self._engine.begin() as conn:
            agent = rest_agent(conn, machine_id)
            secrets = codec_of(conn)
            for run in runnable_runs(conn, agent, Method.ESX, now):
                host = None
                if run.itemtype == ItemType.CREDENTIAL_IP:
                    host = conn.execute(ESX_HOST.where(credentialips.c.id == run.items_id)).first()
                if host is None:
                    runs.fail(conn, run.id, HOST_GONE, now, run.items_id, run.itemtype)
                    continue
                try:
                    password = secrets.reveal(host.password, f"ESX credential {host.id} password")
                except SecretUnavailable as error:
                    runs.fail(conn, run.id, error.reason, now, run.items_id, run.itemtype)
                    continue
                jobs.append({"uuid": run.uniqid, "host": host.ip or "", "user": host.username or "",
                             "password": password})
                runs.hand_out(conn, run.id, now, agent.id)
                handed_out += 1
        metrics.current.runs_handed_out(Method.ESX, handed_out)  # committed
        return {"jobs": jobs} if jobs else {}

    def set_log(self, machine_id: str | None, uuid: str | None, code: str | None, msg: str | None,
                now: datetime | None = None) -> dict:
        now = now or local_now()
        if not uuid:
            raise InvalidRequest("missing uuid")
        if code not in ("ok", "ko", "running"):
            raise InvalidRequest(f"unknown code {str(code)[:20]!r}: expected ok, ko or running")
        msg = fit_utf8mb3(msg)
        with self._engine.begin() as conn:
            agent = rest_agent(conn, machine_id)
            run = owned_run(conn, agent.id, uuid, Method.ESX, "an ESX job", not_owned=UnknownRun)
            if code == "running":
                runs.add_log(conn, run.id, Log.RUNNING, msg or "", now, run.itemtype, run.items_id)
            elif code == "ok":
                runs.finish(conn, run.id, msg or "ok", now, run.items_id, run.itemtype)
            else:
                runs.fail(conn, run.id, msg or "ko", now, run.items_id, run.itemtype)
        return {}
