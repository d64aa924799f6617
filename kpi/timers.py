"""The KPI overdue check in the deadline loop (see contactcenter.timers)."""

from __future__ import annotations

from datetime import datetime

from contactcenter.timers import register_timer
from kpi.services.clocks import kpi_overdue_apply


@register_timer("kpi_overdue")
def kpi_overdue_timer(now: datetime) -> int:
    return kpi_overdue_apply(now)
