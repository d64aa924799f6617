"""KPI fixtures: the engine's line/agents/write fixtures and a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from contactcenter.timers import run_due_timers
from tests.openlines.conftest import agents, connector, line, make_line, write  # noqa: F401

REAL_NOW = timezone.now


class Clock:
    """`timezone.now()` under the test's control; `advance` also runs the timer loop at the new moment."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def __call__(self) -> datetime:
        return self.value

    def set(self, value: datetime) -> None:
        self.value = value

    def advance(self, seconds: float) -> int:
        self.value += timedelta(seconds=seconds)
        return run_due_timers(self.value)


@pytest.fixture
def clock(monkeypatch):
    # Monday 2 March 2026, 10:00 UTC.
    value = Clock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", value)
    return value
