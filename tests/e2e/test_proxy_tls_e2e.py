"""The real agent 2.6 through a real nginx with TLS in front of ``fusion-bridge serve``, with the
example configuration of contrib/nginx-fusion-bridge.conf (tests/helpers/proxy_tls.py).

nginx and the bridge run in one private network namespace, the agent in another, linked by a
veth pair: the agent calls from its own address. The agent checks the certificate (a CA made
here, given with ``--ca-cert-file``). The bridge trusts 127.0.0.1 (nginx) only. A Collect
findFile run goes all the way: PROLOG, getConfig, whose ``remote`` must be the https:// URL
(nginx answers plain http on its TLS port with a 400 the agent would report), getJobs and the
answers; the agent's recorded address is its namespace address, not nginx's.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

import schema
from schema.constants import ItemType, Method, TaskjobState as State
from tests.helpers import netns as netnslib
from tests.helpers import proxy_tls
from tests.helpers import real_agent as agentlib
from tests.helpers.bridge_server import NETNS_PORT, running_bridge
from tests.helpers.e2e_tasks import (REST_AGENT, add_agent_and_task, add_hello_file_collect, installed_tasks_or_fail,
                                     prepare_one_run)
from tests.helpers.task_rows import run_state

pytestmark = pytest.mark.e2e

URL = f"https://{proxy_tls.PROXY_ADDRESS}:{proxy_tls.PROXY_PORT}/plugins/fusioninventory/"


@pytest.fixture
def agent_ns():
    try:
        namespace = netnslib.NetNamespace()
    except netnslib.ToolMissing as missing:
        pytest.fail(str(missing))
    yield namespace
    namespace.close()


def recorded_address(engine, agent_id):
    with engine.connect() as conn:
        return conn.execute(select(schema.bridge_agentaddresses.c.address).where(
            schema.bridge_agentaddresses.c.plugin_fusioninventory_agents_id == agent_id)).scalar()


def test_agent_through_nginx_tls(netns, agent_ns, database_url, engine, tmp_path):
    installed_tasks_or_fail(("Collect", "collect"))
    add_hello_file_collect(engine, tmp_path)
    add_agent_and_task(engine, REST_AGENT, Method.COLLECT, (ItemType.COLLECT, 1), computers_id=42)
    run_id = prepare_one_run(engine, REST_AGENT, 1, (ItemType.COLLECT, 1))

    proxy_tls.link(netns, agent_ns)
    ca, certificate, key = proxy_tls.make_certificates(tmp_path / "tls", proxy_tls.PROXY_ADDRESS)
    conf = proxy_tls.nginx_config(tmp_path / "nginx", certificate, key, f"127.0.0.1:{NETNS_PORT}")
    with running_bridge(netns, database_url, engine, tmp_path / "server.log",
                        FUSION_BRIDGE_TRUSTED_PROXIES="127.0.0.1") as server:
        nginx = proxy_tls.start_nginx(netns, conf)
        try:
            run = agentlib.run_agent(URL, "collect", deviceid=REST_AGENT.device_id, workdir=tmp_path / "agent",
                                     debug=2, prefix=tuple(agent_ns.command([])), ssl_check=True,
                                     extra_args=("--ca-cert-file", str(ca)), timeout=REST_AGENT.timeout)
        finally:
            netnslib.stop(nginx)
        access_log = (tmp_path / "nginx" / "access.log").read_text(errors="replace")
        ctx = (f"\n--- agent log (end) ---\n{run.log[-5000:]}\n--- server log (end) ---\n{server.tail()}"
               f"\n--- nginx access log ---\n{access_log[-3000:]}")
    assert run.returncode == 0, f"agent exit code {run.returncode}{ctx}"
    problems = agentlib.problem_lines(run.log)
    assert not problems, "agent complained:\n" + "\n".join(problems) + ctx
    assert "running task Collect" in run.log, ctx
    # getConfig's remote is the https URL the agent came in on, through nginx.
    assert f"{URL}b/collect/" in run.log, ctx
    assert run_state(engine, run_id) == State.FINISHED, ctx
    assert access_log.count(proxy_tls.AGENT_ADDRESS) >= 3, ctx  # PROLOG, getConfig, getJobs... via nginx
    assert recorded_address(engine, REST_AGENT.agent_id) == proxy_tls.AGENT_ADDRESS, ctx
    assert "Traceback" not in server.log_text(), ctx
