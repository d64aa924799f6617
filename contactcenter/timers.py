"""The deadline loop: every registered applier claims what is due in the database and applies it.

Appliers must be idempotent and safe to run in several processes at once (claim rows with
`SELECT ... FOR UPDATE SKIP LOCKED` or an optimistic update), so the loop may run inside `serve`
(embedded mode) or as one or more `manage.py runtimers` processes (scaled mode). A restart loses
nothing: the deadlines are rows, not in-memory timers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from contactcenter.heartbeats import TIMERS, heartbeat_beat, heartbeat_forget

logger = logging.getLogger(__name__)

TimerApplier = Callable[[datetime], int]
_appliers: dict[str, TimerApplier] = {}

HEARTBEAT_EVERY_SECONDS = 5.0


def register_timer(name: str) -> Callable[[TimerApplier], TimerApplier]:
    """Register `fn(now) -> number of deadlines applied` to run on every tick of the loop."""

    def decorator(fn: TimerApplier) -> TimerApplier:
        _appliers[name] = fn
        return fn

    return decorator


def registered_timers() -> dict[str, TimerApplier]:
    return dict(_appliers)


def run_due_timers(now: datetime | None = None) -> int:
    """One tick: apply everything due at `now`. Returns how many deadlines were applied."""
    now = now or timezone.now()
    applied = 0
    for name, applier in _appliers.items():
        try:
            applied += applier(now)
        except Exception:
            # One broken applier must not stop the others; it is retried on the next tick.
            logger.exception("timer applier %s failed", name)
    return applied


def _tick(last_beat: float) -> float:
    try:
        run_due_timers()
        if time.monotonic() - last_beat >= HEARTBEAT_EVERY_SECONDS:
            heartbeat_beat(name=TIMERS)
            last_beat = time.monotonic()
    finally:
        close_old_connections()
    return last_beat


async def timers_loop(stop: asyncio.Event) -> None:
    """Runs until `stop` is set; each tick runs in a worker thread so the event loop stays free."""
    interval = settings.TIMERS_INTERVAL_SECONDS
    last_beat = float("-inf")
    logger.info("timer loop started (every %.1fs)", interval)
    try:
        while not stop.is_set():
            try:
                last_beat = await sync_to_async(_tick, thread_sensitive=False)(last_beat)
            except Exception:
                logger.exception("timer tick failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
    finally:
        await sync_to_async(heartbeat_forget, thread_sensitive=False)(name=TIMERS)
        logger.info("timer loop stopped")
