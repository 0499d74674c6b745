"""Replay the real agent's recorded traffic (fixtures/cases) against the app.

Every case was recorded from the unmodified FusionInventory agent 2.6 by fixtures/record.py,
and every expected reply is the byte-exact answer of FusionInventory for GLPI 9.5+4.2 that the
real agent accepted. For each case the requests are POSTed through ``app.test_client()`` in
the recorded order, with the recorded Content-Type and User-Agent, and the reply status,
Content-Type and body must equal the recorded ones (zlib: same bytes, header 78 9C; gzip:
same payload, since the gzip header carries a timestamp; plain: same bytes). Then the
database must hold what the plugin would have written.
"""

from __future__ import annotations

import difflib
import gzip
import json
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, inspect, select

from fusion_bridge.app import create_app

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "cases"
AGENTS = "glpi_plugin_fusioninventory_agents"
INVENTORIES = "glpi_plugin_fusionbridge_inventories"
ENDPOINTS = ("/plugins/fusioninventory/", "/glpi/plugins/fusioninventory/",
             "/plugins/fusioninventory/front/communication.php", "/ocsinventory")
# QUERY -> key of the agent's `version` JSON (docs/plugin-semantics.md §3)
VERSION_KEYS = {"NETDISCOVERY": "NETWORKDISCOVERY", "SNMPQUERY": "NETWORKINVENTORY"}


@dataclass(frozen=True)
class Exchange:
    folder: str
    kind: str
    query: str
    method: str
    path: str
    content_type: str
    user_agent: str
    body: bytes
    xml: bytes
    status: int
    reply_content_type: str
    reply_encoding: str
    reply_body: bytes
    reply_xml: bytes


@dataclass(frozen=True)
class Case:
    name: str
    meta: dict
    exchanges: tuple[Exchange, ...]

    @property
    def deviceid(self) -> str:
        return self.meta["deviceid"]

    @property
    def user_agent(self) -> str:
        return self.exchanges[0].user_agent


def case_names() -> list[str]:
    return sorted(path.parent.name for path in CASES_DIR.glob("*/case.json"))


@lru_cache(maxsize=None)
def load_case(name: str) -> Case:
    folder = CASES_DIR / name
    meta = json.loads((folder / "case.json").read_text())
    exchanges = []
    for entry in meta["exchanges"]:
        sub = folder / entry["dir"]
        request = json.loads((sub / "request.json").read_text())
        reply = json.loads((sub / "expected_reply.json").read_text())
        body = (sub / "request.body").read_bytes()
        xml_file = sub / "request.xml"
        exchanges.append(Exchange(
            folder=f"{name}/{entry['dir']}", kind=entry["kind"], query=request["query"],
            method=request["method"], path=request["path"], content_type=request["content_type"],
            user_agent=request["user_agent"], body=body,
            xml=xml_file.read_bytes() if xml_file.exists() else body,
            status=reply["status"], reply_content_type=reply["content_type"],
            reply_encoding=reply["encoding"],
            reply_body=(sub / "expected_reply.body").read_bytes(),
            reply_xml=(sub / "expected_reply.xml").read_bytes(),
        ))
    return Case(name, meta, tuple(bridge_expectation(exchange) for exchange in exchanges))


def bridge_expectation(exchange: Exchange) -> Exchange:
    """The recorded plugin reply, less the one deliberate difference of the bridge.

    The plugin puts every SNMP credential it knows in each SNMPQUERY OPTION; the bridge sends
    only the credentials the OPTION's devices use (AUTHSNMP_ID). Nothing else may differ.
    """
    if b"<NAME>SNMPQUERY</NAME>" not in exchange.reply_xml:
        return exchange
    lines = exchange.reply_xml.split(b"\n")
    used = {line.split(b'AUTHSNMP_ID="')[1].split(b'"')[0] for line in lines if b"AUTHSNMP_ID=" in line}
    kept = [line for line in lines
            if b"<AUTHENTICATION " not in line or line.split(b'ID="')[1].split(b'"')[0] in used]
    xml = b"\n".join(kept)
    assert exchange.reply_encoding == "zlib", "the SNMPQUERY cases were recorded with zlib"
    return replace(exchange, reply_xml=xml, reply_body=zlib.compress(xml, 6))


def test_fixtures_are_present():
    assert {"prolog_zlib_send", "inventory_zlib", "prolog_plain", "inventory_plain", "prolog_gzip",
            "netdiscovery", "snmpquery"} <= set(case_names()), f"fixtures missing in {CASES_DIR}"


# --- helpers -----------------------------------------------------------------------------

def decode(body: bytes) -> bytes:
    if body[:2] == b"\x1f\x8b":
        return gzip.decompress(body)
    if body[:2] == b"\x78\x9c" or body[:1] == b"\x78":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return body
    return body


def xml_diff(expected: bytes, got: bytes) -> str:
    lines = difflib.unified_diff(expected.decode("utf-8", "replace").splitlines(),
                                 got.decode("utf-8", "replace").splitlines(), "expected", "got", lineterm="")
    return "\n".join(lines)


