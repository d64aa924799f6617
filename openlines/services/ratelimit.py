"""Counters in the Django cache for public endpoints (the live chat widget)."""

from __future__ import annotations

from django.core.cache import cache


def rate_limit_hit(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; True when it is over `limit` within the window (the caller refuses it).

    The window starts at the first hit and the counter expires with it (incr keeps the expiry in both
    the local-memory and the Redis cache), so a burst is never split across two aligned windows.
    """
    bucket = f"rl:{key}"
    cache.add(bucket, 0, timeout=window_seconds)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add() and incr()
        cache.add(bucket, 1, timeout=window_seconds)
        count = 1
    return count > limit
