"""Leave boundaries: routing hears when an agent's leave begins or ends, at the change of date or after an
absence was edited in the admin (no write of the engine's happens at those moments)."""

from __future__ import annotations

from datetime import datetime

from contactcenter.services.availability import leave_changes_announce
from contactcenter.timers import register_timer


@register_timer("leave_changes")
def leave_changes_apply(now: datetime) -> int:
    return leave_changes_announce(now=now)
