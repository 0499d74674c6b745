"""The Deploy admin API under /api/deploy/, on SQLite and MariaDB: the token, the streamed upload
and its limit, a package built and deployed through the API, and clear refusals."""

from __future__ import annotations

import hashlib
import io
import json
import os

import pytest

import schema
from fusion_bridge.app import create_app
from fusion_bridge.adapters.deploy_repository import PART_SIZE, FileRepository
from fusion_bridge.services.scheduling.preparation import prepare_runs
from tests.helpers.admin_api import ADMIN_TOKEN, AUTH, call
from tests.helpers.db import count, row
from tests.helpers.inventory_rows import add_computer_with_agent
from tests.helpers.task_rows import NEW_PACKAGE_JSON


@pytest.fixture
def repository(tmp_path):
    return tmp_path / "repo"


def make_api(database_url, repository, **settings):
    app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0, "ADMIN_TOKEN": ADMIN_TOKEN,
                      "DEPLOY_REPOSITORY": str(repository), **settings})
    return app


@pytest.fixture
def api(database_url, repository):
    app = make_api(database_url, repository)
    yield app.test_client()
    app.extensions["fusion_bridge"].dispose()


def upload(api, data, name="setup.sh", expect=201, headers=AUTH, **query):
    response = api.post("/api/deploy/files", query_string={"name": name, **query}, data=data, headers=headers,
                        content_type="application/octet-stream")
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/deploy/packages"), ("POST", "/api/deploy/files"), ("POST", "/api/deploy/packages/1/deploy"),
    ("GET", "/api/deploy/nowhere")])
