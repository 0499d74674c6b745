"""Dispatch at PROLOG: the plugin's OPTIONs, its checks, and exactly-once hand-out."""

import threading
import zlib
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

import protocol
import schema
from fusion_bridge.adapters.db_layout import layout_of
from fusion_bridge.adapters.secret_codec import codec_of
from tests.helpers.agent_requests import ZLIB_HEADERS, message_xml, prolog
from tests.helpers.dispatch_rows import ACTOR, DEVICE, DISCOVERY_TARGETS
from tests.helpers.inventory_rows import add_agent, add_port
from tests.helpers.recorded_glpi10 import prolog_reply_of
from tests.helpers.task_rows import add_iprange, add_job, add_run, add_task, run_logs, run_state

# The task engine on both schema flavours (docs/schema-layouts.md).
pytestmark = pytest.mark.both_flavours


def prolog_reply(client, device=DEVICE) -> bytes:
    """The reply in FusionInventory 9.5's form: on a glpiinventory database the bridge answers
    in GLPI 10's (docs/glpi10-protocol.md §3), read back and written in 9.5's to compare."""
    response = client.post("/plugins/fusioninventory/", data=prolog(device), headers=ZLIB_HEADERS)
    assert response.status_code == 200
    reply = zlib.decompress(response.data)
    if reply.startswith(b'<?xml version="1.0"?>\n<REPLY><PROLOG_FREQ>'):
        return protocol.write_reply(prolog_reply_of(reply))
    return reply


@pytest.fixture
def discovery(engine):
    with engine.begin() as conn:
        add_agent(conn, 7, DEVICE)
        secrets = codec_of(conn)  # encrypted with the GLPI key on a glpiinventory database
        conn.execute(insert(schema.configsecurities).values(
            id=3, name="v3 user", snmpversion="3", username="snmpuser", authentication="2",
            auth_passphrase=secrets.conceal("authpass"), encryption="1", priv_passphrase=secrets.conceal("privpass")))
        add_iprange(conn, "192.0.2.1", "192.0.2.254", range_id=1, credentials=((3, 2), (2, 1)))
        add_task(conn, 1)
        add_job(conn, 1, DISCOVERY_TARGETS, ACTOR, "networkdiscovery", job_id=1)
        add_run(conn, 11, 1, 7, "PluginFusioninventoryIPRange", 1)


def test_netdiscovery_option_is_the_plugins_and_the_run_starts(client, engine, discovery):
    assert prolog_reply(client) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<REPLY>\n'
        b"   <OPTION>\n"
        b"      <NAME>NETDISCOVERY</NAME>\n"
        b'      <PARAM THREADS_DISCOVERY="20" TIMEOUT="1" PID="11"/>\n'
        b'      <RANGEIP ID="1" IPSTART="192.0.2.1" IPEND="192.0.2.254" ENTITY="0"/>\n'
        b'      <AUTHENTICATION ID="2" VERSION="2c" COMMUNITY="public"/>\n'
        b'      <AUTHENTICATION ID="3" VERSION="3" USERNAME="snmpuser" AUTHPROTOCOL="SHA" AUTHPASSPHRASE="authpass"'
        b' PRIVPROTOCOL="DES" PRIVPASSPHRASE="privpass"/>\n'
        b"   </OPTION>\n"
        b"   <RESPONSE>SEND</RESPONSE>\n   <PROLOG_FREQ>24</PROLOG_FREQ>\n</REPLY>\n"
    )
    assert run_state(engine, 11) == 1
    assert run_logs(engine, 11) == [(1, "0 threads 0 timeout")]
    # Handed out once: the next PROLOG has no OPTION and fails the run as the plugin does.
    assert b"<OPTION>" not in prolog_reply(client)
    assert run_state(engine, 11) == 4
    assert run_logs(engine, 11)[-1][1].startswith("The agent is requesting a configuration that has already been sent")


