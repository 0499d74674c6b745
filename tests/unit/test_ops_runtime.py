"""serve's run directory: clean at start, announced to the children, removed (or emptied of
the bridge's files) at exit, and only by the process that made it."""

from __future__ import annotations

import json
import os

from fusion_bridge.ops.runtime import banner, banner_lines, prepare_run_dir
from fusion_bridge.ops.settings import OpsSettings


def test_a_given_run_dir_is_cleaned_of_a_previous_start_and_of_nothing_else(tmp_path):
    given = tmp_path / "run"
    (given / "metrics").mkdir(parents=True)
    (given / "metrics" / "counter_4242.db").write_bytes(b"old values")
    (given / "scheduler.heartbeat").write_text("{}")
    (given / "keep.txt").write_text("not ours")
    environ = {}
    run_dir = prepare_run_dir(OpsSettings(run_dir=str(given)), scheduler=True, environ=environ)
    assert environ == {"FUSION_BRIDGE_RUN_DIR": str(given), "PROMETHEUS_MULTIPROC_DIR": str(given / "metrics")}
    assert list((given / "metrics").iterdir()) == [] and not (given / "scheduler.heartbeat").exists()
    assert json.loads((given / "serve.json").read_text())["scheduler"] is True
    (given / "metrics" / "counter_1.db").write_bytes(b"values")
    run_dir.remove()
    assert sorted(p.name for p in given.iterdir()) == ["keep.txt", "metrics"]
    assert list((given / "metrics").iterdir()) == []


def test_a_private_run_dir_is_removed_by_its_maker_only(monkeypatch):
    environ = {"PROMETHEUS_MULTIPROC_DIR": "/somewhere/else"}
    run_dir = prepare_run_dir(OpsSettings(metrics=False), scheduler=False, environ=environ)
    assert run_dir.path.is_dir() and oct(run_dir.path.stat().st_mode & 0o777) == "0o700"
    assert environ == {"FUSION_BRIDGE_RUN_DIR": str(run_dir.path)}  # metrics off: no multiprocess directory
    maker = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: maker + 1)  # a forked worker's exit
    run_dir.remove()
    assert run_dir.path.exists()
    monkeypatch.undo()
    run_dir.remove()
    assert not run_dir.path.exists()


def test_the_banner_says_where_agents_point_and_what_runs():
    shown = banner(version="1.2", database="mysql+pymysql://glpi:***@db/glpi", bind="0.0.0.0:8443",
                   agent_url="https://bridge.example:8443/plugins/fusioninventory/", workers=5, scheduler=True,
                   scheduler_interval=60, settings=OpsSettings(certfile="c.pem", keyfile="k.pem",
                                                               metrics_bind="127.0.0.1:9464", metrics_token="t"))
    assert shown["metrics"] == {"url": "https://127.0.0.1:9464/metrics", "token": True}
    text = "\n".join(banner_lines(shown))
    assert "fusioninventory-agent --server https://bridge.example:8443/plugins/fusioninventory/" in text
    assert "Listening on 0.0.0.0:8443 (TLS) with 5 workers" in text and "a pass every 60 s" in text
    assert "(bearer token required)" in text and "Relay: off" in text and "***" in text
