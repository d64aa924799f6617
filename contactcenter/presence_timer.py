"""Presence expiry: an agent whose last heartbeat is older than the idle limit goes offline."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction

from contactcenter.models import Presence
from contactcenter.selectors import Unavailability
from contactcenter.signals import availability_changed
from contactcenter.timers import register_timer

BATCH = 500


def _announce_offline(user_id: int) -> None:
    availability_changed.send(
        sender=Presence, user_id=user_id, available=False, reason=Unavailability.OFFLINE.value
    )


@register_timer("presence_expiry")
def presence_expire(now: datetime) -> int:
    cutoff = now - timedelta(seconds=settings.PRESENCE_IDLE_SECONDS)
    expired = 0
    stale = Presence.objects.filter(last_seen__lt=cutoff).values_list("pk", "user_id", "last_seen")[:BATCH]
    for pk, user_id, last_seen in stale:
        # Optimistic claim: only the process whose update matches the value it read announces it.
        with transaction.atomic():
            if Presence.objects.filter(pk=pk, last_seen=last_seen).update(last_seen=None, connections=0):
                expired += 1
                transaction.on_commit(partial(_announce_offline, user_id))
    return expired
