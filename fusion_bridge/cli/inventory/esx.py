"""``fusion-bridge esx credential|host create|list|show|update|delete``: the ESX servers or
vCenters the ``InventoryComputerESX`` method inventories (``--target credentialip:ID``) and the
credentials the agent logs in with. Passwords are never shown (only whether one is set); when
``create`` is not given ``--password`` it asks for it without echoing. The service is
``services.admin.esx_hosts``.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common, for_group
from fusion_bridge.cli.tasks.definitions import _run, table
from fusion_bridge.services.admin import esx_hosts


@click.group("esx")
@for_group
def esx_group() -> None:
    """ESX hosts to inventory and their credentials."""


@esx_group.group("credential")
@for_group
def credential_group() -> None:
    """Credentials of ESX hosts (user name and password)."""


@esx_group.group("host")
@for_group
def host_group() -> None:
    """ESX servers or vCenters to inventory."""


def _credential_rows(found: list[dict]) -> list[str]:
    return table(["ID", "NAME", "USERNAME", "PASSWORD", "ENTITY"], [
        [c["id"], c["name"], c["username"], c["password"], c["entities_id"]] for c in found], empty="no credentials")


def _host_rows(found: list[dict]) -> list[str]:
    return table(["ID", "NAME", "ADDRESS", "CREDENTIAL", "ENTITY"], [
        [h["id"], h["name"], h["address"], f"{h['credential']['id']} {h['credential']['name'] or ''}".strip(),
         h["entities_id"]] for h in found], empty="no hosts")


def _changes(options: dict) -> dict:
    changes = {name: value for name, value in options.items() if value is not None}
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    return changes


@credential_group.command("create")
@click.option("--name", required=True)
@click.option("--username", required=True)
@click.option("--password", prompt=True, hide_input=True, help="Asked for when not given.")
@click.option("--entity", "entities_id", type=int, default=0, show_default=True)
@click.option("--recursive", "is_recursive", is_flag=True, help="Visible in child entities.")
@click.option("--comment")
@common
def credential_create(name: str, username: str, password: str, database_url: str | None, as_json: bool,
                      **fields) -> None:
    """Create an ESX credential."""
    _run(database_url, as_json, lambda e: esx_hosts.create_credential(e, name, username, password, **fields),
         lambda c: _credential_rows([c]))


@credential_group.command("list")
@common
def credential_list(database_url: str | None, as_json: bool) -> None:
    """List ESX credentials (passwords are not shown)."""
    _run(database_url, as_json, esx_hosts.list_credentials, _credential_rows)


@credential_group.command("show")
@click.argument("credential_id", type=int)
@common
def credential_show(credential_id: int, database_url: str | None, as_json: bool) -> None:
    """Show an ESX credential (its password only as set or not)."""
    _run(database_url, as_json, lambda e: esx_hosts.get_credential(e, credential_id),
         lambda c: _credential_rows([c]))


@credential_group.command("update")
@click.argument("credential_id", type=int)
@click.option("--name")
@click.option("--username")
@click.option("--password")
@click.option("--entity", type=int)
@click.option("--recursive/--not-recursive", default=None)
@click.option("--comment")
@common
def credential_update(credential_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Change an ESX credential."""
    changes = _changes(options)
    _run(database_url, as_json, lambda e: esx_hosts.update_credential(e, credential_id, changes),
         lambda c: _credential_rows([c]))


@credential_group.command("delete")
@click.argument("credential_id", type=int)
@common
def credential_delete(credential_id: int, database_url: str | None, as_json: bool) -> None:
    """Delete an ESX credential (refused while a host uses it)."""
    _run(database_url, as_json, lambda e: esx_hosts.delete_credential(e, credential_id),
         lambda r: f"ESX credential {r['id']} deleted")


@host_group.command("create")
@click.option("--name", required=True)
@click.option("--address", required=True, help="IP address or host name of the ESX server or vCenter.")
@click.option("--credential", "credential_id", type=int, required=True, help="ESX credential id.")
@click.option("--entity", "entities_id", type=int, default=0, show_default=True)
@click.option("--comment")
@common
def host_create(name: str, address: str, credential_id: int, database_url: str | None, as_json: bool,
                **fields) -> None:
    """Add an ESX host; an ESX action targets it as credentialip:ID."""
    _run(database_url, as_json, lambda e: esx_hosts.create_host(e, name, address, credential_id, **fields),
         lambda h: _host_rows([h]))


@host_group.command("list")
@common
def host_list(database_url: str | None, as_json: bool) -> None:
    """List ESX hosts."""
    _run(database_url, as_json, esx_hosts.list_hosts, _host_rows)


@host_group.command("show")
@click.argument("host_id", type=int)
@common
def host_show(host_id: int, database_url: str | None, as_json: bool) -> None:
    """Show an ESX host."""
    _run(database_url, as_json, lambda e: esx_hosts.get_host(e, host_id), lambda h: _host_rows([h]))


@host_group.command("update")
@click.argument("host_id", type=int)
@click.option("--name")
@click.option("--address")
@click.option("--credential", type=int)
@click.option("--entity", type=int)
@click.option("--comment")
@common
def host_update(host_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Change an ESX host."""
    changes = _changes(options)
    _run(database_url, as_json, lambda e: esx_hosts.update_host(e, host_id, changes), lambda h: _host_rows([h]))


@host_group.command("delete")
@click.argument("host_id", type=int)
@common
def host_delete(host_id: int, database_url: str | None, as_json: bool) -> None:
    """Delete an ESX host (refused while an action targets it)."""
    _run(database_url, as_json, lambda e: esx_hosts.delete_host(e, host_id), lambda r: f"ESX host {r['id']} deleted")
