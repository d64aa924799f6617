"""Counters in the Django cache for public endpoints (live chat, webhooks, API tokens, staff login).

When the cache cannot be reached (Redis down) the limits fail open: refusing every webhook, API call and
login because a counter is unavailable would turn a Redis outage into a full outage.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimit:
    limited: bool
    # Whole seconds until the window ends and the counter starts again (0 when not limited).
    retry_after: int


def _bucket(key: str) -> str:
    return f"rl:{key}"


def _retry_after(key: str, window_seconds: int) -> int:
    started = cache.get(f"{_bucket(key)}:start")
    if not isinstance(started, (int, float)):
        return window_seconds
    return max(1, min(window_seconds, math.ceil(started + window_seconds - time.time())))


def rate_limit_count(*, key: str, limit: int, window_seconds: int) -> RateLimit:
    """Count one hit on `key`; limited when it is over `limit` within the window (the caller refuses it).

    The window starts at the first hit and the counter expires with it (incr keeps the expiry in both
    the local-memory and the Redis cache), so a burst is never split across two aligned windows.
    """
    try:
        return _count(key=key, limit=limit, window_seconds=window_seconds)
    except Exception as exc:  # the cache backend's own errors (redis.ConnectionError, timeouts...)
        logger.warning("rate limit %s not counted, cache unavailable: %s", key, exc)
        return RateLimit(limited=False, retry_after=0)


def _count(*, key: str, limit: int, window_seconds: int) -> RateLimit:
    bucket = _bucket(key)
    if cache.add(bucket, 0, timeout=window_seconds):
        cache.set(f"{bucket}:start", time.time(), timeout=window_seconds)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add() and incr()
        cache.add(bucket, 1, timeout=window_seconds)
        count = 1
    if count <= limit:
        return RateLimit(limited=False, retry_after=0)
    return RateLimit(limited=True, retry_after=_retry_after(key, window_seconds))


def rate_limit_reached(*, key: str, limit: int, window_seconds: int) -> RateLimit:
    """Whether `key` has already been counted `limit` times in its window, without counting (for limits
    on failures, which are counted only once they happen)."""
    try:
        count = cache.get(_bucket(key))
        if not isinstance(count, int) or count < limit:
            return RateLimit(limited=False, retry_after=0)
        return RateLimit(limited=True, retry_after=_retry_after(key, window_seconds))
    except Exception as exc:  # see rate_limit_count
        logger.warning("rate limit %s not read, cache unavailable: %s", key, exc)
        return RateLimit(limited=False, retry_after=0)


def rate_limit_hit(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; True when it is over `limit` within the window."""
    return rate_limit_count(key=key, limit=limit, window_seconds=window_seconds).limited
