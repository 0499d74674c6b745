"""A GLPI 10 + glpiinventory database served as GLPI 10 serves agents (docs/glpi10-protocol.md §8):
the PROLOG reply's form and frequency, CONTACT into ``glpi_agents``, no agent made at PROLOG,
SNMP v3 passphrases and ESX passwords through the GLPI key, ``enabled_inventory``."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy import func, insert, select, text, update

import schema
from fusion_bridge.adapters.glpi_key import new_key_file
from fusion_bridge.adapters.secret_codec import codec_of, glpi_secrets
from fusion_bridge.services.admin import network, snmp_credentials
from schema.constants import ItemType, Method, Module, TaskjobLogState as Log, TaskjobState as State
from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.inventory_rows import add_agent
from tests.helpers.layouts import GLPIINVENTORY, set_inventory_config
from tests.helpers.recorded_glpi10 import AGENT_ID, exchange
from tests.helpers.task_rows import add_esx_host, add_iprange, add_job, add_run, add_task, run_logs, run_state

pytestmark = pytest.mark.parametrize("database_url", [
    pytest.param(("sqlite", GLPIINVENTORY), id="sqlite-glpiinventory"),
    pytest.param(("mariadb", GLPIINVENTORY), id="mariadb-glpiinventory", marks=pytest.mark.mariadb),
], indirect=True)

DEVICE = "pc-2026-01-01-00-00-00"
UNDECRYPTABLE = "does not decrypt with the configured GLPI key"
SCENARIO_02 = "02-glpi-agent-netdiscovery/run1-snmpd-as-computer"
GLPI_AGENT_HEADERS = ("Content-Type", "User-Agent", "GLPI-Agent-ID", "GLPI-Request-ID")


def post_prolog(client, device=DEVICE):
    response = client.post("/front/inventory.php", data=prolog(device), headers=ZLIB_HEADERS)
    assert response.status_code == 200, response.data
    return zlib.decompress(response.data)


def glpi_agents(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM glpi_agents ORDER BY id")).mappings().all()


def discovery_run(engine, credential_id: int, agent_id: int = 7) -> None:
    with engine.begin() as conn:
        add_agent(conn, agent_id, DEVICE)
        add_iprange(conn, "192.0.2.1", "192.0.2.9", range_id=1, credentials=((credential_id, 1),))
        add_task(conn, 1)
        add_job(conn, 1, '[{"PluginFusioninventoryIPRange":"1"}]', f'[{{"PluginFusioninventoryAgent":"{agent_id}"}}]',
                Method.NETWORK_DISCOVERY, job_id=1)
        add_run(conn, 11, 1, agent_id, ItemType.IP_RANGE, 1)


def add_v3_credential(conn, auth_passphrase: str, priv_passphrase: str, credential_id: int = 3) -> None:
    conn.execute(insert(schema.configsecurities).values(
        id=credential_id, name="v3", snmpversion="3", username="snmp&user", authentication="2",
        auth_passphrase=auth_passphrase, encryption="2", priv_passphrase=priv_passphrase))


def test_prolog_reply_is_glpi_10s_with_its_inventory_frequency(client, engine):
    discovery_run(engine, credential_id=2)  # the install's "Public community v2c"
    with engine.begin() as conn:
        set_inventory_config(conn, inventory_frequency="12")
    assert post_prolog(client) == (
        b'<?xml version="1.0"?>\n<REPLY><PROLOG_FREQ>12</PROLOG_FREQ><RESPONSE>SEND</RESPONSE>'
        b'<OPTION><NAME>NETDISCOVERY</NAME><PARAM THREADS_DISCOVERY="20" TIMEOUT="1" PID="11"/>'
        b'<RANGEIP ID="1" IPSTART="192.0.2.1" IPEND="192.0.2.9" ENTITY="0"/>'
        b'<AUTHENTICATION><ID>2</ID><VERSION>2c</VERSION><COMMUNITY>public</COMMUNITY></AUTHENTICATION>'
        b'</OPTION></REPLY>')
    assert run_state(engine, 11) == State.SERVER_HAS_SENT_DATA


def test_snmpv3_passphrases_encrypted_with_the_key_reach_the_option_in_clear(client, engine):
    with engine.begin() as conn:
        secrets = codec_of(conn)
        stored = secrets.conceal("auth pass 1"), secrets.conceal("priv&pass2")
        add_v3_credential(conn, *stored)
    assert all(value not in ("auth pass 1", "priv&pass2") for value in stored)  # ciphertext in the table
    discovery_run(engine, credential_id=3)
    assert (b"<AUTHENTICATION><ID>3</ID><VERSION>3</VERSION><USERNAME>snmp&amp;user</USERNAME>"
            b"<AUTHPROTOCOL>SHA</AUTHPROTOCOL><AUTHPASSPHRASE>auth pass 1</AUTHPASSPHRASE>"
            b"<PRIVPROTOCOL>AES</PRIVPROTOCOL><PRIVPASSPHRASE>priv&amp;pass2</PRIVPASSPHRASE></AUTHENTICATION>"
            ) in post_prolog(client)


def test_a_passphrase_that_does_not_decrypt_fails_the_run_with_the_reason(client, engine, tmp_path):
    other_site = new_key_file(str(tmp_path / "other.key"))
    with engine.begin() as conn:
        add_v3_credential(conn, other_site.encrypt("authpass1"), codec_of(conn).conceal("privpass1"))
    discovery_run(engine, credential_id=3)
    reply = post_prolog(client)
    assert b"<OPTION>" not in reply and b"authpass1" not in reply and b"<AUTHPASSPHRASE" not in reply
    assert run_state(engine, 11) == State.IN_ERROR
    [(_state, comment)] = [line for line in run_logs(engine, 11) if UNDECRYPTABLE in line[1]]
    assert comment.startswith("SNMP credential 3 auth passphrase " + UNDECRYPTABLE)


def test_without_a_key_file_the_run_fails_and_says_so(app, client, engine, database_url):
    from fusion_bridge.app import create_app

    with engine.begin() as conn:
        add_v3_credential(conn, codec_of(conn).conceal("authpass1"), codec_of(conn).conceal("privpass1"))
    discovery_run(engine, credential_id=3)
    keyless = create_app({"DATABASE_URL": database_url, "SETTINGS_TTL": 0})
    try:
        reply = keyless.test_client().post("/plugins/glpiinventory/", data=prolog(DEVICE), headers=ZLIB_HEADERS)
        assert reply.status_code == 200 and b"<OPTION>" not in zlib.decompress(reply.data)
    finally:
        keyless.extensions["fusion_bridge"].dispose()
    assert run_state(engine, 11) == State.IN_ERROR
    assert any("GLPI key not configured: set FUSION_BRIDGE_GLPI_KEY_FILE" in comment
               for _state, comment in run_logs(engine, 11))


def test_an_esx_password_that_does_not_decrypt_fails_the_run(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
        add_task(conn, 1)
        add_esx_host(conn, "192.0.2.20", password="root-pw")
        conn.execute(update(schema.credentials).values(password="not a ciphertext"))  # left in clear
        add_job(conn, 1, '[{"PluginFusioninventoryCredentialIp":"1"}]', '[{"PluginFusioninventoryAgent":"3"}]',
                Method.ESX, job_id=1)
        add_run(conn, 1, 1, 3, ItemType.CREDENTIAL_IP, 1)
        add_run(conn, 2, 1, 3, ItemType.CREDENTIAL_IP, 1, uniqid="second")
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == Module.ESX)
                     .values(is_active=1))
    answer = client.get("/plugins/glpiinventory/b/esx/", query_string={"action": "getJobs", "machineid": DEVICE})
    assert answer.status_code == 200 and answer.data == b"{}"
    assert run_state(engine, 1) == run_state(engine, 2) == State.IN_ERROR
    assert run_logs(engine, 1)[-1] == (Log.ERROR, "ESX credential 2 password is not a value encrypted with "
                                                       "the GLPI key (not base64)")


def test_an_esx_password_encrypted_with_the_key_is_sent_in_clear(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
        add_task(conn, 1)
        add_esx_host(conn, "192.0.2.20", password="s3cr\u00e9t")  # encrypted by the helper
        add_job(conn, 1, '[{"PluginFusioninventoryCredentialIp":"1"}]', '[{"PluginFusioninventoryAgent":"3"}]',
                Method.ESX, job_id=1)
        add_run(conn, 1, 1, 3, ItemType.CREDENTIAL_IP, 1, uniqid="esx-1")
        conn.execute(update(schema.agentmodules).where(schema.agentmodules.c.modulename == Module.ESX)
                     .values(is_active=1))
        assert conn.execute(select(schema.credentials.c.password)).scalar() != "s3cr\u00e9t"
    answer = client.get("/plugins/glpiinventory/b/esx/", query_string={"action": "getJobs", "machineid": DEVICE})
    assert answer.data == (b'{"jobs":[{"uuid":"esx-1","host":"192.0.2.20","user":"root",'
                           b'"password":"s3cr\\u00e9t"}]}')


def test_a_prolog_of_an_unknown_agent_creates_nothing_its_contact_does(client, engine):
    with engine.begin() as conn:
        set_inventory_config(conn, inventory_frequency="6")
    assert post_prolog(client) == (b'<?xml version="1.0"?>\n<REPLY><PROLOG_FREQ>6</PROLOG_FREQ>'
                                   b'<RESPONSE>SEND</RESPONSE></REPLY>')
    assert glpi_agents(engine) == []
    # GLPI Agent's CONTACT (recorded against GLPI 10) creates the agent with its flags.
    contact = exchange(f"{SCENARIO_02}/001-POST-CONTACT")
    response = client.post(contact.path, data=contact.request_raw, headers=contact.request_headers(*GLPI_AGENT_HEADERS))
    assert response.status_code == 200 and response.headers["GLPI-Agent-ID"] == AGENT_ID
    answer = zlib.decompress(response.data)
    assert b'"expiration":"6"' in answer and b'"netdiscovery":{"version":' in answer
    [agent] = glpi_agents(engine)
    assert (agent["deviceid"], agent["name"], agent["itemtype"], agent["items_id"], agent["useragent"]) == (
        contact_device(contact), contact_device(contact), "Computer", 0, "GLPI-Agent_v1.11")
    flags = {name: agent[name] for name in agent.keys() if name.startswith("use_module_")}
    assert flags == {name: int(name == "use_module_network_discovery") for name in flags} and len(flags) == 8
    # The agent is known now: its PROLOG is answered and still makes no second row.
    assert post_prolog(client, contact_device(contact)).endswith(b"<RESPONSE>SEND</RESPONSE></REPLY>")
    assert len(glpi_agents(engine)) == 1


def contact_device(contact) -> str:
    import json

    return json.loads(contact.request_decoded)["deviceid"]


def test_an_fi_agent_is_made_by_its_network_results_not_its_prolog(client, engine):
    post_prolog(client)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.agents)).scalar() == 0


def test_inventory_disabled_in_glpi_closes_the_agent_posts(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 3, DEVICE)
        set_inventory_config(conn, enabled_inventory="0")
    for path in ("/front/inventory.php", "/plugins/glpiinventory/", "/plugins/fusioninventory/"):
        response = client.post(path, data=prolog(DEVICE), headers=ZLIB_HEADERS)
        assert (response.status_code, response.data) == (403, b"Inventory is disabled")
        assert response.content_type.startswith("text/plain")
    # GLPI 10's glpiinventory 1.5 checks neither getConfig nor b/*: a deployment under way ends.
    config = client.get("/plugins/glpiinventory/", query_string={"action": "getConfig", "machineid": DEVICE,
                                                                 "task[Deploy]": "2.6"})
    assert config.status_code == 200
    jobs = client.get("/plugins/glpiinventory/b/deploy/", query_string={"action": "getJobs", "machineid": DEVICE})
    assert (jobs.status_code, jobs.data) == (200, b"{}")


def test_credential_verbs_store_passphrases_encrypted_and_keep_them_on_update(engine, glpi_key_file):
    created = network.create_credential(engine, "v3", "3", username="u", auth_protocol="SHA",
                                        auth_passphrase="authpass1", priv_protocol="AES", priv_passphrase="privpass1")
    key = glpi_secrets(glpi_key_file)
    with engine.connect() as conn:
        row = conn.execute(select(schema.configsecurities).where(schema.configsecurities.c.id == created["id"])).one()
    assert row.auth_passphrase != "authpass1"
    assert (key.reveal(row.auth_passphrase), key.reveal(row.priv_passphrase)) == ("authpass1", "privpass1")
    snmp_credentials.update_credential(engine, created["id"], {"priv_passphrase": "privpass2"})
    with engine.connect() as conn:
        row = conn.execute(select(schema.configsecurities).where(schema.configsecurities.c.id == created["id"])).one()
    assert (key.reveal(row.auth_passphrase), key.reveal(row.priv_passphrase)) == ("authpass1", "privpass2")


def test_without_a_key_the_credential_verbs_refuse_to_store_a_passphrase(database_url):
    from fusion_bridge.adapters.db import make_engine
    from fusion_bridge.errors import GlpiKeyNotConfigured

    keyless = make_engine(database_url)
    try:
        with pytest.raises(GlpiKeyNotConfigured, match="cannot store SNMP credential auth passphrase: GLPI key "
                                                       "not configured"):
            network.create_credential(keyless, "v3", "3", username="u", auth_protocol="SHA",
                                      auth_passphrase="authpass1")
        with keyless.connect() as conn:
            assert conn.execute(select(func.count()).select_from(schema.configsecurities)
                                .where(schema.configsecurities.c.name == "v3")).scalar() == 0
    finally:
        keyless.dispose()
