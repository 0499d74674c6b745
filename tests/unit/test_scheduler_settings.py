"""The scheduler's settings from the environment, the back-off of a failing task, and the
reason a push gives up."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from fusion_bridge.scheduler import SchedulerSettings
from fusion_bridge.services.push.push_pass import give_up_reason
from fusion_bridge.services.scheduling.report import TaskBackoff

NOW = datetime(2024, 3, 6, 10, 30, 0)


def test_backoff_doubles_up_to_an_hour():
    backoff = TaskBackoff()
    delays = [backoff.failed(7, NOW) - NOW for _ in range(9)]
    assert [d.total_seconds() / 60 for d in delays] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert not backoff.ready(7, NOW + timedelta(minutes=59)) and backoff.ready(7, NOW + timedelta(minutes=60))
    backoff.succeeded(7)
    assert backoff.ready(7, NOW) and backoff.failed(7, NOW) == NOW + timedelta(minutes=1)


def test_scheduler_settings_from_the_environment():
    settings = SchedulerSettings.from_env({
        "FUSION_BRIDGE_SCHEDULER_INTERVAL": "15", "FUSION_BRIDGE_RUN_TIMEOUT_MINUTES": "90",
        "FUSION_BRIDGE_RUNS_KEPT": "3"})
    assert (settings.interval, settings.run_timeout, settings.runs_kept) == (15, timedelta(minutes=90), 3)
    assert SchedulerSettings.from_env({}) == SchedulerSettings()
    with pytest.raises(ValueError):
        SchedulerSettings.from_env({"FUSION_BRIDGE_RUNS_KEPT": "0"})


def test_push_settings_from_the_environment():
    settings = SchedulerSettings.from_env({"FUSION_BRIDGE_PUSH_CHECK": "0.5",
                                           "FUSION_BRIDGE_WAKEUP_CONCURRENCY": "7",
                                           "FUSION_BRIDGE_WAKEUP_NOW_TIMEOUT": "3"})
    assert (settings.push_check, settings.wakeup_concurrency, settings.wakeup_now_timeout) == (0.5, 7, 3.0)
    for bad in ({"FUSION_BRIDGE_PUSH_CHECK": "0"}, {"FUSION_BRIDGE_WAKEUP_CONCURRENCY": "0"},
                {"FUSION_BRIDGE_WAKEUP_CONCURRENCY": "many"}):
        try:
            SchedulerSettings.from_env(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")


def test_give_up_reason_without_attempt():
    assert give_up_reason(1, timedelta(seconds=5), None) == (
        "Push failed: the agent did not take the run within 5 s of each of its 1 wake-up(s)")
