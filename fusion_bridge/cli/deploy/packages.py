"""``fusion-bridge deploy``: the Deploy file repository, packages, mirrors, and deploying.

``deploy file add|list``, ``deploy package create|list|show|delete|add-check|add-action|
attach-file|remove-item``, ``deploy mirror add|list|remove`` and ``deploy run``. Like the task
commands, each takes ``--database URL`` and ``--json``; the services in
``fusion_bridge.services.deploy_*`` validate and write. Commands that touch file contents take
``--repository DIR`` (default ``$FUSION_BRIDGE_DEPLOY_REPOSITORY``, the server's setting).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fusion_bridge.cli.options import common, for_group, load_config
from fusion_bridge.cli.tasks.definitions import _engine, _run, _yes_no, item_text, table
from fusion_bridge.domain.text import plural
from fusion_bridge.services.deploy import content
from fusion_bridge.services.deploy import mirrors
from fusion_bridge.services.deploy import packages
from fusion_bridge.services.admin.base import ui_text
from fusion_bridge.adapters.deploy_repository import FileRepository

repository_option = click.option(
    "--repository", "repository_dir", metavar="DIR", envvar="FUSION_BRIDGE_DEPLOY_REPOSITORY",
    help="Deploy file repository (default: $FUSION_BRIDGE_DEPLOY_REPOSITORY, else the server's default).")


def _repository(directory: str | None) -> FileRepository:
    return FileRepository(directory or load_config().deploy_repository)


@click.group()
@for_group
def deploy() -> None:
    """Deploy software: files, packages, mirrors, and deploying packages to computers."""


# --- files -----------------------------------------------------------------------------------


@deploy.group("file")
@for_group
def file_group() -> None:
    """Add files to the repository and list them."""


def _size(size: int) -> str:
    for unit, step in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if size >= step:
            return f"{size / step:.1f} {unit}"
    return f"{size} B"


def _file_rows(files: list[dict]) -> list[str]:
    return table(["ID", "NAME", "SIZE", "SHA512", "IN REPOSITORY"], [
        [f["id"], f["name"], _size(f["filesize"]), f["sha512"][:16] + "…",
         _yes_no(f["in_repository"]) if "in_repository" in f else "?"] for f in files])


@file_group.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--name", help="Name in GLPI and on the agents (default: the file's name).")
@click.option("--entity", "entities_id", type=int, default=0, show_default=True)
@click.option("--comment")
@repository_option
@common
def file_add(path: Path, name: str | None, entities_id: int, comment: str | None, repository_dir: str | None,
             database_url: str | None, as_json: bool) -> None:
    """Store a file in the repository (1 MiB gzip parts) and register it for packages."""
    repository = _repository(repository_dir)
    size = path.stat().st_size
    with _engine(database_url) as engine:
        # The bar goes to stderr, so --json output stays clean; hidden for small files.
        with click.progressbar(length=size, label=f"storing {path.name}", file=click.get_text_stream("stderr"),
                               hidden=as_json or size < 8 * 1024 * 1024) as bar:
            try:
                stored = mirrors.store_file(engine, repository, path, name or path.name, entities_id=entities_id,
                                            comment=comment, progress=bar.update)
            except OSError as error:
                raise click.ClickException(f"cannot store {path} in the repository {repository.root}: "
                                           f"{error.strerror or error}") from None
    if as_json:
        click.echo(json.dumps(stored, indent=2, ensure_ascii=False))
        return
    verb = "stored" if stored["added"] else "already in the repository"
    click.echo(f"file {stored['id']} {verb}: {stored['name']}, {_size(stored['filesize'])} in "
               f"{plural(stored['parts'], 'part')}, sha512 {stored['sha512']}")


@file_group.command("list")
@repository_option
@common
def file_list(repository_dir: str | None, database_url: str | None, as_json: bool) -> None:
    """List the registered files, and whether the repository has their parts."""
    repository = _repository(repository_dir)
    _run(database_url, as_json, lambda e: mirrors.list_files(e, repository), _file_rows)


# --- packages --------------------------------------------------------------------------------


@deploy.group("package")
@for_group
def package_group() -> None:
    """Create packages, fill them with checks, files and actions, list, show and delete them."""


def _package_rows(found: list[dict]) -> list[str]:
    return table(["ID", "NAME", "ENTITY", "CHECKS", "FILES", "ACTIONS", "MODIFIED"], [
        [p["id"], p["name"], p["entities_id"], p.get("checks", "?"), p.get("associatedFiles", "?"),
         p.get("actions", "?"), p["date_mod"] if "error" not in p else f"{p['date_mod']}  unreadable: {p['error']}"]
        for p in found])


def _check_text(check: dict) -> str:
    value = f" {check.get('value')}" if check.get("value") not in (None, "") else ""
    name = f"  ({ui_text(check['name'])})" if check.get("name") else ""
    return f"{check.get('type')} {check.get('path')}{value}, if not: {check.get('return')}{name}"


def _action_text(action: dict) -> str:
    [(kind, body)] = action.items() if isinstance(action, dict) and len(action) == 1 else [("?", {})]
    if not isinstance(body, dict):
        return kind
    if kind == "cmd":
        text = f"cmd: {ui_text(body.get('exec'))}"
        checks = ", ".join(f"{c.get('type')} {' '.join(map(str, c.get('values', [])))}"
                           for c in body.get("retChecks", []))
        text += f"  [{checks}]" if checks else ""
    elif kind in ("move", "copy"):
        text = f"{kind}: {body.get('from')} -> {body.get('to')}"
    else:
        text = f"{kind}: {' '.join(map(str, body.get('list', [])))}"
    return text + (f"  ({ui_text(body['name'])})" if body.get("name") else "")


def _file_text(entry: dict) -> str:
    return (f"{entry.get('name')}  sha512 {entry['sha512'][:16]}…  p2p {_yes_no(entry.get('p2p'))}"
            f" (keep {entry.get('p2p-retention-duration', 0)} min)  uncompress {_yes_no(entry.get('uncompress'))}")


def _package_text(p: dict) -> list[str]:
    lines = [f"package {p['id']}: {p['name']}",
             f"  entity: {p['entities_id']}   recursive: {_yes_no(p['is_recursive'])}   modified: {p['date_mod']}"]
    if p.get("comment"):
        lines.append(f"  comment: {p['comment']}")
    for title, entries, text in (("checks", p["checks"], _check_text), ("files", p["files"], _file_text),
                                 ("actions", p["actions"], _action_text)):
        lines.append(f"{title}:" if entries else f"{title}: (none)")
        lines += [f"  #{n} {text(entry)}" for n, entry in enumerate(entries)]
    if p.get("deployed_by_actions"):
        lines.append("deployed by action(s): " + ", ".join(map(str, p["deployed_by_actions"])))
    return lines


@package_group.command("create")
@click.option("--name", required=True)
@click.option("--entity", "entities_id", type=int, default=0, show_default=True)
@click.option("--comment")
@click.option("--recursive", "is_recursive", is_flag=True, help="Visible in child entities.")
@common
def package_create(name: str, database_url: str | None, as_json: bool, **fields) -> None:
    """Create an empty package."""
    _run(database_url, as_json, lambda e: packages.create_package(e, name, **fields), _package_text)


@package_group.command("list")
@common
def package_list(database_url: str | None, as_json: bool) -> None:
    """List packages with the number of their checks, files and actions."""
    _run(database_url, as_json, packages.list_packages, _package_rows)


@package_group.command("show")
@click.argument("package_id", type=int)
@common
def package_show(package_id: int, database_url: str | None, as_json: bool) -> None:
    """Show a package's checks, files and actions, numbered as remove-item takes them."""
    _run(database_url, as_json, lambda e: packages.get_package(e, package_id), _package_text)