def test_the_token_is_required(api, engine, method, path):
    response = api.open(path, method=method, data=b"x", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.get_json() == {"error": "missing or wrong admin token"}
    assert count(engine, schema.deployfiles) == 0


def test_without_a_configured_token_the_deploy_api_is_disabled(client):
    response = client.get("/api/deploy/packages", headers=AUTH)
    assert response.status_code == 403 and "FUSION_BRIDGE_ADMIN_TOKEN" in response.get_json()["error"]


def test_build_and_deploy_a_package_through_the_api(api, engine, repository):
    content = os.urandom(PART_SIZE + 10)
    stored = upload(api, io.BytesIO(content), name="tool.bin")
    sha = hashlib.sha512(content).hexdigest()
    assert stored["sha512"] == sha and stored["filesize"] == len(content)
    assert stored["parts"] == 2 and stored["in_repository"]
    assert FileRepository(repository).read_file(sha) == content
    assert upload(api, content, name="tool.bin", expect=200)["added"] is False
    assert [f["id"] for f in call(api, "GET", "/api/deploy/files")["files"]] == [stored["id"]]

    package = call(api, "POST", "/api/deploy/packages", {"name": "Tool", "comment": "c"}, expect=201)
    pid = package["id"]
    assert package["json"] == NEW_PACKAGE_JSON
    base = f"/api/deploy/packages/{pid}"
    call(api, "POST", base + "/checks", {"type": "fileMissing", "path": "/opt/tool.bin", "return": "skip"},
         expect=201)
    call(api, "POST", base + "/files", {"file": sha, "p2p": True}, expect=201)
    after = call(api, "POST", base + "/actions", {"type": "copy", "from": "tool.bin", "to": "/opt/"}, expect=201)
    assert after["files"] == [{"sha512": sha, "name": "tool.bin", "p2p": 1, "p2p-retention-duration": 0,
                               "uncompress": 0}]
    assert after["actions"] == [{"copy": {"from": "tool.bin", "to": "/opt/", "name": ""}}]
    assert json.loads(row(engine, schema.deploypackages, pid)["json"])["jobs"]["checks"][0]["return"] == "skip"
    listed = call(api, "GET", "/api/deploy/packages")["packages"]
    assert [(p["id"], p["checks"], p["associatedFiles"], p["actions"]) for p in listed] == [(pid, 1, 1, 1)]

    computer, agent = add_computer_with_agent(engine, "pc09")
    response = api.post(base + "/deploy", json={"computers": [computer], "task_name": "Tool everywhere"},
                        headers=AUTH)
    assert response.status_code == 201, response.get_data(as_text=True)
    task = response.get_json()
    assert response.headers["Location"] == f"/api/tasks/{task['id']}"
    assert task["name"] == "Tool everywhere" and task["actions"][0]["method"] == "deployinstall"
    assert call(api, "GET", f"/api/tasks/{task['id']}")["actions"][0]["targets"][0]["name"] == "Tool"
    assert prepare_runs(engine, task_id=task["id"]).prepared == 1
    assert call(api, "GET", base)["deployed_by_actions"] == [task["actions"][0]["id"]]
    refused = call(api, "DELETE", base, expect=400)
    assert "is deployed by action(s)" in refused["error"]


def test_uploads_are_bounded(database_url, repository, engine):
    app = make_api(database_url, repository, DEPLOY_MAX_UPLOAD_BYTES=1000)
    api = app.test_client()
    try:
        answer = upload(api, b"x" * 1001, expect=413)
        assert answer == {"error": "request body larger than 1000 bytes"}
        assert upload(api, b"x" * 1000)["filesize"] == 1000
        # Sent chunked, without a Content-Length: cut at the limit while streaming.
        chunked = {"Transfer-Encoding": "chunked", **AUTH}
        response = api.post("/api/deploy/files?name=c.bin", input_stream=io.BytesIO(b"y" * 5000), headers=chunked,
                            environ_overrides={"wsgi.input_terminated": True})
        assert response.status_code == 413
        # Other calls keep the small JSON limit.
        response = api.post("/api/deploy/packages", data=b"{" + b" " * (1024 * 1024) + b"}", headers=AUTH,
                            content_type="application/json")
        assert response.status_code == 413
    finally:
        app.extensions["fusion_bridge"].dispose()
    assert count(engine, schema.deployfiles) == 1


@pytest.mark.parametrize("query, body, message", [
    ({}, b"data", "a file name is required"),
    ({"name": "../x"}, b"data", "must be a plain name"),
    ({"name": "a.bin", "entities_id": "x"}, b"data", "entity must be a number"),
    ({"name": "a.bin", "entities_id": "4"}, b"data", "entity 4 does not exist"),
    ({"name": "a.bin"}, b"", "send the file as the request body"),
])
def test_bad_uploads_are_refused(api, engine, query, body, message):
    response = api.post("/api/deploy/files", query_string=query, data=body, headers=AUTH)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert count(engine, schema.deployfiles) == 0


def test_refusals_are_clear(api, engine):
    assert call(api, "GET", "/api/deploy/packages/42", expect=404) == {"error": "package 42 does not exist"}
    assert "package name is required" in call(api, "POST", "/api/deploy/packages", {}, expect=400)["error"]
    assert "unknown package field(s): colour" in call(api, "POST", "/api/deploy/packages",
                                                      {"name": "p", "colour": 1}, expect=400)["error"]
    pid = call(api, "POST", "/api/deploy/packages", {"name": "p"}, expect=201)["id"]
    base = f"/api/deploy/packages/{pid}"
    assert "expected a JSON object" in call(api, "POST", base + "/checks", [1], expect=400)["error"]
    assert "unknown check type" in call(api, "POST", base + "/checks", {"type": "x", "path": "/"},
                                        expect=400)["error"]
    assert "unknown file field(s): size" in call(api, "POST", base + "/files", {"file": 1, "size": 2},
                                                 expect=400)["error"]
    assert "say which file" in call(api, "POST", base + "/files", {}, expect=400)["error"]
    assert "file 7 does not exist" == call(api, "POST", base + "/files", {"file": 7}, expect=404)["error"]
    call(api, "POST", base + "/actions", {"type": "mkdir", "list": ["/a"]}, expect=201)
    assert "computers must be a list of ids" in call(api, "POST", base + "/deploy", {"computers": "3"},
                                                     expect=400)["error"]
    assert "unknown deploy field(s): where" in call(api, "POST", base + "/deploy", {"where": [1]},
                                                    expect=400)["error"]
    assert "PluginFusioninventoryAgent 3 does not exist" in call(api, "POST", base + "/deploy", {"agents": [3]},
                                                                  expect=400)["error"]
    assert call(api, "PUT", base, {}, expect=405)["error"].startswith("method PUT not allowed")
    assert call(api, "DELETE", base + "/actions/0")["actions"] == []
    assert "has no action #0" in call(api, "DELETE", base + "/actions/0", expect=400)["error"]
    assert count(engine, schema.tasks) == 0
    assert call(api, "DELETE", base) == {"id": pid, "deleted": True}


def test_mirrors(api, engine):
    mirror = call(api, "POST", "/api/deploy/mirrors", {"name": "Nantes", "url": "http://nantes.example/parts",
                                                       "is_active": False, "locations_id": 2}, expect=201)
    assert (mirror["is_active"], mirror["locations_id"]) == (False, 2)
    assert [m["name"] for m in call(api, "GET", "/api/deploy/mirrors")["mirrors"]] == ["Nantes"]
    assert "mirror url is required" in call(api, "POST", "/api/deploy/mirrors", {"name": "x"}, expect=400)["error"]
    assert call(api, "DELETE", f"/api/deploy/mirrors/{mirror['id']}") == {"id": mirror["id"], "deleted": True}
    gone = call(api, "DELETE", f"/api/deploy/mirrors/{mirror['id']}", expect=404)
    assert gone["error"].endswith("does not exist")
    assert count(engine, schema.deploymirrors) == 0


def test_an_unwritable_repository_is_a_503(database_url, tmp_path, engine):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    app = make_api(database_url, blocker)
    try:
        answer = upload(app.test_client(), b"data", expect=503)
    finally:
        app.extensions["fusion_bridge"].dispose()
    assert answer["error"].startswith("deploy repository unavailable")
    assert count(engine, schema.deployfiles) == 0
