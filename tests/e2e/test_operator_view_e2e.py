"""The operator view with the real agent: a discovery slice (offsets 1-3 of 127.0.0.0-127.0.0.9,
i.e. 127.0.0.1-127.0.0.3) prepared with its bridge row, scanned by the real agent 2.6 through
``fusion-bridge serve`` in a private network namespace (the set-up of
test_network_tasks_e2e.py); the agent's NETDISCOVERY reports must leave the slice's
``addresses_done`` complete, and ``task executions`` must show it. On SQLite and MariaDB.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import schema
from fusion_bridge.cli.main import main
from fusion_bridge.services.views import operator_view
from fusion_bridge.services.scheduling.run_writes import insert_runs
from schema.constants import ItemType
from fusion_bridge.domain.text import local_now
from tests.helpers.bridge_server import running_bridge
from tests.helpers.e2e_tasks import (NETWORK_AGENT, PUBLIC_V2C, add_task_for, check_agent, check_finished,
                                     context, run_real_agent)
from tests.helpers.task_rows import add_iprange

pytestmark = pytest.mark.e2e


@pytest.fixture
def bridge(netns, database_url, engine, tmp_path):
    """Without the scheduler: the run is prepared by the test."""
    with running_bridge(netns, database_url, engine, tmp_path / "server.log", "--no-scheduler") as server:
        yield server


def test_the_real_agent_completes_a_slice_and_the_view_shows_it(agent_tasks, engine, netns, snmpd, bridge,
                                                                database_url, tmp_path):
    NETWORK_AGENT.add_row(engine)
    add_iprange(engine, "127.0.0.0", "127.0.0.9", range_id=1, credentials=((PUBLIC_V2C, 1),))
    add_task_for(engine, NETWORK_AGENT, 1, "networkdiscovery", (ItemType.IP_RANGE, 1))
    with engine.begin() as conn:
        # "1-3" reads the same as "<from>-<to>" and as "<first>-<count>": 127.0.0.1-127.0.0.3.
        [run_id] = insert_runs(conn, 1, [((ItemType.IP_RANGE, 1), NETWORK_AGENT.agent_id)],
                               local_now().replace(microsecond=0),
                               [{"specificity": "1-3", "slice_first": 1, "slice_count": 3}],
                               task_id=1, execution_id=1)

    run = run_real_agent(NETWORK_AGENT, bridge, "netdiscovery", tmp_path / "agent-slice", netns)
    check_agent(run, bridge, "NetDiscovery", engine=engine, run_id=run_id)
    ctx = context(run, bridge, engine, run_id)
    assert re.search(r'<RANGEIP ID="1" IPSTART="127\.0\.0\.1" IPEND="127\.0\.0\.3" ENTITY="0"\s*/>', run.log), ctx
    check_finished(engine, run_id, ctx)
    with engine.connect() as conn:
        done = conn.execute(select(schema.bridge_runs.c.addresses_done).where(
            schema.bridge_runs.c.plugin_fusioninventory_taskjobstates_id == run_id)).scalar()
    assert done == 3, ctx

    view = operator_view.task_executions(engine, 1)
    [shown] = view["runs"]
    assert (view["execution"], shown["id"], shown["state_word"]) == (1, run_id, "Ok"), view
    assert shown["slice"] == {"first": 1, "count": 3, "ip_start": "127.0.0.1", "ip_end": "127.0.0.3"}, view
    assert shown["progress"] == {"done": 3, "total": 3}, view
    assert view["summary"]["addresses"] == {"covered": 3, "total": 3}, view
    result = CliRunner().invoke(main, ["task", "executions", "1", "--json", "--database", database_url])
    assert result.exit_code == 0 and json.loads(result.output)["runs"][0]["progress"]["done"] == 3, result.output
