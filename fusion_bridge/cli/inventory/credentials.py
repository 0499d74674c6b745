"""``fusion-bridge credential update|delete|restore`` (SNMP credentials; ``create`` and ``list``
are in ``cli.tasks``) and ``fusion-bridge device credential set|show``: the SNMP credential SNMP
inventory uses for a network device or printer. The service is ``services.admin.snmp_credentials``.
"""

from __future__ import annotations

import click

from fusion_bridge.cli.options import common, for_group
from fusion_bridge.cli.tasks.definitions import _credential_rows, _run
from fusion_bridge.services.admin import snmp_credentials


@click.command("update")
@click.argument("credential_id", type=int)
@click.option("--name", help="At most 64 characters.")
@click.option("--version", type=click.Choice(["1", "2c", "3"]),
              help="SNMP version (changing it drops the former version's fields).")
@click.option("--community", help="Community (versions 1 and 2c).")
@click.option("--username", help="User name (version 3).")
@click.option("--auth-protocol", type=click.Choice(["none", "MD5", "SHA"], case_sensitive=False))
@click.option("--auth-passphrase")
@click.option("--priv-protocol", type=click.Choice(["none", "DES", "AES"], case_sensitive=False))
@click.option("--priv-passphrase")
@common
def credential_update(credential_id: int, database_url: str | None, as_json: bool, **options) -> None:
    """Change an SNMP credential; what is not given stays (passphrases included)."""
    changes = {name: value for name, value in options.items() if value is not None}
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    _run(database_url, as_json, lambda e: snmp_credentials.update_credential(e, credential_id, changes),
         lambda c: _credential_rows([c]))


@click.command("delete")
@click.argument("credential_id", type=int)
@click.option("--purge", is_flag=True, help="Remove the row instead of putting it in GLPI's trash.")
@common
def credential_delete(credential_id: int, purge: bool, database_url: str | None, as_json: bool) -> None:
    """Put an SNMP credential in the trash (or --purge it); refused while a range or device uses it."""
    _run(database_url, as_json, lambda e: snmp_credentials.delete_credential(e, credential_id, purge=purge),
         lambda r: f"SNMP credential {r['id']} {'purged' if r['purged'] else 'put in the trash'}")


@click.command("restore")
@click.argument("credential_id", type=int)
@common
def credential_restore(credential_id: int, database_url: str | None, as_json: bool) -> None:
    """Take an SNMP credential out of the trash."""
    _run(database_url, as_json, lambda e: snmp_credentials.restore_credential(e, credential_id),
         lambda c: _credential_rows([c]))


@click.group()
@for_group
def device() -> None:
    """Network devices and printers: their SNMP credential."""


@device.group("credential")
@for_group
def device_credential() -> None:
    """The SNMP credential SNMP inventory uses for a device."""


def _device_text(d: dict) -> str:
    credential = d["credential"]
    used = (f"SNMP credential {credential['id']} ({credential['name']}, v{credential['version']})"
            if credential else "no SNMP credential (not inventoried from an IP range)")
    return f"{d['itemtype']} {d['id']} ({d['name']}): {used}"




@device_credential.command("set")
@click.argument("device_item", metavar="DEVICE")
@click.argument("credential_id", metavar="CREDENTIAL")
@common
def device_credential_set(device_item: str, credential_id: str, database_url: str | None, as_json: bool) -> None:
    """Set the SNMP credential of DEVICE (networkequipment:ID or printer:ID); CREDENTIAL 'none' clears it."""
    _run(database_url, as_json, lambda e: snmp_credentials.set_device_credential(e, device_item, credential_id),
         _device_text)


@device_credential.command("show")
@click.argument("device_item", metavar="DEVICE")
@common
def device_credential_show(device_item: str, database_url: str | None, as_json: bool) -> None:
    """Show the SNMP credential of DEVICE (networkequipment:ID or printer:ID)."""
    _run(database_url, as_json, lambda e: snmp_credentials.get_device_credential(e, device_item), _device_text)
