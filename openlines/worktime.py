"""Working hours of a line (Worktime tab): is the line working at a moment, and when does it next start."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from openlines.models import OpenLine

WEEKDAY_CODES = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def _zone(line: OpenLine) -> ZoneInfo:
    try:
        return ZoneInfo(line.worktime_timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _is_working_day(line: OpenLine, day: date) -> bool:
    if WEEKDAY_CODES[day.weekday()] in set(line.worktime_dayoff or []):
        return False
    return f"{day.day:02d}.{day.month:02d}" not in set(line.worktime_holidays or [])


def line_is_working(*, line: OpenLine, at: datetime | None = None) -> bool:
    """Always true when the line has no working hours; otherwise inside [from, to) on a working day."""
    if not line.worktime_enable:
        return True
    local = timezone.localtime(at or timezone.now(), _zone(line))
    if not _is_working_day(line, local.date()):
        return False
    return line.worktime_from <= local.time().replace(tzinfo=None) < line.worktime_to


def line_next_working_start(*, line: OpenLine, at: datetime | None = None) -> datetime:
    """`at` itself when the line is working then, else the next moment its working hours begin."""
    at = at or timezone.now()
    if line_is_working(line=line, at=at):
        return at
    zone = _zone(line)
    local = timezone.localtime(at, zone)
    for offset in range(0, 370):
        day = local.date() + timedelta(days=offset)
        if not _is_working_day(line, day):
            continue
        start = datetime.combine(day, line.worktime_from, tzinfo=zone)
        if start > at:
            return start
    return at  # every day is off: treat the line as working so that nothing waits forever
