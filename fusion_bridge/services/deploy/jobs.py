"""Deploy over REST: ``getJobs`` and ``getFilePart`` (docs/plugin-semantics.md §7.5,
docs/agent-protocol.md §5.2).

A deploy run targets one ``PluginFusioninventoryDeployPackage``. ``getJobs`` hands each runnable
run out as the package's job (``deploy_order``) with the files it uses, their part names and
mirrors (``deploy_mirror_list``), moves it to Started and, unlike the plugin, writes a ``Started``
log line so that the server-side timeout can date a run the agent never reports on. A run that
cannot be served (package gone or unreadable, a file not described by the package, or a file
whose parts are not all in the repository) goes to Error with the reason instead of being handed
out to fail on the agent. Runs postponed by a user interaction (``date_start`` in the future)
stay Prepared until then.

``getFilePart`` serves one part from the repository to an agent that was handed a job using it
(the plugin lets anyone download any part, or, in 9.5+4.2, nobody). The progress reports
(``setStatus``, ``setUserEvent``) are in ``deploy_status``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.ops import metrics
from fusion_bridge.services import runs
from fusion_bridge.adapters.deploy_repository import FileRepository, is_sha512
from fusion_bridge.errors import InvalidRequest, NotFound, NotYours
from fusion_bridge.services.deploy.mirror_list import mirror_urls
from fusion_bridge.domain.deploy_order import (
    BadPackage, build_job, decode_template, file_entry, job_files, parse_package, template_ids)
from fusion_bridge.services.rest.calls import (
    RequestBase, agent_runs_probe, as_stored, entity_base_url, handing_out, resolve_base)
from fusion_bridge.services.agent.settings import SettingsCache
from fusion_bridge.domain.text import local_now
from schema.constants import ItemType, Method, Module

log = logging.getLogger("fusion_bridge.deploy")

DEPLOY_DISABLED = "Deploy module has been disabled for this agent"
PACKAGE_GONE = "The deploy package of this job no longer exists."

packages, templates_t = schema.deploypackages, schema.deployuserinteractiontemplates
_runs, _jobs, _agents = schema.taskjobstates, schema.taskjobs, schema.agents

# The packages of the deploy runs in progress of the (unlocked) agent with that device id:
# what it may download parts of. One round trip per part.
HANDED_OUT_PACKAGES = (
    select(packages.c.json)
    .select_from(_agents.join(_runs, _runs.c.plugin_fusioninventory_agents_id == _agents.c.id)
                 .join(_jobs, _jobs.c.id == _runs.c.plugin_fusioninventory_taskjobs_id)
                 .join(packages, packages.c.id == _runs.c.items_id))
    .where(_agents.c.device_id == bindparam("device_id"), func.coalesce(_agents.c.lock, 0) == 0,
           _runs.c.state.in_(runs.HANDED_OUT), _runs.c.itemtype == ItemType.DEPLOY_PACKAGE,
           _jobs.c.method == Method.DEPLOY)
)
# Most getJobs find nothing to do: the probe answers them in one statement, without a transaction.
AGENT_DEPLOY_RUNS = agent_runs_probe(Method.DEPLOY)


class DeployCalls:
    def __init__(self, engine: Engine, settings: SettingsCache, repository: FileRepository,
                 read_engine: Engine | None = None):
        """``read_engine``: an autocommit engine for the read-only probes; ``engine`` by default."""
        self._engine = engine
        self._read_engine = read_engine or engine
        self._settings = settings
        self.repository = repository

    # -- getJobs ---------------------------------------------------------------------------

    def get_jobs(self, machine_id: str | None, version: str | None, request_base: RequestBase = "",
                 now: datetime | None = None) -> dict:
        """The agent's deploy order: ``{"jobs": [...], "associatedFiles": {...}}``, or ``{}``.

        ``version``: the agent's Deploy task version (older agents get checks they know).
        ``request_base``: where the request came in, for the bridge's own mirror URL when the
        entity has no ``agent_base_url`` (or a function giving it, called only if needed).
        """
        now = now or local_now()
        handed_out = 0
        with handing_out(self._engine, self._read_engine, AGENT_DEPLOY_RUNS, self._settings, machine_id,
                         Method.DEPLOY, Module.DEPLOY, DEPLOY_DISABLED, now) as handout:
            if handout is None:
                return {}
            conn, agent, settings = handout.conn, handout.agent, handout.settings
            mirrors: list[str] | None = None
            jobs: list[dict] = []
            files: dict[str, dict] = {}
            for run in handout.runs:
                if run.date_start is not None and run.date_start > now:
                    continue  # postponed by the user: not before its new start
                try:
                    package_jobs, package_files = self._package(conn, run)
                except BadPackage as bad:
                    runs.fail(conn, run.id, str(bad), now, run.items_id, run.itemtype)
                    continue
                if mirrors is None:
                    base = entity_base_url(conn, agent.entities_id or 0) or resolve_base(request_base)
                    mirrors = mirror_urls(conn, agent, settings.config, base, machine_id)
                templates = self._templates(conn, package_jobs)
                jobs.append(build_job(package_jobs, run.uniqid or "", version, run.nb_retry or 0,
                                      run.max_retry or 0, templates))
                for sha512, stored in package_files.items():
                    if sha512 not in files and isinstance(stored, dict):
                        files[sha512] = file_entry(stored, mirrors, self.repository.manifest(sha512))
                runs.hand_out(conn, run.id, now, agent.id)
                handed_out += 1
        metrics.current.runs_handed_out(Method.DEPLOY, handed_out)  # committed
        return {"jobs": jobs, "associatedFiles": files} if jobs else {}

    def _package(self, conn: Connection, run) -> tuple[dict, dict]:
        """The package of a run, checked: every file it uses is described and fully stored."""
        raw = None
        if run.itemtype == ItemType.DEPLOY_PACKAGE:
            raw = conn.execute(select(packages.c.json).where(packages.c.id == run.items_id)).first()
        if raw is None:
            raise BadPackage(PACKAGE_GONE)
        package_jobs, package_files = parse_package(raw.json)
        for sha512 in job_files(package_jobs):
            stored = package_files.get(sha512)
            if not isinstance(stored, dict):
                raise BadPackage(f"The file {sha512[:128]} used by this job is not described in its deploy package.")
            if not self.repository.has_file(sha512):
                name = str(stored.get("name") or "")[:255]
                log.error("deploy run %s: file %r (%s) has no manifest or misses parts under %s",
                          run.id, name, sha512[:128], self.repository.root)
                raise BadPackage(f"The file {name} ({sha512[:128]}) of this job is missing from the deploy "
                                 "repository, or some of its parts are: it cannot be downloaded.")
        return package_jobs, package_files

    @staticmethod
    def _templates(conn: Connection, package_jobs: dict) -> dict[int, dict]:
        ids = template_ids(package_jobs)
        if not ids:
            return {}
        return {row.id: decode_template(row.json) for row in conn.execute(
            select(templates_t.c.id, templates_t.c.json).where(templates_t.c.id.in_(sorted(ids))))}

    # -- getFilePart -----------------------------------------------------------------------

    def file_part(self, machine_id: str | None, file: str | None) -> Path:
        """The stored part the agent asks for (``file`` = ``/<c1>/<c1c2>/<part sha512>``).

        InvalidRequest for a malformed request, NotYours unless the agent was handed a deploy
        job (Started or Running) using a file made of that part, NotFound if the part is not
        stored.
        """
        part = (file or "").rstrip("/").rsplit("/", 1)[-1].lower()
        if not is_sha512(part):
            raise InvalidRequest("file must end with the sha512 of a file part")
        if not machine_id:
            raise NotYours("missing machineid: parts are served to the agents of deploy jobs only")
        with self._read_engine.connect() as conn:
            owned = conn.execute(HANDED_OUT_PACKAGES, {"device_id": as_stored(machine_id)}).scalars().all()
            conn.rollback()
        if not any(part in self._parts_of(raw) for raw in owned):
            raise NotYours("this agent has no deploy job in progress using this file part")
        path = self.repository.part_path(part)
        if not path.is_file():
            raise NotFound("this file part is not in the deploy repository")
        return path

    def _parts_of(self, raw_package: str | None) -> set[str]:
        try:
            package_jobs, _files = parse_package(raw_package)
        except BadPackage:
            return set()
        parts: set[str] = set()
        for sha512 in job_files(package_jobs):
            parts.update(self.repository.manifest(sha512))
        return parts