def compare(exchange: Exchange, response) -> list[str]:
    """Differences between the recorded reply and the app's, as readable lines."""
    where = f"{exchange.folder} ({exchange.kind})"
    problems = []
    if response.status_code != exchange.status:
        problems.append(f"{where}: status {response.status_code}, expected {exchange.status}")
    content_type = response.headers.get("Content-Type")
    if content_type != exchange.reply_content_type:
        problems.append(f"{where}: Content-Type {content_type!r}, expected {exchange.reply_content_type!r}")
    if "server-type" not in response.headers:
        problems.append(f"{where}: no server-type header")
    body = response.get_data()
    got_xml = decode(body)
    if exchange.reply_encoding == "zlib":
        if not body.startswith(b"\x78\x9c"):
            problems.append(f"{where}: zlib reply must start with 78 9C, starts with {body[:2].hex(' ')!r}")
        if body != exchange.reply_body:
            if got_xml == exchange.reply_xml:
                problems.append(f"{where}: same XML but different zlib bytes ({len(body)} vs "
                                f"{len(exchange.reply_body)} bytes; expected "
                                f"{exchange.reply_body[:12].hex(' ')}…, got {body[:12].hex(' ')}…)")
            else:
                problems.append(f"{where}: reply XML differs:\n{xml_diff(exchange.reply_xml, got_xml)}")
    elif exchange.reply_encoding == "gzip":
        if not body.startswith(b"\x1f\x8b"):
            problems.append(f"{where}: gzip reply must start with 1F 8B, starts with {body[:2].hex(' ')!r}")
        if got_xml != decode(exchange.reply_body):
            problems.append(f"{where}: reply XML differs:\n{xml_diff(exchange.reply_xml, got_xml)}")
    elif body != exchange.reply_body:
        problems.append(f"{where}: reply body differs:\n{xml_diff(exchange.reply_body, body)}")
    return problems


def post(client, exchange: Exchange, path: str | None = None):
    assert exchange.method == "POST"
    return client.post(path or exchange.path, data=exchange.body,
                       headers={"Content-Type": exchange.content_type, "User-Agent": exchange.user_agent})


def reflect(engine, name: str) -> Table:
    if not inspect(engine).has_table(name):
        pytest.fail(f"table {name} does not exist in {engine.url.render_as_string(hide_password=True)}")
    return Table(name, MetaData(), autoload_with=engine)


def seed(engine, rows: list[dict]) -> None:
    """Upsert the case's db_seed rows by id (columns the table does not have are left out)."""
    # Reflect first: on SQLite every transaction of the app's engines is BEGIN IMMEDIATE, so a
    # second connection opened inside the transaction below would wait for its lock.
    tables = {name: reflect(engine, name) for name in dict.fromkeys(item["table"] for item in rows)}
    with engine.begin() as conn:
        for item in rows:
            table = tables[item["table"]]
            values = {key: value for key, value in item["row"].items() if key in table.c}
            exists = conn.execute(select(table.c.id).where(table.c.id == values["id"])).first()
            if exists:
                conn.execute(table.update().where(table.c.id == values["id"]).values(values))
            else:
                conn.execute(table.insert().values(values))


def agent_rows(engine, deviceid: str) -> list[dict]:
    agents = reflect(engine, AGENTS)
    with engine.connect() as conn:
        result = conn.execute(select(agents).where(agents.c.device_id == deviceid))
        return [dict(row._mapping) for row in result]


def the_agent(engine, case: Case) -> dict:
    rows = agent_rows(engine, case.deviceid)
    assert len(rows) == 1, f"{case.name}: expected one agent row for {case.deviceid}, found {len(rows)}"
    return rows[0]


def versions(agent: dict) -> dict:
    raw = agent["version"]
    assert raw, f"agent {agent['device_id']}: empty version column"
    try:
        return json.loads(raw)
    except ValueError:
        pytest.fail(f"agent {agent['device_id']}: version is not JSON: {raw!r}")


def tag_text(xml: bytes, tag: str) -> str | None:
    text = xml.decode("utf-8", "replace")
    start = text.find(f"<{tag}>")
    if start < 0:
        return None
    end = text.find(f"</{tag}>", start)
    return text[start + len(tag) + 2:end]


def replay(client, case: Case, problems: list[str]) -> None:
    for exchange in case.exchanges:
        problems.extend(compare(exchange, post(client, exchange)))


def replay_with_prerequisites(client, engine, case: Case) -> list[str]:
    """Replay the cases listed in "after" (their problems are reported by their own test), then ``case``."""
    ignored: list[str] = []
    for name in case.meta.get("after", []):
        before = load_case(name)
        if before.meta.get("db_seed"):
            seed(engine, before.meta["db_seed"])
        replay(client, before, ignored)
    problems: list[str] = []
    replay(client, case, problems)
    return problems


