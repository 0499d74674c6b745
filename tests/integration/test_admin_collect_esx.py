"""Collect definitions (``collect ...``, ``/api/collects``) and ESX hosts with their credentials
(``esx ...``, ``/api/esx``) in the CLI and the API, on SQLite and MariaDB: rows as GLPI's UI
stores them, the jobs the agent then gets, passwords never given back, and what in use cannot be
deleted."""

from __future__ import annotations

from sqlalchemy import insert

import schema
from fusion_bridge.services.rest.collect import collect_jobs
from tests.helpers.admin_api import call
from tests.helpers.admin_verbs import cli, cli_error, cli_json
from tests.helpers.db import count, row, rows
from tests.helpers.inventory_rows import add_agent


def _jobs(engine, collect_id):
    class Run:
        items_id, uniqid = collect_id, "u1"

    with engine.begin() as conn:
        return collect_jobs(conn, Run, 0)


def test_cli_collect_definitions(database_url, engine):
    registry = cli_json(database_url, "collect", "create", "--name", "App <version>", "--type", "registry")
    assert row(engine, schema.collects, registry["id"])["name"] == "App &lt;version&gt;"
    added = cli(database_url, "collect", "add-registry", str(registry["id"]), "--name", "version", "--path",
                "SOFTWARE\\Vendor\\App", "--key", "Version").stdout
    assert "HKEY_LOCAL_MACHINE/SOFTWARE/Vendor/App/Version" in added
    assert [job["path"] for job in _jobs(engine, registry["id"])] == ["HKEY_LOCAL_MACHINE/SOFTWARE/Vendor/App/Version"]

    wmi = cli_json(database_url, "collect", "create", "--name", "os", "--type", "wmi", "--inactive")
    cli(database_url, "collect", "add-wmi", str(wmi["id"]), "--name", "caption", "--class", "Win32_OperatingSystem",
        "--properties", "Caption")
    [job] = _jobs(engine, wmi["id"])
    assert (job["function"], job["class"], job["properties"]) == ("getFromWMI", "Win32_OperatingSystem", ["Caption"])
    assert "one WMI name" in cli_error(database_url, "collect", "add-wmi", str(wmi["id"]), "--name", "x", "--class",
                                       "Win32_OperatingSystem", "--properties", "Caption, Version")

    files = cli_json(database_url, "collect", "create", "--name", "logs", "--type", "file")
    shown = cli_json(database_url, "collect", "add-file", str(files["id"]), "--name", "big logs", "--dir", "/var/log",
                     "--recursive", "--iname", "*.LOG", "--size-greater", "1000", "--limit", "5")
    [item] = shown["items"]
    assert (item["dir"], item["recursive"], item["iname"], item["size_greater"], item["limit"], item["files"]) == \
        ("/var/log", True, "*.LOG", 1000, 5, True)
    [job] = _jobs(engine, files["id"])
    assert job["filter"] == {"is_file": "1", "is_dir": "0", "sizeGreater": "1000", "iname": "*.LOG"}
    assert "give one size filter" in cli_error(database_url, "collect", "add-file", str(files["id"]), "--name", "x",
                                               "--dir", "/", "--size-greater", "1", "--size-lower", "9")
    assert "both off" in cli_error(database_url, "collect", "add-file", str(files["id"]), "--name", "x", "--dir", "/",
                                   "--no-files")
    text = cli(database_url, "collect", "show", str(files["id"])).stdout
    assert "files in /var/log (recursive), at most 5; iname *.LOG, size greater 1000" in text
    listing = cli(database_url, "collect", "list").stdout.splitlines()
    assert listing[0].split() == ["ID", "NAME", "TYPE", "ACTIVE", "ENTITY", "ITEMS"]
    assert len(listing) == 4 and listing[2].split()[2:4] == ["wmi", "no"]

    with engine.begin() as conn:
        conn.execute(insert(schema.collects_files_contents).values(
            computers_id=1, plugin_fusioninventory_collects_files_id=item["id"], pathfile="/var/log/a.log", size=2000))
    assert "type" in cli_error(database_url, "collect", "update", str(files["id"]), "--type", "wmi")
    updated = cli_json(database_url, "collect", "update", str(files["id"]), "--name", "all logs", "--inactive")
    assert (updated["name"], updated["is_active"]) == ("all logs", False)
    removed = cli(database_url, "collect", "remove-item", str(files["id"]), str(item["id"])).stdout
    assert f"item {item['id']} removed with 1 value" in removed
    assert count(engine, schema.collects_files) == count(engine, schema.collects_files_contents) == 0
    assert cli_error(database_url, "collect", "remove-item", str(files["id"]), str(item["id"])) == \
        f"Error: collect {files['id']} has no item {item['id']}"

    task = cli_json(database_url, "task", "create", "--name", "t")
    cli(database_url, "action", "add", "--task", str(task["id"]), "--name", "c", "--method", "collect",
        "--target", f"collect:{registry['id']}", "--actor", f"agent:{add_agent(engine)}")
    assert "is a target of action(s)" in cli_error(database_url, "collect", "delete", str(registry["id"]))
    assert cli(database_url, "collect", "delete", str(wmi["id"])).stdout.strip() == \
        f"collect {wmi['id']} deleted with 1 item, 0 values"
    assert count(engine, schema.collects_wmis) == 0