@package_group.command("delete")
@click.argument("package_id", type=int)
@click.confirmation_option(prompt="Delete the package?")
@common
def package_delete(package_id: int, database_url: str | None, as_json: bool) -> None:
    """Delete a package (refused while an action deploys it; its files stay in the repository)."""
    _run(database_url, as_json, lambda e: packages.delete_package(e, package_id),
         lambda r: f"package {r['id']} deleted")


@package_group.command("add-check")
@click.argument("package_id", type=int)
@click.option("--type", "kind", required=True, type=click.Choice(content.CHECK_TYPES), help="What to check.")
@click.option("--path", required=True, help="File, directory, disk or registry key/value.")
@click.option("--value", help="Size, free space, sha512, registry value or type, for the checks that take one.")
@click.option("--unit", type=click.Choice(list(content.SIZE_UNITS), case_sensitive=False),
              help="Unit of a size (default B) or of free space (MB or GB, default MB).")
@click.option("--name", help="Label shown in reports.")
@click.option("--return", "returned", type=click.Choice(content.CHECK_RETURNS), default="error", show_default=True,
              help="What a failing check does.")
@common
def package_add_check(package_id: int, kind: str, path: str, value: str | None, unit: str | None, name: str | None,
                      returned: str, database_url: str | None, as_json: bool) -> None:
    """Add a check run before the package's files are fetched and its actions run."""
    check = {"type": kind, "path": path, "value": value, "unit": unit, "name": name, "return": returned}
    _run(database_url, as_json, lambda e: packages.add_check(e, package_id, check), _package_text)


