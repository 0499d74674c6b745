"""Counting (fusion_bridge/ops): bounded labels, the WSGI layer, numbers adding up across
processes in multiprocess mode."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from fusion_bridge.ops import metrics
from fusion_bridge.ops.settings import OpsSettings
from fusion_bridge.ops.wsgi import REST_ACTIONS, ObservedApp, classify, set_kind
from tests.helpers.exposition import parse, value

ROOT = Path(__file__).resolve().parents[2]
KINDS = ({"XML", "getConfig", "agent.other", "api", "ops", "other"}
         | {f"{task}.{action}" for task, actions in REST_ACTIONS.items() for action in (*actions, "other")})


@settings(max_examples=2 * settings.default.max_examples, deadline=None)  # CI: 400
@given(path=st.sampled_from(["/plugins/fusioninventory/", "/glpi/plugins/fusioninventory/b/deploy/",
                             "/plugins/fusioninventory/b/collect", "/ocsinventory", "/api/tasks", "/x"])
       | st.text(max_size=40), query=st.text(max_size=60), method=st.sampled_from(["GET", "POST", "PUT"]))
def test_kinds_are_a_fixed_set_whatever_the_request(path, query, method):
    assert classify({"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method}) in KINDS


@pytest.mark.parametrize("path, query, method, kind", [
    ("/plugins/fusioninventory/", "", "POST", "XML"),
    ("/glpi/plugins/fusioninventory/front/communication.php", "action=getConfig&machineid=a", "GET", "getConfig"),
    ("/plugins/fusioninventory/", "action=getJobs", "GET", "agent.other"),
    ("/plugins/fusioninventory/b/deploy/", "action=getFilePart&file=x", "GET", "deploy.getFilePart"),
    ("/glpi/plugins/fusioninventory/b/collect/", "action=setAnswer&uuid=u&method=POST", "POST", "collect.setAnswer"),
    ("/plugins/fusioninventory/b/esx", "action=setLog", "GET", "esx.setLog"),
    ("/plugins/fusioninventory/b/esx/", "action=drop%20table", "GET", "esx.other"),
    ("/api/tasks", "", "GET", "api"),
    ("/readyz", "", "GET", "ops"),
    ("/favicon.ico", "", "GET", "other"),
])
def test_kind_of_a_request(path, query, method, kind):
    assert classify({"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method}) == kind


class Ready:
    def check(self):
        return True, {"status": "ready"}


def inner(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("a bug")
    set_kind(environ, "PROLOG", "pc-1")
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def call(app, path="/plugins/fusioninventory/", **environ):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen.update(status=status, headers=dict(headers))

    body = b"".join(app({"REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_PORT": "8080",
                         "wsgi.input": io.BytesIO(b""), **environ}, start_response))
    return seen, body


def test_the_wsgi_layer_counts_times_and_names_each_request(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    recorder = metrics.Recorder()  # its own registry: nothing else moves it
    app = ObservedApp(inner, recorder, OpsSettings(), Ready())
    for _ in range(3):
        seen, body = call(app)
        assert body == b"ok" and seen["headers"]["X-Request-Id"]
    with pytest.raises(RuntimeError):
        call(app, "/boom")
    seen, body = call(app, "/metrics", REQUEST_METHOD="GET")
    samples = parse(body.decode())
    assert value(samples, "fusion_bridge_requests_total", kind="PROLOG", status="200") == 3
    assert value(samples, "fusion_bridge_requests_total", kind="other", status="500") == 1
    assert value(samples, "fusion_bridge_request_duration_seconds_count", kind="PROLOG") == 3
    ids = {call(app)[0]["headers"]["X-Request-Id"] for _ in range(50)}
    assert len(ids) == 50


def test_counting_off_records_nothing_and_imports_nothing():
    code = ("import sys; from fusion_bridge.ops import metrics; metrics.current.request('PROLOG', '200', 0.1); "
            "metrics.current.wakeups({'woken': 2}); print('prometheus_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


COUNT_IN_A_PROCESS = """
import sys
from fusion_bridge.ops import metrics
recorder = metrics.activate()
for _ in range(int(sys.argv[1])):
    recorder.request("PROLOG", "200", 0.002)
recorder.runs_handed_out("networkdiscovery", 2)
recorder.wakeups({"woken": 1, "busy": 0})
recorder.scheduler_pass(0.5, "ok")
"""


def test_values_of_every_process_add_up(tmp_path, monkeypatch):
    """As under serve: workers and the scheduler child write in one directory, a scrape adds
    them up, and a process that ended still counts."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in (5, 7, 11):  # three processes, one after the other: each has ended at the scrape
        subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS, str(count)], env=env, check=True)
    assert len(list(tmp_path.glob("counter_*.db"))) == 3
    scrape = ("from fusion_bridge.ops import metrics; import sys; "
              "sys.stdout.write(metrics.activate().exposition()[0].decode())")
    samples = parse(subprocess.run([sys.executable, "-c", scrape], env=env, check=True, capture_output=True,
                                   text=True).stdout)
    assert value(samples, "fusion_bridge_requests_total", kind="PROLOG", status="200") == 23
    assert value(samples, "fusion_bridge_request_duration_seconds_bucket", kind="PROLOG", le="0.005") == 23
    assert value(samples, "fusion_bridge_runs_handed_out_total", method="networkdiscovery") == 6
    assert value(samples, "fusion_bridge_wakeups_total", outcome="woken") == 3
    assert value(samples, "fusion_bridge_scheduler_passes_total", outcome="ok") == 3
    assert value(samples, "fusion_bridge_scheduler_last_pass_timestamp_seconds") > 1.7e9


def test_settings_refuse_what_they_cannot_use():
    with pytest.raises(ValueError, match="FUSION_BRIDGE_METRICS must be 0 or 1"):
        OpsSettings.from_env({"FUSION_BRIDGE_METRICS": "maybe"})
    with pytest.raises(ValueError, match="FUSION_BRIDGE_METRICS_BIND must be HOST:PORT"):
        OpsSettings.from_env({"FUSION_BRIDGE_METRICS_BIND": "9464"})
    assert OpsSettings.from_env({"FUSION_BRIDGE_METRICS": "0"}).metrics is False
    assert repr(OpsSettings.from_env({"FUSION_BRIDGE_METRICS_TOKEN": "s3cret"})).count("s3cret") == 0
