"""Liveness records of background loops, written by the loops and read by /healthz."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from contactcenter.models import WorkerHeartbeat

TIMERS = "timers"
TASKS = "tasks"


def heartbeat_beat(*, name: str) -> None:
    host, pid = socket.gethostname(), os.getpid()
    updated = WorkerHeartbeat.objects.filter(name=name, host=host, pid=pid).update(beat_at=timezone.now())
    if not updated:
        WorkerHeartbeat.objects.update_or_create(
            name=name, host=host, pid=pid, defaults={"beat_at": timezone.now()}
        )


def heartbeat_forget(*, name: str) -> None:
    WorkerHeartbeat.objects.filter(name=name, host=socket.gethostname(), pid=os.getpid()).delete()


def heartbeat_is_fresh(*, name: str) -> bool:
    cutoff = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    return WorkerHeartbeat.objects.filter(name=name, beat_at__gte=cutoff).exists()
