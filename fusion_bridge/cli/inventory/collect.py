"""``fusion-bridge collect``: Collect definitions — ``create|list|show|update|delete`` and their
items, ``add-registry``, ``add-wmi``, ``add-file``, ``remove-item``. A ``collect`` action targets
a collect (``--target collect:ID``). The service is ``services.admin.collect_definitions``.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common, for_group
from fusion_bridge.cli.tasks.definitions import _run, _yes_no, table
from fusion_bridge.domain.text import plural
from fusion_bridge.services.admin import collect_definitions as collects


@click.group("collect")
@for_group
def collect_group() -> None:
    """Collect definitions: registry keys, WMI properties and file searches run by agents."""


def _collect_rows(found: list[dict]) -> list[str]:
    return table(["ID", "NAME", "TYPE", "ACTIVE", "ENTITY", "ITEMS"], [
        [c["id"], c["name"], c["type"], _yes_no(c["is_active"]), c["entities_id"],
         len(c["items"]) if isinstance(c["items"], list) else c["items"]] for c in found], empty="no collects")


def _item_text(kind: str, item: dict) -> str:
    if kind == "registry":
        return f"{item['hive']}{item['path']}{item['key']}"
    if kind == "wmi":
        return f"{item['class']}.{item['properties']}" + (f" ({item['moniker']})" if item.get("moniker") else "")
    filters = [f"{name} {item[name]}" for name in ("regex", "filename", "iname", "sha512", "sha2") if item.get(name)]
    filters += [f"{name.replace('_', ' ')} {item[name]}" for name in ("size_equals", "size_greater", "size_lower")
                if item.get(name)]
    kinds = "files and dirs" if item["files"] and item["dirs"] else "dirs" if item["dirs"] else "files"
    return (f"{kinds} in {item['dir']}{' (recursive)' if item['recursive'] else ''}, at most {item['limit']}"
            + (f"; {', '.join(filters)}" if filters else ""))


def _collect_text(c: dict) -> list[str]:
    lines = [f"collect {c['id']}: {c['name']} ({c['type']})",
             f"  active: {_yes_no(c['is_active'])}   entity: {c['entities_id']}"
             f"   recursive: {_yes_no(c['is_recursive'])}"]
    if c.get("comment"):
        lines.append(f"  comment: {c['comment']}")
    items = c.get("items") or []
    lines.append("items:")
    lines += ["  " + line for line in table(["ID", "NAME", "WHAT"], [
        [item["id"], item["name"], _item_text(c["type"], item)] for item in items])]
    return lines


@collect_group.command("create")
@click.option("--name", required=True)
@click.option("--type", "kind", required=True, type=click.Choice(collects.TYPES), help="What its items look for.")
@click.option("--entity", "entities_id", type=int, default=0, show_default=True)
@click.option("--recursive", "is_recursive", is_flag=True, help="Visible in child entities.")
@click.option("--active/--inactive", "is_active", default=True, show_default=True)
@click.option("--comment")
@common
def collect_create(name: str, kind: str, database_url: str | None, as_json: bool, **fields) -> None:
    """Create a collect; then add its items (add-registry, add-wmi or add-file)."""
    _run(database_url, as_json, lambda e: collects.create_collect(e, name, kind, **fields), _collect_text)


@collect_group.command("list")
@common
def collect_list(database_url: str | None, as_json: bool) -> None:
    """List the collects with their number of items."""
    _run(database_url, as_json, collects.list_collects, _collect_rows)


@collect_group.command("show")
@click.argument("collect_id", type=int)
@common
def collect_show(collect_id: int, database_url: str | None, as_json: bool) -> None:
    """Show a collect with its items."""
    _run(database_url, as_json, lambda e: collects.get_collect(e, collect_id), _collect_text)


@collect_group.command("update")
@click.argument("collect_id", type=int)
@click.option("--name")
@click.option("--type", type=click.Choice(collects.TYPES), help="Only while it has no items.")
@click.option("--entity", type=int)
@click.option("--recursive/--not-recursive", default=None)
@click.option("--active/--inactive", default=None)
@click.option("--comment")
@common
def collect_update(collect_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Change a collect."""
    changes = {name: value for name, value in options.items() if value is not None}
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    _run(database_url, as_json, lambda e: collects.update_collect(e, collect_id, changes), _collect_text)


