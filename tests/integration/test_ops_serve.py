"""A real ``fusion-bridge serve`` (gunicorn, two workers, the scheduler child) on SQLite: JSON
logs with request ids, the access log, metrics adding up across processes, /readyz watching
the scheduler."""

from __future__ import annotations

import json
import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.helpers.agent_requests import ZLIB_HEADERS, prolog
from tests.helpers.exposition import parse, value
from tests.helpers.serve_process import running_serve, wait_until

AGENT_PATH = "/plugins/fusioninventory/"
PROLOGS = 24


def scrape(serve) -> dict:
    status, headers, body = serve.request("GET", "/metrics")
    assert status == 200, body
    return parse(body.decode())


def test_json_logs_request_ids_access_lines_and_metrics_of_every_process(tmp_path):
    with running_serve(tmp_path, "--json", "--workers", "2", FUSION_BRIDGE_LOG_FORMAT="json",
                       FUSION_BRIDGE_ACCESS_LOG="1", FUSION_BRIDGE_SCHEDULER_INTERVAL="1") as serve:

        def send(number: int):
            return serve.request("POST", AGENT_PATH, prolog(f"ops-{number:03d}-2026-01-01-00-00-00"),
                                 {**ZLIB_HEADERS, "X-Request-Id": f"t-{number}"})

        def gone(pid: int) -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        # Half the PROLOGs, then the worker that answered the first one stops (as when gunicorn
        # replaces a worker); the other half goes to other workers. The scrapes must count them
        # all: the values of every worker, the ended one included.
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(send, range(PROLOGS // 2)))
        first = wait_until(lambda: next((json.loads(line)["pid"] for line in serve.log_lines()
                                         if '"request_id": "t-0"' in line), None))
        os.kill(first, signal.SIGTERM)
        assert wait_until(lambda: gone(first)), serve.log_tail()
        with ThreadPoolExecutor(4) as pool:
            answers += list(pool.map(send, range(PROLOGS // 2, PROLOGS)))
        assert all(status == 200 and headers["x-request-id"] == f"t-{number}"
                   for number, (status, headers, _) in enumerate(answers))
        junk = serve.request("POST", AGENT_PATH, b"\x78\x9cjunk", {**ZLIB_HEADERS, "X-Request-Id": "t-junk"})
        assert junk[0] == 400
        config_path = AGENT_PATH + "?action=getConfig&machineid=ops-001-2026-01-01-00-00-00"
        status, headers, _ = serve.request("GET", config_path, headers={"X-Request-Id": "bad id with spaces"})
        assert status == 200 and headers["x-request-id"] != "bad id with spaces"
        generated = headers["x-request-id"]

        # Whichever worker answers the scrape, it counts every worker's requests and the
        # scheduler child's passes.
        passes = wait_until(lambda: value(scrape(serve), "fusion_bridge_scheduler_passes_total", outcome="ok") >= 1)
        assert passes, serve.log_tail()
        for _ in range(4):
            samples = scrape(serve)
            assert value(samples, "fusion_bridge_requests_total", kind="PROLOG", status="200") == PROLOGS
            assert value(samples, "fusion_bridge_requests_total", kind="XML", status="400") == 1
            assert value(samples, "fusion_bridge_refusals_total", reason="protocol_error") == 1
            assert value(samples, "fusion_bridge_agents_seen", window="1h") == PROLOGS
        ready = serve.json("/readyz")
        assert ready[0] == 200 and ready[1]["checks"]["scheduler"]["ok"] is True, ready
        banner = json.loads(serve.stdout.read_text().splitlines()[0])

    assert banner["workers"] == 2 and banner["scheduler"]["running"] is True and banner["log_format"] == "json"
    assert banner["metrics"]["url"] == f"http://127.0.0.1:{serve.port}/metrics"
    assert not Path(banner["run_dir"]).exists()  # removed when serve stopped

    lines = serve.log_lines()
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not one JSON object: {line!r}") from None
    assert all(isinstance(entry, dict) and {"time", "level", "logger", "message"} <= set(entry) for entry in parsed)
    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in parsed)
    assert any(e["logger"] == "fusion_bridge.scheduler" for e in parsed)  # the child's lines too

    access = [e for e in parsed if e["logger"] == "fusion_bridge.access"]
    prologs = {e["request_id"]: e for e in access if e["kind"] == "PROLOG"}
    assert set(prologs) == {f"t-{number}" for number in range(PROLOGS)}
    line = prologs["t-7"]
    assert line["device_id"] == "ops-007-2026-01-01-00-00-00" and line["status"] == 200
    assert line["remote"] == "127.0.0.1" and line["bytes"] > 0 and line["duration_ms"] > 0
    assert line["method"] == "POST" and line["path"] == AGENT_PATH
    pids = {e["pid"] for e in prologs.values()}
    assert first in pids and len(pids) >= 2  # several workers answered, and the scrapes added them up

    junk_lines = [e for e in parsed if e.get("request_id") == "t-junk"]
    assert {e["logger"] for e in junk_lines} == {"fusion_bridge.http", "fusion_bridge.access"}, junk_lines
    assert any(e["level"] == "WARNING" and "refused (400)" in e["message"] for e in junk_lines)
    config_lines = [e for e in access if e["request_id"] == generated]
    assert config_lines and config_lines[0]["kind"] == "getConfig"
    assert config_lines[0]["device_id"] == "ops-001-2026-01-01-00-00-00"
    assert not any(e["kind"] == "ops" for e in access)  # scrapes and probes: no access line each


def test_readyz_reports_a_dead_scheduler(tmp_path):
    with running_serve(tmp_path, "--workers", "1") as serve:
        def beating():
            status, body = serve.json("/readyz")
            return body["checks"]["scheduler"] if status == 200 and body["checks"]["scheduler"]["ok"] else None

        scheduler = wait_until(beating)  # until then it is "no heartbeat yet", ok within a grace period
        assert scheduler, serve.log_tail()
        assert scheduler["state"] in ("waiting", "pass") and scheduler["heartbeat_age_s"] < 5
        os.kill(scheduler["pid"], signal.SIGKILL)

        def unready():
            status, body = serve.json("/readyz")
            return body if status == 503 else None

        body = wait_until(unready, timeout=10, every=0.05)
        assert body, serve.log_tail()
        assert body["status"] == "not ready" and body["checks"]["scheduler"]["ok"] is False
        assert body["problems"] == [f"scheduler: scheduler process {scheduler['pid']} is gone"]
        assert body["checks"]["database"]["ok"] is True
        assert serve.json("/healthz")[0] == 200  # alive all the same


def test_no_scheduler_is_not_a_readiness_problem_and_text_access_lines(tmp_path):
    with running_serve(tmp_path, "--workers", "1", "--no-scheduler", "--access-log") as serve:
        status, body = serve.json("/readyz")
        serve.request("POST", AGENT_PATH, prolog("text-2026-01-01-00-00-00"), {**ZLIB_HEADERS, "X-Request-Id": "r-1"})
        banner = serve.stdout.read_text()
    assert status == 200 and body["checks"]["scheduler"] == {"ok": None, "detail": "disabled (serve --no-scheduler)"}
    assert "Scheduler: off (serve --no-scheduler)" in banner and "access log on" in banner
    assert f"Metrics: http://127.0.0.1:{serve.port}/metrics" in banner
    lines = serve.log_lines()
    # Text logs by default; gunicorn's lines in the same layout as the bridge's.
    assert any(" INFO gunicorn.error: Booting worker" in line for line in lines)
    assert any(" INFO fusion_bridge.access [r-1]: 127.0.0.1 text-2026-01-01-00-00-00 "
               f'"POST {AGENT_PATH}" PROLOG 200 ' in line for line in lines), lines


def test_serve_tells_systemd_when_it_listens(tmp_path):
    """contrib/fusion-bridge.service is Type=notify: serve's own process must send READY=1."""
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify"))
    notify.settimeout(30)
    try:
        with running_serve(tmp_path, "--workers", "1", "--no-scheduler", NOTIFY_SOCKET=str(tmp_path / "notify")):
            message = notify.recv(4096)
    finally:
        notify.close()
    assert b"READY=1" in message.split(b"\n")
