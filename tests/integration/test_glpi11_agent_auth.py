"""GLPI 11's agent authentication and inventory switch in front of the agent endpoints, on a
database made as ``db init --schema glpiinventory --glpi 11`` makes it (docs/glpi10-protocol.md
§8.3, §8.4; docs/glpi-secrets.md §5): ``b/*`` through the WSGI fast path (getJobs) and the Flask
views (setLog), ``getConfig`` and agent POSTs."""

from __future__ import annotations

import base64
import logging
import zlib

import pytest

from fusion_bridge.adapters.db import make_engine
from fusion_bridge.adapters.glpi_key import new_key_file
from fusion_bridge.adapters.secret_codec import glpi_secrets
from fusion_bridge.app import create_app
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.inventory_rows import add_agent
from tests.helpers.layouts import set_inventory_config

DEVICE = "pc-2026-01-01-00-00-00"
ESX_JOBS = f"/plugins/glpiinventory/b/esx/?action=getJobs&machineid={DEVICE}"  # WSGI fast path
ESX_LOG = f"/marketplace/glpiinventory/b/esx/?action=setLog&machineid={DEVICE}&uuid=u&code=ok"  # Flask view
DEPLOY_JOBS = f"/glpi/plugins/glpiinventory/b/deploy/?action=getJobs&machineid={DEVICE}&version=2.6"
GET_CONFIG = f"/plugins/glpiinventory/?action=getConfig&machineid={DEVICE}&task[Deploy]=2.6"
CHALLENGE = 'Basic realm="basic"'


@pytest.fixture
def glpi11(glpi11_url, tmp_path):
    """(app, engine) on a GLPI 11 database with a known agent, the key in a generated file."""
    url = glpi11_url
    key_file = str(tmp_path / "glpicrypt.key")
    new_key_file(key_file)
    engine = make_engine(url)
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
    app = create_app({"DATABASE_URL": url, "SETTINGS_TTL": 0, "LOG_INTERVAL": 0, "GLPI_KEY_FILE": key_file})
    yield app, engine, glpi_secrets(key_file)
    app.extensions["fusion_bridge"].dispose()
    engine.dispose()


def basic(login: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def configure(engine, **values) -> None:
    with engine.begin() as conn:
        set_inventory_config(conn, **values)


def test_none_lets_agents_in(glpi11):
    app, engine, _key = glpi11
    client = app.test_client()
    assert app.extensions["fusion_bridge"].serving.get().glpi == 11
    assert (client.get(ESX_JOBS).status_code, client.get(ESX_JOBS).data) == (200, b"{}")
    assert client.get(DEPLOY_JOBS).status_code == 200


def test_basic_requires_the_glpi_login_and_decrypted_password(glpi11, caplog):
    app, engine, key = glpi11
    configure(engine, auth_required="basic", basic_auth_login="agents",
              basic_auth_password=key.conceal("s3cret pw"))
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        for path in (ESX_JOBS, ESX_LOG, DEPLOY_JOBS, GET_CONFIG):
            missing = client.get(path)
            assert (missing.status_code, missing.headers["WWW-Authenticate"]) == (401, CHALLENGE), path
            assert b"agent authentication required" in missing.data
            wrong = client.get(path, headers=basic("agents", "wrong"))
            assert (wrong.status_code, wrong.headers["WWW-Authenticate"]) == (401, CHALLENGE)
        posted = client.post("/plugins/glpiinventory/", data=prolog(DEVICE), headers=ZLIB_HEADERS)
        assert posted.status_code == 401
    assert client.get(ESX_JOBS, headers=basic("agents", "s3cret pw")).data == b"{}"
    assert client.get(DEPLOY_JOBS, headers=basic("agents", "s3cret pw")).status_code == 200
    reply = client.post("/plugins/glpiinventory/", data=prolog(DEVICE),
                        headers={**ZLIB_HEADERS, **basic("agents", "s3cret pw")})
    assert reply.status_code == 200 and zlib.decompress(reply.data).startswith(b'<?xml version="1.0"?>\n<REPLY>')
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused (401): agent authentication failed: wrong login or password" in logged
    assert "s3cret" not in logged and "wrong" not in logged.replace("wrong login", "") and "YWdlbnRz" not in logged


def test_client_credentials_is_refused_with_the_reason(glpi11):
    app, engine, _key = glpi11
    configure(engine, auth_required="client_credentials")
    response = app.test_client().get(ESX_JOBS, headers={"Authorization": "Bearer abc"})
    assert response.status_code == 401 and b"not supported by fusion-bridge" in response.data


def test_a_password_that_does_not_decrypt_refuses_every_agent(glpi11, tmp_path):
    app, engine, _key = glpi11
    other = new_key_file(str(tmp_path / "other.key"))
    configure(engine, auth_required="basic", basic_auth_login="agents", basic_auth_password=other.encrypt("pw"))
    response = app.test_client().get(ESX_LOG, headers=basic("agents", "pw"))
    assert response.status_code == 503 and b"does not decrypt with the configured GLPI key" in response.data


def test_inventory_disabled_closes_the_rest_calls_too(glpi11):
    app, engine, _key = glpi11
    configure(engine, enabled_inventory="0")
    client = app.test_client()
    for path in (ESX_JOBS, ESX_LOG, DEPLOY_JOBS, GET_CONFIG):
        assert (client.get(path).status_code, client.get(path).data) == (403, b"Inventory is disabled"), path
    posted = client.post("/front/inventory.php", data=prolog(DEVICE), headers=ZLIB_HEADERS)
    assert (posted.status_code, posted.data) == (403, b"Inventory is disabled")