@collect_group.command("delete")
@click.argument("collect_id", type=int)
@common
def collect_delete(collect_id: int, database_url: str | None, as_json: bool) -> None:
    """Delete a collect with its items and the values computers sent (refused while an action targets it)."""
    _run(database_url, as_json, lambda e: collects.delete_collect(e, collect_id),
         lambda r: f"collect {r['id']} deleted with {plural(r['items'], 'item')}, {plural(r['values'], 'value')}")


def _added(c: dict) -> list[str]:
    return [f"item {c['added_item']} added", *_collect_text(c)]


@collect_group.command("add-registry")
@click.argument("collect_id", type=int)
@click.option("--name", required=True, help="Label of the item.")
@click.option("--path", required=True, help="Key path below the hive, e.g. /SOFTWARE/Vendor/App/.")
@click.option("--key", required=True, help="Value name, or * for every value of the key.")
@click.option("--hive", default=collects.HIVES[0], show_default=True, type=click.Choice(collects.HIVES))
@common
def collect_add_registry(collect_id: int, database_url: str | None, as_json: bool, **fields) -> None:
    """Add a registry value to read (a collect of type registry)."""
    _run(database_url, as_json, lambda e: collects.add_item(e, collect_id, fields), _added)


@collect_group.command("add-wmi")
@click.argument("collect_id", type=int)
@click.option("--name", required=True, help="Label of the item.")
@click.option("--class", "class_", required=True, help="WMI class, e.g. Win32_OperatingSystem.")
@click.option("--properties", required=True, help="One property of the class, e.g. Caption.")
@click.option("--moniker", help="WMI moniker (namespace), when not the default.")
@common
def collect_add_wmi(collect_id: int, class_: str, database_url: str | None, as_json: bool, **fields) -> None:
    """Add a WMI property to read (a collect of type wmi)."""
    fields = {"class": class_, **{name: value for name, value in fields.items() if value is not None}}
    _run(database_url, as_json, lambda e: collects.add_item(e, collect_id, fields), _added)


@collect_group.command("add-file")
@click.argument("collect_id", type=int)
@click.option("--name", required=True, help="Label of the item.")
@click.option("--dir", required=True, help="Directory to search.")
@click.option("--limit", type=int, default=50, show_default=True, help="Files reported at most.")
@click.option("--recursive", is_flag=True, help="Search the subdirectories too.")
@click.option("--regex", help="Path matches this regular expression.")
@click.option("--filename", help="File name (exact).")
@click.option("--iname", help="File name, any case.")
@click.option("--size-equals", type=int, metavar="BYTES")
@click.option("--size-greater", type=int, metavar="BYTES")
@click.option("--size-lower", type=int, metavar="BYTES")
@click.option("--sha512", help="SHA-512 of the content.")
@click.option("--sha2", help="SHA-256 of the content.")
@click.option("--files/--no-files", default=True, show_default=True, help="Report files.")
@click.option("--dirs/--no-dirs", default=False, show_default=True, help="Report directories.")
@common
def collect_add_file(collect_id: int, database_url: str | None, as_json: bool, **fields) -> None:
    """Add a file search (a collect of type file)."""
    fields = {name: value for name, value in fields.items() if value is not None}
    _run(database_url, as_json, lambda e: collects.add_item(e, collect_id, fields), _added)


@collect_group.command("remove-item")
@click.argument("collect_id", type=int)
@click.argument("item_id", type=int)
@common
def collect_remove_item(collect_id: int, item_id: int, database_url: str | None, as_json: bool) -> None:
    """Remove an item of a collect, with the values computers sent for it."""
    _run(database_url, as_json, lambda e: collects.remove_item(e, collect_id, item_id),
         lambda c: [f"item {c['removed_item']} removed with {plural(c['values_removed'], 'value')}",
                    *_collect_text(c)])