@package_group.command("add-action")
@click.argument("package_id", type=int)
@click.option("--type", "kind", required=True, type=click.Choice(content.ACTION_TYPES))
@click.option("--exec", "command", help="Command line (cmd).")
@click.option("--from", "source", help="Source glob (move, copy).")
@click.option("--to", "target", help="Destination (move, copy).")
@click.option("--path", "paths", multiple=True, help="Directory (mkdir, delete); repeat for several.")
@click.option("--name", help="Label shown in reports.")
@click.option("--log-lines", type=int, help="Output lines reported (cmd): -1 all, 0 none (default 10).")
@click.option("--ok-code", multiple=True, type=int, help="Exit code meaning success (cmd); repeat.")
@click.option("--error-code", multiple=True, type=int, help="Exit code meaning failure (cmd); repeat.")
@click.option("--ok-pattern", multiple=True, help="Output pattern meaning success (cmd); repeat.")
@click.option("--error-pattern", multiple=True, help="Output pattern meaning failure (cmd); repeat.")
@common
def package_add_action(package_id: int, kind: str, command: str | None, source: str | None, target: str | None,
                       paths: tuple[str, ...], name: str | None, log_lines: int | None, ok_code, error_code,
                       ok_pattern, error_pattern, database_url: str | None, as_json: bool) -> None:
    """Add an action, run in order in the job's work directory (where the files are)."""
    action: dict[str, Any] = {"type": kind, "name": name}
    given = {"exec": command, "from": source, "to": target, "list": list(paths) or None, "logLineLimit": log_lines}
    # One retCheck per value, as GLPI's form makes them.
    checks = [{"type": check_type, "values": [value]}
              for check_type, values in (("okCode", ok_code), ("errorCode", error_code),
                                         ("okPattern", ok_pattern), ("errorPattern", error_pattern))
              for value in values]
    if checks:
        given["retChecks"] = checks
    action.update({key: value for key, value in given.items() if value is not None})
    _run(database_url, as_json, lambda e: packages.add_action(e, package_id, action), _package_text)


@package_group.command("attach-file")
@click.argument("package_id", type=int)
@click.argument("file")
@click.option("--name", help="Name of the file on the agent (default: its registered name).")
@click.option("--p2p", is_flag=True, help="Let agents fetch the parts from their peers.")
@click.option("--p2p-retention", "p2p_retention_minutes", type=int, default=0, show_default=True,
              help="Minutes agents keep the parts for peers.")
@click.option("--uncompress", is_flag=True, help="Extract the archive on the agent (needs 7z there).")
@repository_option
@common
def package_attach_file(package_id: int, file: str, repository_dir: str | None, database_url: str | None,
                        as_json: bool, **options) -> None:
    """Attach a repository FILE (its id or sha512) to a package."""
    repository = _repository(repository_dir)
    _run(database_url, as_json,
         lambda e: packages.attach_file(e, package_id, file, repository=repository, **options), _package_text)


