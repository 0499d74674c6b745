"""Periods of periodic tasks: as an operator writes them, and added to a date."""

from __future__ import annotations

from datetime import datetime

import pytest

from fusion_bridge.services.admin import task_settings as settings
from fusion_bridge.services.scheduling.executions import add_period


@pytest.mark.parametrize("text, expected", [("30m", (30, "minutes")), ("2h", (2, "hours")), ("1d", (1, "days")),
                                            ("3mo", (3, "months")), ("90 minutes", (90, "minutes")),
                                            ("0", (0, "minutes")), ("none", (0, "minutes"))])
def test_periods(text, expected):
    assert settings.parse_period(text) == expected


def test_add_period_counts_calendar_months():
    assert add_period(datetime(2024, 1, 31, 10, 0), 1, "months") == datetime(2024, 2, 29, 10, 0)
    assert add_period(datetime(2023, 1, 31, 10, 0), 1, "months") == datetime(2023, 2, 28, 10, 0)
    assert add_period(datetime(2024, 11, 15), 3, "months") == datetime(2025, 2, 15)
    assert add_period(datetime(2024, 1, 1), 90, "minutes") == datetime(2024, 1, 1, 1, 30)