def test_agent_threads_and_timeout_override_the_config(client, engine, discovery):
    with engine.begin() as conn:
        conn.execute(update(schema.agents).values(threads_networkdiscovery=5, timeout_networkdiscovery=3))
    assert b'<PARAM THREADS_DISCOVERY="5" TIMEOUT="3" PID="11"/>' in prolog_reply(client)
    assert run_logs(engine, 11) == [(1, "5 threads 3 timeout")]


@pytest.mark.parametrize("change, comment", [
    ({"is_active": 0}, "The task has been deactivated after preparation of this job."),
    ({"datetime_start": datetime.now() + timedelta(days=1)},
     "This job can not be executed anymore due to the task's schedule."),
    ({"datetime_start": datetime.now() - timedelta(days=2), "datetime_end": datetime.now() - timedelta(days=1)},
     "This job can not be executed anymore due to the task's schedule."),
    ({"plugin_fusioninventory_timeslots_exec_id": 5},
     "This job can not be executed anymore due to the task's timeslot."),
])
def test_runs_failing_the_checks_are_cancelled(client, engine, discovery, change, comment):
    with engine.begin() as conn:
        conn.execute(update(schema.tasks).values(**change))
    assert b"<OPTION>" not in prolog_reply(client)
    assert run_state(engine, 11) == 5
    assert run_logs(engine, 11) == [(5, comment)]


def test_active_timeslot_lets_the_run_through(client, engine, discovery):
    now = datetime.now()
    with engine.begin() as conn:
        conn.execute(insert(schema.timeslotentries).values(plugin_fusioninventory_timeslots_id=5, day=now.isoweekday(),
                                                           begin=0, end=86400))
        conn.execute(update(schema.tasks).values(plugin_fusioninventory_timeslots_exec_id=5))
    assert b"<NAME>NETDISCOVERY</NAME>" in prolog_reply(client)


def test_agent_no_longer_an_actor(client, engine, discovery):
    with engine.begin() as conn:
        conn.execute(update(schema.taskjobs).values(actors='[{"PluginFusioninventoryAgent":"8"}]'))
    prolog_reply(client)
    assert run_logs(engine, 11) == [(5, "This agent does not belong anymore in the actors defined in the job.")]


def test_computer_and_object_form_actors(client, engine, discovery):
    with engine.begin() as conn:
        conn.execute(update(schema.agents).values(computers_id=42))
        conn.execute(update(schema.taskjobs).values(actors='{"1":{"Computer":"42"}}'))
    assert b"<NAME>NETDISCOVERY</NAME>" in prolog_reply(client)


def test_snmpquery_sends_only_the_credential_the_device_uses(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 7, DEVICE, threads_networkinventory=2)
        conn.execute(insert(schema.glpi_networkequipments).values(id=9, entities_id=0, name="sw", is_deleted=0))
        conn.execute(insert(schema.networkequipments).values(networkequipments_id=9,
                                                              plugin_fusioninventory_configsecurities_id=2))
        add_port(conn, "NetworkEquipment", 9, mac="00:11:22:33:44:55", ip="192.0.2.9", port_id=1)
        add_task(conn, 1)
        add_job(conn, 1, '[{"NetworkEquipment":"9"}]', ACTOR, "networkinventory", job_id=1)
        add_run(conn, 12, 1, 7, "NetworkEquipment", 9)
    reply = prolog_reply(client)
    assert (b"   <OPTION>\n      <NAME>SNMPQUERY</NAME>\n"
            b'      <PARAM THREADS_QUERY="2" TIMEOUT="15" PID="12"/>\n'
            b'      <DEVICE TYPE="NETWORKING" ID="9" IP="192.0.2.9" AUTHSNMP_ID="2"/>\n'
            b'      <AUTHENTICATION ID="2" VERSION="2c" COMMUNITY="public"/>\n   </OPTION>\n') in reply
    assert b'ID="1" VERSION="1"' not in reply
    # 9.5 logs the agent's own columns, glpiinventory the OPTION's values (docs/glpi10-protocol.md §9).
    with engine.connect() as conn:
        started = "2 threads 15 timeout" if layout_of(conn).renames else "2 threads 0 timeout"
    assert run_logs(engine, 12) == [(1, started)]