@package_group.command("remove-item")
@click.argument("package_id", type=int)
@click.argument("kind", type=click.Choice(["check", "action", "file"]))
@click.argument("index", type=int)
@common
def package_remove_item(package_id: int, kind: str, index: int, database_url: str | None, as_json: bool) -> None:
    """Remove the check, action or file numbered INDEX in `package show`."""
    _run(database_url, as_json, lambda e: packages.remove_entry(e, package_id, kind, index), _package_text)


# --- mirrors ---------------------------------------------------------------------------------


@deploy.group("mirror")
@for_group
def mirror_group() -> None:
    """Add, list and remove the mirrors agents fetch file parts from."""


def _mirror_rows(found: list[dict]) -> list[str]:
    return table(["ID", "NAME", "ACTIVE", "ENTITY", "RECURSIVE", "LOCATION", "URL"], [
        [m["id"], m["name"], _yes_no(m["is_active"]), m["entities_id"], _yes_no(m["is_recursive"]),
         m["locations_id"] or "-", m["url"]] for m in found])


@mirror_group.command("add")
@click.option("--name", required=True)
@click.option("--url", required=True, help="Base URL of the parts, e.g. http://files.example.com/deploy/.")
@click.option("--entity", "entities_id", type=int, default=0, show_default=True)
@click.option("--recursive", "is_recursive", is_flag=True, help="Also for child entities.")
@click.option("--location", "locations_id", type=int, default=0, help="GLPI location id it serves.")
@click.option("--active/--inactive", "is_active", default=True, show_default=True)
@click.option("--comment")
@common
def mirror_add(name: str, url: str, database_url: str | None, as_json: bool, **fields) -> None:
    """Add a mirror."""
    _run(database_url, as_json, lambda e: mirrors.add_mirror(e, name, url, **fields), lambda m: _mirror_rows([m]))


@mirror_group.command("list")
@common
def mirror_list(database_url: str | None, as_json: bool) -> None:
    """List mirrors."""
    _run(database_url, as_json, mirrors.list_mirrors, _mirror_rows)


@mirror_group.command("remove")
@click.argument("mirror_id", type=int)
@common
def mirror_remove(mirror_id: int, database_url: str | None, as_json: bool) -> None:
    """Remove a mirror."""
    _run(database_url, as_json, lambda e: mirrors.remove_mirror(e, mirror_id), lambda r: f"mirror {r['id']} removed")


# --- run -------------------------------------------------------------------------------------


@deploy.command("run")
@click.argument("package_id", type=int)
@click.option("--computer", "computers", type=int, multiple=True, metavar="ID", help="Computer id; repeat.")
@click.option("--group", "groups", type=int, multiple=True, metavar="ID", help="GLPI group id; repeat.")
@click.option("--deploygroup", "deploygroups", type=int, multiple=True, metavar="ID",
              help="Deploy group id (static or dynamic); repeat.")
@click.option("--agent", "agents", type=int, multiple=True, metavar="ID", help="Agent id; repeat.")
@click.option("--task-name", help="Name of the task (default: Deploy <package name>).")
@click.option("--entity", "entities_id", type=int, help="Entity of the task (default: the package's).")
@click.option("--inactive", is_flag=True, help="Create the task inactive (enable it later).")
@click.option("--again-after-success", "reprepare_if_successful", is_flag=True,
              help="Deploy again on every preparation even where it succeeded (default: once per agent).")
@common
def deploy_run(package_id: int, inactive: bool, database_url: str | None, as_json: bool, **targets) -> None:
    """Deploy PACKAGE_ID: a task with one deployinstall action run by the given computers, groups and
    agents; the next preparation (every minute under `serve`) hands it to their agents."""

    def text(task: dict) -> list[str]:
        [action] = task["actions"]
        state = "active" if task["is_active"] else "inactive (run `fusion-bridge task enable`)"
        return [f"task {task['id']} {task['name']!r} created, {state}",
                f"  action {action['id']}: deployinstall of {', '.join(map(item_text, action['targets']))}",
                f"  on: {', '.join(map(item_text, action['actors']))}"]

    _run(database_url, as_json, lambda e: packages.deploy_package(e, package_id, active=not inactive, **targets),
         text)
