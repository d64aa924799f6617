"""Working hours of a line: inside/outside, days off, holidays, time zone, next start."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from openlines.models import OpenLine
from openlines.worktime import line_is_working, line_next_working_start

pytestmark = pytest.mark.django_db

PRAGUE = ZoneInfo("Europe/Prague")


@pytest.fixture
def line():
    return OpenLine.objects.create(
        line_name="Hours",
        worktime_enable=True,
        worktime_timezone="Europe/Prague",
        worktime_from=time(9, 0),
        worktime_to=time(18, 30),
        worktime_dayoff=["SA", "SU"],
        worktime_holidays=["24.12", "01.01"],
    )


def at(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=PRAGUE)


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        (at(2026, 11, 23, 9, 0), True),  # Monday, opening minute
        (at(2026, 11, 23, 8, 59), False),
        (at(2026, 11, 23, 18, 29), True),
        (at(2026, 11, 23, 18, 30), False),  # closing time is exclusive
        (at(2026, 11, 21, 12, 0), False),  # Saturday
        (at(2026, 12, 24, 12, 0), False),  # holiday (Thursday)
    ],
)
def test_line_is_working(line, moment, working):
    assert line_is_working(line=line, at=moment) is working


def test_time_zone_of_the_line_is_used(line):
    # 08:30 UTC is 09:30 in Prague (winter time).
    assert line_is_working(line=line, at=datetime(2026, 11, 23, 8, 30, tzinfo=ZoneInfo("UTC")))


def test_without_working_hours_the_line_always_works(line):
    line.worktime_enable = False
    assert line_is_working(line=line, at=at(2026, 11, 21, 3, 0))


def test_next_start_skips_weekend_and_holidays(line):
    assert line_next_working_start(line=line, at=at(2026, 11, 20, 19, 0)) == at(2026, 11, 23, 9, 0)
    assert line_next_working_start(line=line, at=at(2026, 12, 23, 20, 0)) == at(2026, 12, 25, 9, 0)
    inside = at(2026, 11, 23, 10, 0)
    assert line_next_working_start(line=line, at=inside) == inside