def test_api_collect_definitions(api, engine):
    created = call(api, "POST", "/api/collects", {"name": "reg", "type": "registry", "entity": 0, "active": True},
                   expect=201)
    path = f"/api/collects/{created['id']}"
    assert call(api, "POST", "/api/collects", {"name": "x", "type": "ldap"}, expect=400)["error"] == \
        "type must be one of registry, wmi, file, got 'ldap'"
    with_item = call(api, "POST", f"{path}/items", {"name": "v", "path": "/SOFTWARE/App/", "key": "*"}, expect=201)
    assert with_item["items"][0]["hive"] == "HKEY_LOCAL_MACHINE"
    assert call(api, "POST", f"{path}/items", {"name": "v", "dir": "/"}, expect=400)["error"].startswith(
        "unknown registry item field(s): dir")
    assert call(api, "PATCH", path, {"comment": "why"})["comment"] == "why"
    assert [c["items"] for c in call(api, "GET", "/api/collects")["collects"]] == [1]
    assert call(api, "GET", path)["items"][0]["key"] == "*"
    item_id = with_item["added_item"]
    assert call(api, "DELETE", f"{path}/items/{item_id}")["values_removed"] == 0
    assert call(api, "DELETE", path) == {"id": created["id"], "deleted": True, "items": 0, "values": 0}
    assert call(api, "GET", path, expect=404) == {"error": f"collect {created['id']} does not exist"}


def test_cli_esx_hosts_and_credentials(database_url, engine):
    created = cli(database_url, "esx", "credential", "create", "--name", "vcenter", "--username", "root",
                  input="s3cr<et>\n")
    assert "s3cr" not in created.output.replace("Password: ", "")
    [stored] = rows(engine, schema.credentials)
    assert (stored["password"], stored["itemtype"]) == ("s3cr<et>", "PluginFusioninventoryInventoryComputerESX")
    credential_id = str(stored["id"])
    listing = cli(database_url, "esx", "credential", "list").stdout
    assert "s3cr" not in listing and " set " in listing + " "
    assert cli_json(database_url, "esx", "credential", "show", credential_id)["password"] == "set"
    cli(database_url, "esx", "credential", "update", credential_id, "--password", "n3w", "--username", "admin")
    changed = row(engine, schema.credentials, stored["id"])
    assert (changed["password"], changed["username"]) == ("n3w", "admin")

    host = cli_json(database_url, "esx", "host", "create", "--name", "esx1", "--address", "esx1.example.com",
                    "--credential", credential_id)
    assert host["address"] == "esx1.example.com" and host["credential"] == {"id": stored["id"], "name": "vcenter"}
    assert "address must be an IP address or a host name" in cli_error(
        database_url, "esx", "host", "create", "--name", "x", "--address", "not a host", "--credential", credential_id)
    assert "ESX credential 99 does not exist" in cli_error(
        database_url, "esx", "host", "create", "--name", "x", "--address", "10.0.0.1", "--credential", "99")
    assert cli_json(database_url, "esx", "host", "update", str(host["id"]), "--address", "10.0.0.5")["address"] == \
        "10.0.0.5"
    assert "10.0.0.5" in cli(database_url, "esx", "host", "list").stdout
    assert cli_json(database_url, "esx", "host", "show", str(host["id"]))["name"] == "esx1"
    assert "is used by host(s)" in cli_error(database_url, "esx", "credential", "delete", credential_id)

    task = cli_json(database_url, "task", "create", "--name", "t")
    action = cli_json(database_url, "action", "add", "--task", str(task["id"]), "--name", "esx", "--method",
                      "InventoryComputerESX", "--target", f"credentialip:{host['id']}", "--actor",
                      f"agent:{add_agent(engine)}")
    assert "is a target of action(s)" in cli_error(database_url, "esx", "host", "delete", str(host["id"]))
    cli(database_url, "action", "remove", str(action["id"]), "--yes")
    assert cli(database_url, "esx", "host", "delete", str(host["id"])).stdout.strip() == \
        f"ESX host {host['id']} deleted"
    assert cli(database_url, "esx", "credential", "delete", credential_id).stdout.strip() == \
        f"ESX credential {credential_id} deleted"
    assert count(engine, schema.credentials) == count(engine, schema.credentialips) == 0


def test_api_esx(api, engine):
    credential = call(api, "POST", "/api/esx/credentials", {"name": "v", "username": "u", "password": "p@ss"},
                      expect=201)
    assert credential["password"] == "set" and "p@ss" not in str(call(api, "GET", "/api/esx/credentials"))
    assert call(api, "POST", "/api/esx/credentials", {"name": "v", "username": "u"}, expect=400) == \
        {"error": "password is required"}
    host = call(api, "POST", "/api/esx/hosts", {"name": "h", "address": "192.0.2.10", "credential": credential["id"]},
                expect=201)
    old_names = call(api, "POST", "/api/esx/hosts", {"name": "h2", "ip": "192.0.2.11",
                                                     "plugin_fusioninventory_credentials_id": credential["id"]},
                     expect=201)
    assert old_names["address"] == "192.0.2.11"
    assert call(api, "PATCH", f"/api/esx/hosts/{host['id']}", {"name": "renamed"})["name"] == "renamed"
    assert call(api, "GET", f"/api/esx/hosts/{host['id']}")["address"] == "192.0.2.10"
    assert len(call(api, "GET", "/api/esx/hosts")["hosts"]) == 2
    assert call(api, "PATCH", f"/api/esx/credentials/{credential['id']}", {"password": "other"})["password"] == "set"
    assert row(engine, schema.credentials, credential["id"])["password"] == "other"
    assert call(api, "DELETE", f"/api/esx/credentials/{credential['id']}", expect=400)["error"].startswith(
        f"ESX credential {credential['id']} is used by host(s)")
    for created in (host, old_names):
        assert call(api, "DELETE", f"/api/esx/hosts/{created['id']}")["deleted"] is True
    assert call(api, "DELETE", f"/api/esx/credentials/{credential['id']}")["deleted"] is True
    assert call(api, "GET", f"/api/esx/credentials/{credential['id']}", expect=404)["error"] == \
        f"ESX credential {credential['id']} does not exist"
