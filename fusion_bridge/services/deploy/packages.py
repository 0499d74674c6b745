"""Deploy packages: create, fill (checks, actions, files), list, show, delete, and deploy.

Packages are ``glpi_plugin_fusioninventory_deploypackages`` rows whose ``json`` column holds the
order the agent runs, written exactly as GLPI's UI writes it (``deploy_content``), so a package
made here shows and edits in GLPI, and the reverse.

Every public function takes an Engine and works in one transaction of its own. A content edit
locks the package row, reads its JSON, changes it and writes it back, so two concurrent edits of
one package (here, on another worker or in GLPI's UI) are applied one after the other and none is
lost. Like the plugin, content cannot change while an agent is running the package (runs handed
out, not finished): the agent would get a different order on its next ``getJobs``. Bad input
raises ``DefinitionError``; an unknown id ``NotFound``.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

import schema
from fusion_bridge.services import runs as run_service
from fusion_bridge.services.admin import definitions
from fusion_bridge.services.deploy import content
from fusion_bridge.services.admin.base import (
    DefinitionError,
    NotFound,
    date_text,
    entity_exists,
    flag,
    glpi_text,
    positive_id,
    refuse_if_used,
    row_by_id,
    ui_text,
)
from fusion_bridge.services.admin.network import actions_targeting
from fusion_bridge.adapters.deploy_repository import FileRepository, is_sha512
from fusion_bridge.domain.text import local_now
from schema.constants import ItemType, Method
from schema.plugin_deploy import (
    deployfiles,
    deploypackages,
    deploypackages_entities,
    deploypackages_groups,
    deploypackages_profiles,
    deploypackages_users,
)

log = logging.getLogger("fusion_bridge.deploy")

packages = deploypackages
VISIBILITY_TABLES = (deploypackages_entities, deploypackages_groups, deploypackages_profiles,
                     deploypackages_users)


# --- rows -------------------------------------------------------------------------------------


def _package_row(conn: Connection, package_id: Any, lock: bool = False):
    return row_by_id(conn, packages, package_id, "package", lock=lock)


def _package_dict(row, with_content: bool = False) -> dict:
    order = content.decode_order(row.json, row.id)
    result = {"id": row.id, "name": ui_text(row.name), "entities_id": row.entities_id,
              "is_recursive": bool(row.is_recursive), "comment": ui_text(row.comment),
              "date_mod": date_text(row.date_mod), **content.summary(order)}
    if with_content:
        jobs = order["jobs"]
        result.update(checks=jobs["checks"], actions=jobs["actions"], userinteractions=jobs["userinteractions"],
                      files=[{"sha512": sha, **order["associatedFiles"].get(sha, {})}
                             for sha in jobs["associatedFiles"]],
                      json=row.json)
    return result


def _running_runs(conn: Connection, package_id: int) -> int:
    """Runs of the package its agents hold (handed out): the package must not change under them."""
    runs = schema.taskjobstates
    return conn.execute(select(func.count()).select_from(runs).where(
        runs.c.itemtype == ItemType.DEPLOY_PACKAGE, runs.c.items_id == package_id,
        runs.c.state.in_(run_service.HANDED_OUT))).scalar_one()


def _edit(engine: Engine, package_id: Any, change) -> dict:
    """Lock the package, apply ``change(conn, order)`` to its order and store it."""
    with engine.begin() as conn:
        row = _package_row(conn, package_id, lock=True)
        running = _running_runs(conn, row.id)
        if running:
            raise DefinitionError(f"package {row.id} is being deployed ({running} run(s) in agents' hands): "
                                  "its content cannot change until they finish")
        order = content.decode_order(row.json, row.id)
        change(conn, order)
        conn.execute(update(packages).where(packages.c.id == row.id)
                     .values(json=content.encode_order(order), date_mod=local_now()))
        return _package_dict(_package_row(conn, row.id), with_content=True)


# --- packages ---------------------------------------------------------------------------------


def create_package(engine: Engine, name: Any, *, entities_id: Any = 0, comment: Any = None,
                   is_recursive: Any = False) -> dict:
    """An empty package, with the JSON the plugin gives a new package."""
    with engine.begin() as conn:
        entity = positive_id(entities_id, "entity", allow_zero=True)
        entity_exists(conn, entity)
        values = {"name": glpi_text(name, "package name", required=True),
                  "comment": glpi_text(comment, "comment", max_chars=65535), "entities_id": entity,
                  "is_recursive": flag(is_recursive, "recursive"), "date_mod": local_now(),
                  "json": content.encode_order(content.new_order()), "plugin_fusioninventory_deploygroups_id": 0}
        package_id = conn.execute(insert(packages).values(values)).inserted_primary_key[0]
        package = _package_dict(_package_row(conn, package_id), with_content=True)
    log.info("package %d %r created", package_id, values["name"])
    return package


def list_packages(engine: Engine, *, limit: int = 1000) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(packages).order_by(packages.c.id).limit(limit)).all()
        return [_listed(row) for row in rows]


def _listed(row) -> dict:
    """A package of the list; one whose JSON cannot be read (edited elsewhere) is listed with
    the reason instead of failing the whole list."""
    try:
        return _package_dict(row)
    except DefinitionError as error:
        return {"id": row.id, "name": ui_text(row.name), "entities_id": row.entities_id,
                "is_recursive": bool(row.is_recursive), "comment": ui_text(row.comment),
                "date_mod": date_text(row.date_mod), "error": error.reason}


def get_package(engine: Engine, package_id: Any) -> dict:
    """The package with its checks, files, actions, the raw JSON and the actions deploying it."""
    with engine.connect() as conn:
        row = _package_row(conn, package_id)
        package = _package_dict(row, with_content=True)
        package["deployed_by_actions"] = actions_targeting(conn, ItemType.DEPLOY_PACKAGE, row.id)
    return package


def delete_package(engine: Engine, package_id: Any) -> dict:
    """Delete the package and its visibility rows; refused while an action deploys it. The files
    stay in the repository: other packages (here or in GLPI) may use them."""
    with engine.begin() as conn:
        row = _package_row(conn, package_id, lock=True)
        refuse_if_used(actions_targeting(conn, ItemType.DEPLOY_PACKAGE, row.id), f"package {row.id}",
                       "is deployed by", "remove them first")
        for table in VISIBILITY_TABLES:
            conn.execute(delete(table).where(table.c.plugin_fusioninventory_deploypackages_id == row.id))
        conn.execute(delete(packages).where(packages.c.id == row.id))
    log.info("package %d deleted", row.id)
    return {"id": row.id, "deleted": True}


# --- content ----------------------------------------------------------------------------------


def add_check(engine: Engine, package_id: Any, check: Mapping[str, Any]) -> dict:
    """Append a check (see ``deploy_content.check_entry`` for its fields)."""
    entry = content.check_entry(check)
    package = _edit(engine, package_id, lambda conn, order: order["jobs"]["checks"].append(entry))
    log.info("package %d: %s check added", package["id"], entry["type"])
    return package


def add_action(engine: Engine, package_id: Any, action: Mapping[str, Any]) -> dict:
    """Append an action (see ``deploy_content.action_entry`` for its fields)."""
    entry = content.action_entry(action)
    package = _edit(engine, package_id, lambda conn, order: order["jobs"]["actions"].append(entry))
    log.info("package %d: %s action added", package["id"], next(iter(entry)))
    return package


def remove_entry(engine: Engine, package_id: Any, kind: str, index: Any) -> dict:
    """Remove the check, action or file at ``index`` (0-based, as listed by ``get_package``)."""
    keys = {"check": "checks", "action": "actions", "file": "associatedFiles"}
    if kind not in keys:
        raise DefinitionError(f"kind must be one of {', '.join(keys)}, got {kind!r}")
    position = positive_id(index, f"{kind} index", allow_zero=True)

    def change(conn, order):
        entries = order["jobs"][keys[kind]]
        if position >= len(entries):
            raise DefinitionError(f"package has no {kind} #{position} (it has {len(entries)})")
        removed = entries.pop(position)
        if kind == "file" and removed not in entries:
            order["associatedFiles"].pop(removed, None)

    return _edit(engine, package_id, change)


def attach_file(engine: Engine, package_id: Any, file: Any, *, name: Any = None, p2p: Any = False,
                p2p_retention_minutes: Any = 0, uncompress: Any = False,
                repository: FileRepository | None = None) -> dict:
    """Attach a repository file, given by its sha512 or its ``_deployfiles`` id. ``name``: the
    file's name on the agent (default: the registered name). With a ``repository``, a file whose
    parts are missing from it is refused (agents could not download it). Attaching a file again
    updates its settings."""

    def change(conn, order):
        row = _deploy_file(conn, file)
        if repository is not None and not repository.has_file(row.sha512):
            raise DefinitionError(f"file {row.id} ({row.name}) is registered but its parts are not in the "
                                  f"repository {repository.root}")
        entry = content.file_entry(row.name if name is None else name, p2p=p2p,
                                   p2p_retention_minutes=p2p_retention_minutes, uncompress=uncompress)
        order["associatedFiles"][row.sha512] = entry
        if row.sha512 not in order["jobs"]["associatedFiles"]:
            order["jobs"]["associatedFiles"].append(row.sha512)

    package = _edit(engine, package_id, change)
    log.info("package %d: file %s attached", package["id"], str(file)[:16])
    return package


def _deploy_file(conn: Connection, file: Any):
    if file is None or (isinstance(file, str) and not file.strip()):
        raise DefinitionError("say which file to attach: its id or its sha512")
    if isinstance(file, str) and is_sha512(file.strip().lower()):
        sha512 = file.strip().lower()
        row = conn.execute(select(deployfiles).where(deployfiles.c.sha512 == sha512)
                           .order_by(deployfiles.c.id).limit(1)).first()
        if row is None:
            raise NotFound(f"no file with sha512 {sha512[:16]}… in the repository: add it first")
        return row
    if isinstance(file, str) and not file.strip().isdigit():
        raise DefinitionError(f"a file is given by its id or its sha512 (128 hexadecimal digits), got {file!r}")
    file_id = positive_id(file, "file id")
    row = conn.execute(select(deployfiles).where(deployfiles.c.id == file_id)).first()
    if row is None:
        raise NotFound(f"file {file_id} does not exist")
    return row


# --- deploying --------------------------------------------------------------------------------


def deploy_package(engine: Engine, package_id: Any, *, computers: Iterable = (), groups: Iterable = (),
                   deploygroups: Iterable = (), agents: Iterable = (), task_name: Any = None,
                   entities_id: Any = None, active: Any = True, reprepare_if_successful: Any = False) -> dict:
    """Create a task (active unless ``active`` is false) with one ``deployinstall`` action
    targeting the package, run by the given computers, GLPI groups, deploy groups and agents.

    By default an agent that installed the package successfully is not given it again (the
    task's ``reprepare_if_successful`` 0); failed runs are prepared again, as the plugin does.

    Task and action are written in one transaction, validated as ``definitions.create_task`` and
    ``add_action`` validate them; the scheduler's next preparation gives every agent its run.
    """
    computers, groups, deploygroups, agents = (_id_list(values, what) for values, what in (
        (computers, "computers"), (groups, "groups"), (deploygroups, "deploygroups"), (agents, "agents")))
    actors = ([(ItemType.COMPUTER, c) for c in computers] + [(ItemType.GROUP, g) for g in groups]
              + [(ItemType.DEPLOY_GROUP, d) for d in deploygroups] + [(ItemType.AGENT, a) for a in agents])
    if not actors:
        raise DefinitionError("say where to deploy: at least one computer, group, deploy group or agent")
    with engine.begin() as conn:
        package = _package_row(conn, package_id)
        order = content.decode_order(package.json, package.id)
        if not order["jobs"]["actions"] and not order["jobs"]["associatedFiles"]:
            raise DefinitionError(f"package {package.id} has no action and no file: nothing to deploy")
        name = task_name if task_name not in (None, "") else f"Deploy {ui_text(package.name)}"
        entity = package.entities_id if entities_id is None else entities_id
        # The definitions' own validation, inside this transaction (their public functions
        # would each commit on their own).
        task_values = definitions._task_values(conn, {
            "name": name, "entities_id": entity, "is_active": flag(active, "active"),
            "reprepare_if_successful": flag(reprepare_if_successful, "again_after_success")}, None)
        task_values.update(date_creation=local_now(), wakeup_agent_counter=0, wakeup_agent_time=0,
                           is_deploy_on_demand=0)
        task_id = conn.execute(insert(schema.tasks).values(task_values)).inserted_primary_key[0]
        action_values = definitions._action_values(conn, {
            "name": ui_text(package.name), "method": Method.DEPLOY,
            "targets": [(ItemType.DEPLOY_PACKAGE, package.id)], "actors": actors}, None)
        action_values.update(plugin_fusioninventory_tasks_id=task_id, entities_id=task_values["entities_id"],
                             date_creation=local_now(), rescheduled_taskjob_id=0)
        action_id = conn.execute(insert(schema.taskjobs).values(action_values)).inserted_primary_key[0]
        task = definitions._task_dict(definitions._task_row(conn, task_id))
        task["actions"] = [definitions._action_dict(conn, definitions._action_row(conn, action_id))]
    log.info("package %d deployed by task %d (action %d) to %d actor(s)", package.id, task_id, action_id,
             len(actors))
    return task


def _id_list(values: Any, what: str) -> list[int]:
    if values is None:
        return []
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise DefinitionError(f"{what} must be a list of ids, got {values!r}")
    return [positive_id(value, f"id in {what}") for value in values]
