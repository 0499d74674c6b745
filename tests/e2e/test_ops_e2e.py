"""The real agent 2.6 over HTTPS against ``serve --certfile --keyfile`` (no proxy), on each
database: its PROLOG and INVENTORY show in /metrics and in the JSON access log with its
DEVICEID, every log line one JSON object."""

from __future__ import annotations

import json
import ssl
import subprocess

import pytest

from tests.helpers import real_agent as agentlib
from tests.helpers.exposition import parse, value
from tests.helpers.serve_process import running_serve, self_signed_certificate

AGENT_TIMEOUT = 120
DEVICE = "ops-e2e-2026-01-01-00-00-00"


def test_real_agent_over_https_is_counted_and_logged(tmp_path, database_url):
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(cafile=str(cert))
    with running_serve(tmp_path, "--workers", "2", "--database", database_url, "--certfile", str(cert),
                       "--keyfile", str(key), tls_context=context, FUSION_BRIDGE_LOG_FORMAT="json",
                       FUSION_BRIDGE_ACCESS_LOG="1") as serve:
        url = f"https://127.0.0.1:{serve.port}/plugins/fusioninventory/"
        try:
            run = agentlib.run_agent(url, "inventory", timeout=AGENT_TIMEOUT, workdir=tmp_path / "agent",
                                     deviceid=DEVICE, extra_args=("--ca-cert-file", str(cert)))
        except agentlib.AgentMissing as missing:
            pytest.fail(str(missing))
        except subprocess.TimeoutExpired:
            pytest.fail(f"the agent did not finish within {AGENT_TIMEOUT} s:\n{serve.log_tail()}")
        status, _, body = serve.request("GET", "/metrics")
        samples = parse(body.decode())
    context_text = f"\n--- agent ---\n{run.log[-3000:]}\n--- server ---\n{serve.log_tail()}"
    assert run.returncode == 0 and "sending prolog request to server0" in run.log, context_text
    assert status == 200
    assert value(samples, "fusion_bridge_requests_total", kind="PROLOG", status="200") == 1, context_text
    assert value(samples, "fusion_bridge_requests_total", kind="INVENTORY", status="200") == 1, context_text
    assert value(samples, "fusion_bridge_agents_seen", window="1h") == 1
    assert value(samples, "fusion_bridge_database_up") == 1

    entries = [json.loads(line) for line in serve.log_lines()]  # every line one JSON object
    access = [e for e in entries if e["logger"] == "fusion_bridge.access"]
    assert [(e["kind"], e["status"], e["device_id"]) for e in access] == [
        ("PROLOG", 200, DEVICE), ("INVENTORY", 200, DEVICE)], access
    assert all(e["request_id"] and e["remote"] == "127.0.0.1" and e["bytes"] > 0 for e in access)