def test_snmpquery_of_a_device_without_ip_fails(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 7, DEVICE)
        conn.execute(insert(schema.glpi_printers).values(id=4, entities_id=0, name="printer", is_deleted=0))
        add_task(conn, 1)
        add_job(conn, 1, '[{"Printer":"4"}]', ACTOR, "networkinventory", job_id=1)
        add_run(conn, 13, 1, 7, "Printer", 4)
    assert b"<OPTION>" not in prolog_reply(client)
    assert run_state(engine, 13) == 4 and run_logs(engine, 13) == [(4, "Device have no ip")]


def test_wakeonlan_sends_the_macs_and_finishes_at_once(client, engine):
    with engine.begin() as conn:
        add_agent(conn, 7, DEVICE)
        add_port(conn, "Computer", 5, mac="00:11:22:33:44:55", port_id=1)
        add_port(conn, "Computer", 5, mac="00:11:22:33:44:66", port_id=2)
        add_task(conn, 1)
        add_job(conn, 1, '[{"Computer":"5"}]', ACTOR, "wakeonlan", job_id=1)
        add_run(conn, 14, 1, 7, "Computer", 5)
    assert (b"   <OPTION>\n      <NAME>WAKEONLAN</NAME>\n      <PARAM MAC=\"00:11:22:33:44:55\"/>\n"
            b"      <PARAM MAC=\"00:11:22:33:44:66\"/>\n   </OPTION>\n") in prolog_reply(client)
    assert run_state(engine, 14) == 3
    assert run_logs(engine, 14) == [(1, ""), (2, "WakeOnLan have not return state")]


def test_options_follow_action_order_and_rest_runs_wait_for_get_jobs(client, engine, discovery):
    with engine.begin() as conn:
        add_port(conn, "Computer", 5, mac="00:11:22:33:44:55", port_id=1)
        add_job(conn, 1, '[{"Computer":"5"}]', ACTOR, "wakeonlan", job_id=2)
        add_job(conn, 1, '[{"PluginFusioninventoryDeployPackage":"1"}]', ACTOR, "deployinstall", job_id=3)
        add_run(conn, 15, 3, 7, "PluginFusioninventoryDeployPackage", 1)
        add_run(conn, 16, 2, 7, "Computer", 5)
    reply = prolog_reply(client)
    assert reply.index(b"NETDISCOVERY") < reply.index(b"WAKEONLAN") < reply.index(b"<RESPONSE>")
    assert run_state(engine, 15) == 0 and run_logs(engine, 15) == []


def test_each_run_is_handed_out_exactly_once_to_concurrent_prologs(app, engine, discovery):
    with engine.begin() as conn:
        for run_id in range(20, 30):
            add_run(conn, run_id, 1, 7, "PluginFusioninventoryIPRange", 1)
    barrier = threading.Barrier(50)
    replies = []

    def contact():
        client = app.test_client()
        barrier.wait()
        replies.append(prolog_reply(client))

    threads = [threading.Thread(target=contact) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handed = [pid for reply in replies for pid in range(11, 30) if b'PID="%d"' % pid in reply]
    assert sorted(handed) == [11] + list(range(20, 30))


def test_message_for_another_agents_run_is_refused(client, engine, discovery):
    with engine.begin() as conn:
        add_agent(conn, 8, "other-2024-01-01-00-00-00")
    prolog_reply(client)
    body = message_xml("other-2024-01-01-00-00-00", "NETDISCOVERY",
                       "<AGENT><START>1</START></AGENT><MODULEVERSION>4.2</MODULEVERSION><PROCESSNUMBER>11</PROCESSNUMBER>")
    response = client.post("/plugins/fusioninventory/", data=zlib.compress(body), headers=ZLIB_HEADERS)
    assert response.status_code == 400
    assert b"PROCESSNUMBER 11 is not a networkdiscovery run of this agent" in zlib.decompress(response.data)
    assert run_state(engine, 11) == 1
    with engine.connect() as conn:
        version = conn.execute(select(schema.agents.c.version).where(schema.agents.c.id == 8)).scalar()
    assert version is None, "nothing of the refused message is written"
