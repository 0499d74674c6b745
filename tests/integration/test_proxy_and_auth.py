"""Behind a reverse proxy (FUSION_BRIDGE_TRUSTED_PROXIES) and agent Basic authentication
(FUSION_BRIDGE_AGENT_AUTH), through the whole app: the XML and REST fast paths and Flask."""

from __future__ import annotations

import base64
import logging

import bcrypt
import pytest
from sqlalchemy import select

import schema
from fusion_bridge.app import create_app
from schema.constants import ItemType, Method
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.cli import run
from tests.helpers.inventory_rows import add_agent
from tests.helpers.task_rows import add_job, add_run, add_task

DEVICE = "proxied-2026-12-04-10-00-00"
PROXY_HEADERS = {"X-Forwarded-For": "203.0.113.9, 198.51.100.20", "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "bridge.example:8443"}


@pytest.fixture
def make_app(database_url, deploy_repository):
    made = []

    def make(**settings):
        app = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0,
                          "DEPLOY_REPOSITORY": str(deploy_repository.root), **settings})
        made.append(app)
        return app.test_client()

    yield make
    for app in made:
        app.extensions["fusion_bridge"].dispose()


def recorded_address(engine, device):
    with engine.connect() as conn:
        return conn.execute(
            select(schema.bridge_agentaddresses.c.address)
            .join(schema.agents, schema.agents.c.id == schema.bridge_agentaddresses.c.plugin_fusioninventory_agents_id)
            .where(schema.agents.c.device_id == device)).scalar()


def prepare_collect_run(engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
        add_task(conn, 1)
        add_job(conn, 1, f'[{{"{ItemType.COLLECT}":"1"}}]', '[{"PluginFusioninventoryAgent":"3"}]',
                Method.COLLECT, job_id=1)
        add_run(conn, 1, 1, 3, ItemType.COLLECT, 1, 0)


def get_config(client, peer, headers):
    return client.get(f"/plugins/fusioninventory/?action=getConfig&machineid={DEVICE}&task%5BCollect%5D=2.6",
                      headers=headers, environ_base={"REMOTE_ADDR": peer})


def test_trusted_proxy_headers_give_agent_address_and_https_remote(make_app, engine, caplog):
    client = make_app(TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")
    prepare_collect_run(engine)
    reply = client.post("/plugins/fusioninventory/", data=prolog(DEVICE), headers={**ZLIB_HEADERS, **PROXY_HEADERS},
                        environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert reply.status_code == 200
    assert recorded_address(engine, DEVICE) == "198.51.100.20"  # not the proxy, not the spoofed entry
    remote = get_config(client, "10.1.2.3", PROXY_HEADERS).json["schedule"][0]["remote"]
    assert remote == "https://bridge.example:8443/plugins/fusioninventory/b/collect/"
    # Flask's own refusals log the client too.
    with caplog.at_level(logging.WARNING, logger="fusion_bridge.http"):
        assert client.get("/plugins/fusioninventory/?action=nope", headers=PROXY_HEADERS,
                          environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 400
    assert "from 198.51.100.20 refused" in caplog.text


def test_same_headers_from_an_untrusted_address_are_ignored(make_app, engine):
    client = make_app(TRUSTED_PROXIES="127.0.0.1")
    prepare_collect_run(engine)
    client.post("/plugins/fusioninventory/", data=prolog(DEVICE), headers={**ZLIB_HEADERS, **PROXY_HEADERS},
                environ_base={"REMOTE_ADDR": "192.0.2.50"})
    assert recorded_address(engine, DEVICE) == "192.0.2.50"
    remote = get_config(client, "192.0.2.50", PROXY_HEADERS).json["schedule"][0]["remote"]
    assert remote == "http://localhost/plugins/fusioninventory/b/collect/"


def test_without_trusted_proxies_headers_are_ignored(make_app, engine):
    client = make_app()
    client.post("/plugins/fusioninventory/", data=prolog(DEVICE), headers={**ZLIB_HEADERS, **PROXY_HEADERS},
                environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert recorded_address(engine, DEVICE) == "127.0.0.1"


def test_bad_trusted_proxies_setting_fails_at_start(database_url):
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'proxy.example'"):
        create_app({"DATABASE_URL": database_url, "TRUSTED_PROXIES": "proxy.example"})


# --- agent authentication --------------------------------------------------------------------


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def htpasswd(tmp_path):
    path = tmp_path / "agents.htpasswd"
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    path.write_text(f"agent:{hashed}\n")
    return str(path)


AGENT_CALLS = [
    ("POST", "/plugins/fusioninventory/"),
    ("GET", f"/plugins/fusioninventory/?action=getConfig&machineid={DEVICE}&task%5BCollect%5D=2.6"),
    ("GET", f"/plugins/fusioninventory/b/deploy/?action=getJobs&machineid={DEVICE}"),
    ("GET", f"/glpi/plugins/fusioninventory/b/deploy/?action=getFilePart&machineid={DEVICE}&file=/a/ab/abc"),
    ("GET", f"/plugins/fusioninventory/b/collect/?action=getJobs&machineid={DEVICE}"),
    ("GET", f"/plugins/fusioninventory/b/esx/?action=getJobs&machineid={DEVICE}"),
]


@pytest.mark.parametrize("method,path", AGENT_CALLS)
def test_agent_calls_need_credentials(make_app, engine, htpasswd, method, path):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
    client = make_app(AGENT_AUTH=htpasswd, AGENT_AUTH_REALM="agents")
    data = prolog(DEVICE) if method == "POST" else None
    headers = ZLIB_HEADERS if method == "POST" else {}
    for credentials in ({}, basic("agent", "wrong"), basic("nobody", "s3cret")):
        refused = client.open(path, method=method, data=data, headers={**headers, **credentials})
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"] == 'Basic realm="agents"'
    allowed = client.open(path, method=method, data=data, headers={**headers, **basic("agent", "s3cret")})
    assert allowed.status_code != 401


def test_authenticated_prolog_answered_and_admin_api_untouched(make_app, engine, htpasswd):
    client = make_app(AGENT_AUTH=htpasswd)
    reply = client.post("/plugins/fusioninventory/", data=prolog(DEVICE),
                        headers={**ZLIB_HEADERS, **basic("agent", "s3cret")})
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/x-compress-zlib"
    assert client.get("/api/tasks").status_code != 401  # its own bearer token decides


def test_missing_htpasswd_file_fails_at_start(database_url, tmp_path):
    with pytest.raises(ValueError, match="AGENT_AUTH: cannot read"):
        create_app({"DATABASE_URL": database_url, "AGENT_AUTH": str(tmp_path / "absent")})


@pytest.mark.parametrize("variable,value,message", [
    ("FUSION_BRIDGE_TRUSTED_PROXIES", "127.0.0.1 nginx.local",
     "Error: FUSION_BRIDGE_TRUSTED_PROXIES: 'nginx.local' is not an address or network"),
    ("FUSION_BRIDGE_FORWARDED_HEADER", "x-real-ip",
     "Error: FUSION_BRIDGE_FORWARDED_HEADER must be one of x-forwarded, forwarded, got 'x-real-ip'"),
    ("FUSION_BRIDGE_AGENT_AUTH", "/nonexistent/agents.htpasswd",
     "Error: FUSION_BRIDGE_AGENT_AUTH: cannot read '/nonexistent/agents.htpasswd': No such file or directory"),
])
def test_serve_refuses_unusable_edge_settings_in_one_line(database_url, variable, value, message):
    result = run(database_url, "serve", "--no-scheduler", expect=1, env={variable: value})
    assert result.output.strip().splitlines() == [message]
