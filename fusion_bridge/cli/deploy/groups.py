"""``fusion-bridge deploy group create|list|show|update|add-computer|remove-computer|delete``:
the computers Deploy and Collect actions take as actors (``--actor deploygroup:ID``) and
Wake-on-LAN as targets.

A static group lists its computers. A dynamic group is a criterion the bridge evaluates at
each preparation — the computer's name (GLPI's "contains" text: ``^`` anchors the start,
``$`` the end, ``%`` is any text), its entity (with ``--entity-recursive``, sub-entities too),
its location, whether it has an agent — stored as GLPI stores a dynamic group's search, so
GLPI's UI shows it. The service is ``services.admin.deploy_groups``.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common, for_group
from fusion_bridge.cli.tasks.definitions import _run, table
from fusion_bridge.services.deploy import groups as deploy_groups


@click.group("group")
@for_group
def group_group() -> None:
    """Static and dynamic groups of computers."""


def _criterion_text(criterion: dict | None) -> str:
    if not criterion:
        return "-"
    parts = []
    if criterion["computer_name"]:
        parts.append(f"name contains {criterion['computer_name']!r}")
    if criterion["entity"] is not None:
        parts.append(f"entity {criterion['entity']}" + (" and below" if criterion["entity_recursive"] else ""))
    if criterion["location"] is not None:
        parts.append(f"location {criterion['location']}")
    if criterion["with_agent"]:
        parts.append("has an agent")
    return " and ".join(parts)


def _group_rows(found: list[dict]) -> list[str]:
    return table(["ID", "NAME", "TYPE", "COMPUTERS", "CRITERION"], [
        [g["id"], g["name"], g["type"].lower(), g["computer_count"],
         _criterion_text(g["criterion"]) if g["type"].upper() == "DYNAMIC" and g["criterion"] else
         ("-" if g["type"].upper() == "STATIC" else g["evaluated_by"])] for g in found], empty="no deploy groups")


def _group_text(g: dict) -> list[str]:
    lines = [f"deploy group {g['id']}: {g['name']} ({g['type'].lower()})"]
    if g["type"].upper() == "DYNAMIC":
        lines.append(f"  criterion: {_criterion_text(g['criterion']) if g['criterion'] else g['evaluated_by']}")
    if g.get("comment"):
        lines.append(f"  comment: {g['comment']}")
    lines.append(f"  computers ({g['computer_count']}): "
                 + (", ".join(f"{c['id']} {c['name'] or ''}".strip() for c in g.get("computers", [])) or "none"))
    return lines


def criterion_options(function):
    for decorator in reversed((
        click.option("--computer-name", metavar="TEXT",
                     help="Dynamic: the name contains TEXT (^ anchors the start, $ the end, % is any text)."),
        click.option("--entity", metavar="ID", help="Dynamic: computers of this entity ('' clears it)."),
        click.option("--entity-recursive/--entity-only", default=None, help="Dynamic: and of its sub-entities."),
        click.option("--location", metavar="ID", help="Dynamic: computers at this location ('' clears it)."),
        click.option("--with-agent/--with-or-without-agent", default=None,
                     help="Dynamic: only computers that have an agent."),
    )):
        function = decorator(function)
    return function


@group_group.command("create")
@click.option("--name", required=True)
@click.option("--static", "kind", flag_value="static", help="A list of computers (--computer).")
@click.option("--dynamic", "kind", flag_value="dynamic", help="A criterion the bridge evaluates.")
@click.option("--computer", "computers", type=int, multiple=True, metavar="ID", help="Static: a computer; repeat.")
@criterion_options
@click.option("--comment")
@common
def group_create(name: str, kind: str | None, computers: tuple[int, ...], database_url: str | None,
                 as_json: bool, **fields) -> None:
    """Create a static group (--static --computer ID ...) or a dynamic one (--dynamic and criteria)."""
    if kind is None:
        raise click.UsageError("say --static or --dynamic")
    comment = fields.pop("comment")
    criterion = {name_: value for name_, value in fields.items() if value is not None}
    _run(database_url, as_json,
         lambda e: deploy_groups.create_group(e, name, kind, comment=comment, computers=list(computers), **criterion),
         _group_text)


@group_group.command("list")
@common
def group_list(database_url: str | None, as_json: bool) -> None:
    """List deploy groups with their number of computers."""
    _run(database_url, as_json, deploy_groups.list_groups, _group_rows)


@group_group.command("show")
@click.argument("group_id", type=int)
@common
def group_show(group_id: int, database_url: str | None, as_json: bool) -> None:
    """Show a group: its criterion and the computers it holds now."""
    _run(database_url, as_json, lambda e: deploy_groups.get_group(e, group_id), _group_text)


@group_group.command("update")
@click.argument("group_id", type=int)
@click.option("--name")
@click.option("--comment")
@criterion_options
@common
def group_update(group_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Change a group's name, comment, or a dynamic group's criterion ('' clears a criterion field)."""
    changes = {name: value for name, value in options.items() if value is not None}
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    _run(database_url, as_json, lambda e: deploy_groups.update_group(e, group_id, changes), _group_text)


@group_group.command("add-computer")
@click.argument("group_id", type=int)
@click.argument("computers", type=int, nargs=-1, required=True)
@common
def group_add_computer(group_id: int, computers: tuple[int, ...], database_url: str | None, as_json: bool) -> None:
    """Add computers to a static group."""
    _run(database_url, as_json, lambda e: deploy_groups.add_computers(e, group_id, list(computers)), _group_text)


@group_group.command("remove-computer")
@click.argument("group_id", type=int)
@click.argument("computers", type=int, nargs=-1, required=True)
@common
def group_remove_computer(group_id: int, computers: tuple[int, ...], database_url: str | None,
                          as_json: bool) -> None:
    """Remove computers from a static group."""
    _run(database_url, as_json, lambda e: deploy_groups.remove_computers(e, group_id, list(computers)), _group_text)


@group_group.command("delete")
@click.argument("group_id", type=int)
@common
def group_delete(group_id: int, database_url: str | None, as_json: bool) -> None:
    """Delete a group (refused while an action uses it)."""
    _run(database_url, as_json, lambda e: deploy_groups.delete_group(e, group_id),
         lambda r: f"deploy group {r['id']} deleted")
