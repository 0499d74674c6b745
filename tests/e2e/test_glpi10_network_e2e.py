"""Network discovery and SNMP inventory end to end on a GLPI 10 + glpiinventory 1.5.x database: the
real agent 2.6, a real snmpd and ``fusion-bridge serve`` in one private network namespace
(tests/helpers/netns.py), on a MariaDB database made with
``init_database(flavour="glpiinventory", glpi=10)``.

The tasks are written with raw SQL exactly as GLPI 10's UI writes them (targets
``[{"PluginGlpiinventoryIPRange":"1"}]``, actors ``[{"Agent":"<id>"}]``, ``restrict_to_task_entity``,
the plugin's ``plugin_glpiinventory_*`` columns, the range's credentials in
``glpi_plugin_glpiinventory_ipranges_snmpcredentials``) and prepared by the bridge's own preparation;
runs and their joblogs are read back with raw SQL on GLPI 10's tables and compared with what GLPI 10 +
glpiinventory 1.5.8 writes (docs/glpi10-protocol.md §9). Needs root,
``fusioninventory-agent`` with ``-task-network``, ``snmpd``, ``unshare``/``nsenter``: when one is
missing the tests fail, they never skip.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import glpi10_rows as g10
from tests.helpers.glpi10_e2e import (GLPI10_DATABASE, RUN_STATES, TASK_LOG_STATES as Log, RunnerAgent,
                                      check_agent, check_prepared, context, run_glpi10_agent)

pytestmark = [pytest.mark.e2e, GLPI10_DATABASE]

NETWORK_AGENT = RunnerAgent("e2e-glpi10-network-2025-06-01-12-00-00", timeout=60)
RANGE = ("PluginGlpiinventoryIPRange",)


def prolog_replies(log: str) -> list[str]:
    """The replies the agent received, as its ``--debug --debug`` log dumps them."""
    return re.findall(r"\[http client\] receiving message:\s*(<\?xml.*?</REPLY>)", log, re.S)


def discovery_task(engine, agent_id: int, start: str, end: str) -> tuple[int, int]:
    """A range and a discovery task on it run by ``agent_id``, as GLPI 10's UI writes them;
    (range id, job id)."""
    range_id = g10.add_iprange(engine, "loopback", start, end)
    task_id = g10.add_task(engine, "discover the loopback")
    job_id = g10.add_job(engine, task_id, "discover", "networkdiscovery", [("PluginGlpiinventoryIPRange", range_id)],
                         [("Agent", agent_id)])
    return range_id, job_id


def test_task_written_by_glpi10_ui_is_prepared_and_run(agent_tasks, engine, netns, bridge, tmp_path):
    """A discovery of a range no device answers in (no route in the namespace): the task as GLPI
    10's UI writes it, prepared by the bridge, handed out to the agent and ended by its report."""
    agent_id = g10.add_agent(engine, NETWORK_AGENT.deviceid)
    range_id, job_id = discovery_task(engine, agent_id, "192.0.2.1", "192.0.2.2")
    run_id = check_prepared(engine, job_id, agent_id, (*RANGE, range_id))

    run = run_glpi10_agent(NETWORK_AGENT, bridge, "netdiscovery", tmp_path / "agent", netns)
    ctx = context(run, bridge, engine, run_id)
    check_agent(run, bridge, "NetDiscovery", ctx)
    replies = prolog_replies(run.log)
    assert replies and "<NAME>NETDISCOVERY</NAME>" in replies[0], ctx
    # GLPI 10's PROLOG form: one line after the declaration, PROLOG_FREQ and RESPONSE first.
    assert re.match(r'<\?xml version="1\.0"\?>\n<REPLY><PROLOG_FREQ>\d+</PROLOG_FREQ><RESPONSE>SEND</RESPONSE>'
                    r'<OPTION><NAME>NETDISCOVERY</NAME>', replies[0]), f"{replies[0]}{ctx}"
    assert f'<RANGEIP ID="{range_id}" IPSTART="192.0.2.1" IPEND="192.0.2.2" ENTITY="0"/>' in replies[0], ctx
    assert f'<PARAM THREADS_DISCOVERY="20" TIMEOUT="1" PID="{run_id}"/>' in replies[0], ctx
    assert g10.run_state(engine, run_id) == RUN_STATES["FINISHED"], ctx
    logs = g10.joblogs(engine, run_id)
    # GLPI 10: Prepared (0, NULL), Started on the agent ('Agent', 0 — the plugin writes the
    # agent's raw threads/timeout), nothing found, Ok on the agent.
    assert logs[0] == (Log["PREPARED"], None, 0, ""), ctx
    state, itemtype, _items_id, comment = logs[1]
    assert (state, itemtype) == (Log["STARTED"], "Agent") and re.fullmatch(r"\d+ threads \d+ timeout", comment), ctx
    assert logs[2:] == [(Log["OK"], "Agent", agent_id, "Processed: 0 Created: 0 Updated: 0")], ctx