@pytest.fixture
def make_client(database_url, engine):
    """Seed the database for a case, then build the app (so no cached setting predates the seed)."""
    apps = []

    def build(case: Case):
        if case.meta.get("db_seed"):
            seed(engine, case.meta["db_seed"])
        app = create_app({"DATABASE_URL": database_url})
        apps.append(app)
        return app.test_client()

    yield build
    for app in apps:
        runtime = app.extensions.get("fusion_bridge")
        if runtime is not None and hasattr(runtime, "engine"):
            runtime.engine.dispose()


# --- tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", case_names())
def test_replies_match_the_plugin(name, make_client, engine):
    case = load_case(name)
    client = make_client(case)
    problems = replay_with_prerequisites(client, engine, case)
    assert not problems, f"{name}: {len(problems)} difference(s) with the recorded plugin replies:\n" + \
        "\n".join(problems)


@pytest.mark.parametrize("name", [name for name in case_names() if name.startswith("prolog_")])
def test_prolog_registers_the_agent(name, make_client, engine):
    case = load_case(name)
    client = make_client(case)
    replay_with_prerequisites(client, engine, case)
    agent = the_agent(engine, case)
    expected = {"device_id": case.deviceid, "name": case.deviceid, "useragent": case.user_agent,
                "token": "12345678", "entities_id": 0, "threads_networkdiscovery": 0,
                "threads_networkinventory": 0}
    got = {key: agent.get(key) for key in expected}
    assert got == expected
    assert agent["last_contact"] is not None, "last_contact not set by the PROLOG"


@pytest.mark.parametrize("name", [name for name in case_names() if name.startswith("inventory_")])
def test_inventory_is_stored(name, make_client, engine):
    case = load_case(name)
    client = make_client(case)
    replay_with_prerequisites(client, engine, case)
    agent = the_agent(engine, case)
    inventory_xml = case.exchanges[-1].xml
    client_version = tag_text(inventory_xml, "VERSIONCLIENT")
    assert client_version and client_version.startswith("FusionInventory-Agent_")
    assert versions(agent) == {"INVENTORY": client_version.removeprefix("FusionInventory-Agent_")}
    assert agent["useragent"] == case.user_agent
    assert agent["last_contact"] is not None

    inventories = reflect(engine, INVENTORIES)
    agent_columns = [column for column in inventories.c if column.name.endswith("agents_id")]
    assert agent_columns, f"{INVENTORIES} has no *agents_id column: {list(inventories.c.keys())}"
    with engine.connect() as conn:
        rows = conn.execute(select(inventories).where(agent_columns[0] == agent["id"])).all()
    assert rows, f"no row in {INVENTORIES} for agent {agent['id']}"
    contents = [zlib.decompress(row._mapping["content"]) for row in rows]
    assert inventory_xml in contents, (
        f"no stored inventory of agent {agent['id']} decompresses to the recorded XML "
        f"({len(inventory_xml)} bytes; stored: {[len(content) for content in contents]} bytes)")


@pytest.mark.parametrize("name", [name for name in case_names()
                                  if any(ex.query in VERSION_KEYS for ex in load_case(name).exchanges)])
def test_network_messages_record_the_module_version(name, make_client, engine):
    case = load_case(name)
    client = make_client(case)
    replay_with_prerequisites(client, engine, case)
    agent = the_agent(engine, case)
    expected = {}
    for exchange in case.exchanges:
        module_version = tag_text(exchange.xml, "MODULEVERSION")
        if exchange.query in VERSION_KEYS and module_version:
            expected[VERSION_KEYS[exchange.query]] = module_version
    assert expected, "the case has no MODULEVERSION"
    assert versions(agent) == expected
    assert agent["useragent"] == case.user_agent
    assert agent["token"] == "12345678"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_agent_endpoint_answers_the_prolog(path, make_client, engine):
    case = load_case("prolog_zlib_send")
    client = make_client(case)
    exchange = case.exchanges[0]
    problems = compare(exchange, post(client, exchange, path))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [name for name in case_names() if load_case(name).meta.get("db_seed")])
def test_network_job_states(name, make_client, engine):
    """PROLOG hands the PREPARED job out (state 1 SERVER_HAS_SENT_DATA), END finishes it (3)."""
    case = load_case(name)
    jobstates = [item["row"] for item in case.meta["db_seed"]
                 if item["table"] == "glpi_plugin_fusioninventory_taskjobstates"]
    client = make_client(case)
    table = reflect(engine, "glpi_plugin_fusioninventory_taskjobstates")

    def states() -> list[int]:
        with engine.connect() as conn:
            return [conn.execute(select(table.c.state).where(table.c.id == row["id"])).scalar_one()
                    for row in jobstates]

    prolog, *messages = case.exchanges
    assert prolog.query == "PROLOG"
    post(client, prolog)
    assert states() == [1] * len(jobstates), "state after the PROLOG handed the job out"
    for exchange in messages:
        post(client, exchange)
    assert states() == [3] * len(jobstates), "state after the END messages"
