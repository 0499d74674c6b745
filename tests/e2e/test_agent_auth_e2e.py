"""Agent HTTP Basic authentication end to end: the real agent 2.6 against ``fusion-bridge serve``
started with ``FUSION_BRIDGE_AGENT_AUTH`` (an htpasswd file with a ``$2y$`` bcrypt entry, as
``htpasswd -B`` writes it), both in a private network namespace.

Without ``--user/--password`` the agent gets 401 and nothing runs: no contact recorded, the
prepared Collect run untouched, no inventory. With them it goes through the 401-401-200 dance
of docs/agent-protocol.md §1.2 and its inventory and the Collect run succeed.
"""

from __future__ import annotations

import re

import bcrypt
import pytest
from sqlalchemy import func, select

import schema
from schema.constants import ItemType, Method, TaskjobState as State
from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import NETNS_URL, running_bridge
from tests.helpers.e2e_tasks import (REST_AGENT, add_agent_and_task, add_hello_file_collect, installed_tasks_or_fail,
                                     prepare_one_run)
from tests.helpers.task_rows import run_state

pytestmark = pytest.mark.e2e

USER, PASSWORD = "agents", "correct horse"
DANCE = re.compile(r"\[debug\] \[http client\] authentication required, submitting credentials")


def agent_row(engine):
    with engine.connect() as conn:
        return conn.execute(select(schema.agents).where(schema.agents.c.id == REST_AGENT.agent_id)).mappings().one()


def computers(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.glpi_computers)).scalar()


def test_agent_needs_its_credentials(netns, database_url, engine, tmp_path):
    installed_tasks_or_fail(("Collect", "collect"), ("Inventory", "inventory"))
    add_hello_file_collect(engine, tmp_path)
    add_agent_and_task(engine, REST_AGENT, Method.COLLECT, (ItemType.COLLECT, 1))
    run_id = prepare_one_run(engine, REST_AGENT, 1, (ItemType.COLLECT, 1))
    before = agent_row(engine)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(5)).decode()
    htpasswd = tmp_path / "agents.htpasswd"
    htpasswd.write_text(f"{USER}:$2y${hashed[4:]}\n")  # htpasswd -B writes the $2y$ prefix

    def agent(name, *credentials):
        return agentlib.run_agent(NETNS_URL, "inventory,collect", deviceid=REST_AGENT.device_id,
                                  workdir=tmp_path / name, debug=2, prefix=tuple(netns.command([])),
                                  extra_args=credentials, timeout=REST_AGENT.timeout)

    with running_bridge(netns, database_url, engine, tmp_path / "server.log",
                        FUSION_BRIDGE_AGENT_AUTH=str(htpasswd), FUSION_BRIDGE_AGENT_AUTH_REALM="fusion-bridge") as server:
        refused = agent("refused")
        ctx = f"\n--- agent log (end) ---\n{refused.log[-4000:]}\n--- server log ---\n{server.tail()}"
        assert "authentication required, no credentials available" in refused.log, ctx
        assert "running task Collect" not in refused.log, ctx
        assert run_state(engine, run_id) == State.PREPARED, ctx
        after = agent_row(engine)
        assert after["last_contact"] == before["last_contact"], ctx
        assert computers(engine) == 0, ctx

        wrong = agent("wrong", "--user", USER, "--password", "wrong horse")
        assert run_state(engine, run_id) == State.PREPARED, wrong.log[-3000:]

        accepted = agent("accepted", "--user", USER, "--password", PASSWORD)
        ctx = f"\n--- agent log (end) ---\n{accepted.log[-5000:]}\n--- server log ---\n{server.tail()}"
        assert accepted.returncode == 0, ctx
        # The dance itself (debug lines): once per client object of the agent.
        assert "authentication required, submitting credentials" in accepted.log, ctx
        problems = agentlib.problem_lines(accepted.log, DANCE)
        assert not problems, "agent complained:\n" + "\n".join(problems) + ctx
        assert "running task Inventory" in accepted.log and "running task Collect" in accepted.log, ctx
        assert run_state(engine, run_id) == State.FINISHED, ctx
        assert computers(engine) == 1, ctx
        assert agent_row(engine)["computers_id"], ctx
        server_log = server.log_text()
        assert "agent authentication failed" in server_log and "wrong horse" not in server_log, ctx
        assert "Traceback" not in server_log, ctx
