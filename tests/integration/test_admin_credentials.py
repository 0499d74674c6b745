"""``credential update|delete|restore`` and ``device credential set|show`` in the CLI and the
API, on SQLite and MariaDB: secrets kept or dropped as the change says and never shown, the
trash and the purge refused while a range or a device uses the credential, and the plugin's
extension row of a device created when GLPI's UI made the device."""

from __future__ import annotations

import schema
from schema.plugin_network import networkequipments as pf_networkequipments
from schema.plugin_network import printers as pf_printers
from tests.helpers.admin_api import call
from tests.helpers.admin_verbs import cli, cli_error, cli_json
from tests.helpers.db import count, insert_row, row, rows

V3 = ["--name", "core v3", "--version", "3", "--username", "monitor", "--auth-protocol", "SHA",
      "--auth-passphrase", "authpass1", "--priv-protocol", "AES", "--priv-passphrase", "privpass1"]


def test_cli_update_keeps_what_is_not_given_and_never_shows_secrets(database_url, engine):
    created = cli_json(database_url, "credential", "create", *V3)
    credential_id = str(created["id"])
    renamed = cli(database_url, "credential", "update", credential_id, "--name", "core <v3>")
    assert "authpass1" not in renamed.output and "privpass1" not in renamed.output
    stored = row(engine, schema.configsecurities, created["id"])
    assert (stored["name"], stored["auth_passphrase"], stored["priv_passphrase"], stored["encryption"]) == \
        ("core &lt;v3&gt;", "authpass1", "privpass1", "2")
    no_privacy = cli_json(database_url, "credential", "update", credential_id, "--priv-protocol", "none")
    assert (no_privacy["priv_protocol"], no_privacy["priv_passphrase_set"], no_privacy["auth_passphrase_set"]) == \
        (None, False, True)
    assert row(engine, schema.configsecurities, created["id"])["priv_passphrase"] == ""
    # Another version drops the former version's fields.
    v2 = cli_json(database_url, "credential", "update", credential_id, "--version", "2c", "--community", "private")
    stored = row(engine, schema.configsecurities, created["id"])
    assert (v2["version"], stored["username"], stored["auth_passphrase"], stored["community"]) == \
        ("2c", "", "", "private")
    error = cli_error(database_url, "credential", "update", credential_id, "--auth-passphrase", "short")
    assert error == "Error: auth passphrase: only for SNMP version 3"
    assert cli_error(database_url, "credential", "update", "99", "--name", "x") == \
        "Error: SNMP credential 99 does not exist"
    assert "nothing to change" in cli(database_url, "credential", "update", credential_id, expect=2).output


def test_cli_delete_to_the_trash_restore_and_purge(database_url, engine):
    credential_id = cli_json(database_url, "credential", "create", "--name", "c", "--version", "2c",
                             "--community", "x")["id"]
    iprange = cli_json(database_url, "iprange", "create", "--name", "r", "--start", "10.0.0.1", "--end", "10.0.0.9",
                       "--credential", str(credential_id))
    error = cli_error(database_url, "credential", "delete", str(credential_id))
    assert error == (f"Error: SNMP credential {credential_id} is used by IP range(s) {iprange['id']}: "
                     "remove it from them before it is deleted")
    cli(database_url, "iprange", "delete", str(iprange["id"]))
    assert cli(database_url, "credential", "delete", str(credential_id)).stdout.strip() == \
        f"SNMP credential {credential_id} put in the trash"
    assert row(engine, schema.configsecurities, credential_id)["is_deleted"] == 1
    assert credential_id not in [c["id"] for c in cli_json(database_url, "credential", "list")]
    refused = cli_error(database_url, "iprange", "create", "--name", "r", "--start", "10.0.0.1", "--end", "10.0.0.9",
                        "--credential", str(credential_id))
    assert "is in the trash" in refused
    assert cli_json(database_url, "credential", "restore", str(credential_id))["is_deleted"] is False
    assert cli(database_url, "credential", "delete", str(credential_id), "--purge").stdout.strip() == \
        f"SNMP credential {credential_id} purged"
    assert count(engine, schema.configsecurities, schema.configsecurities.c.id == credential_id) == 0


def test_cli_device_credential(database_url, engine):
    switch = insert_row(engine, schema.glpi_networkequipments, name="core-sw")
    printer = insert_row(engine, schema.glpi_printers, name="hall")
    insert_row(engine, pf_printers, printers_id=printer, plugin_fusioninventory_configsecurities_id=1)
    assert cli(database_url, "device", "credential", "show", f"networkequipment:{switch}").stdout.strip() == \
        f"NetworkEquipment {switch} (core-sw): no SNMP credential (not inventoried from an IP range)"
    shown = cli(database_url, "device", "credential", "set", f"networkequipment:{switch}", "2").stdout.strip()
    assert shown == f"NetworkEquipment {switch} (core-sw): SNMP credential 2 (Public community v2c, v2c)"
    [extension] = rows(engine, pf_networkequipments)
    assert (extension["networkequipments_id"], extension["plugin_fusioninventory_configsecurities_id"]) == (switch, 2)
    assert cli_json(database_url, "device", "credential", "set", f"printer:{printer}", "none")["credential"] is None
    assert rows(engine, pf_printers)[0]["plugin_fusioninventory_configsecurities_id"] == 0
    # A credential a device uses is not deleted.
    assert "is used by 1 device(s)" in cli_error(database_url, "credential", "delete", "2")
    assert "printer 99 does not exist" in cli_error(database_url, "device", "credential", "set", "printer:99", "1")
    assert "only network devices and printers" in cli_error(database_url, "device", "credential", "set",
                                                            "computer:1", "1")
    assert "SNMP credential 42 does not exist" in cli_error(database_url, "device", "credential", "set",
                                                            f"printer:{printer}", "42")


def test_api_credentials_and_devices(api, engine):
    created = call(api, "POST", "/api/credentials", {"name": "lan", "version": "2c", "community": "c0mm"}, expect=201)
    path = f"/api/credentials/{created['id']}"
    updated = call(api, "PATCH", path, {"community": "other", "name": "lan2"})
    assert (updated["name"], updated["community"]) == ("lan2", "other")
    assert call(api, "PATCH", path, {"colour": 1}, expect=400)["error"].startswith(
        "unknown credential field(s): colour")
    switch = insert_row(engine, schema.glpi_networkequipments, name="sw")
    device = f"/api/devices/networkequipment/{switch}/credential"
    assert call(api, "GET", device)["credential"] is None
    assert call(api, "PATCH", device, {"credential": created["id"]})["credential"]["name"] == "lan2"
    assert call(api, "PATCH", device, {}, expect=400)["error"].startswith("credential is required")
    assert call(api, "DELETE", path, expect=400)["error"].startswith(f"SNMP credential {created['id']} is used by 1")
    assert call(api, "PATCH", device, {"credential": None})["credential"] is None
    assert call(api, "GET", "/api/devices/printer/77/credential", expect=404) == {"error": "printer 77 does not exist"}
    assert call(api, "DELETE", path) == {"id": created["id"], "deleted": True, "purged": False}
    assert call(api, "POST", f"{path}/restore")["is_deleted"] is False
    assert call(api, "DELETE", f"{path}?purge=1")["purged"] is True
    assert call(api, "GET", path, expect=404)["error"] == f"SNMP credential {created['id']} does not exist"
