"""Counters in the Django cache for public endpoints (live chat, webhooks, API tokens, staff login).

When the cache cannot be reached (Redis down) the limits fail open: refusing every webhook, API call and
login because a counter is unavailable would turn a Redis outage into a full outage.

With Redis a check is one round trip (a script counts, starts the window and reads its end at once), and
the event loop's variant (`rate_limit_hit_async`, for sockets) awaits it without blocking the loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

# Count one hit; the first hit of a window (or a counter without expiry) starts the window. Returns the
# count and the window's remaining milliseconds.
_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {count, ttl}
"""
# A limiter that waits on an unreachable Redis holds the request up; better counted as unavailable.
ASYNC_REDIS_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class RateLimit:
    limited: bool
    # Whole seconds until the window ends and the counter starts again (0 when not limited).
    retry_after: int


_NOT_LIMITED = RateLimit(limited=False, retry_after=0)


def _bucket(key: str) -> str:
    return f"rl:{key}"


def _redis_backend() -> RedisCache | None:
    backend = caches["default"]
    return backend if isinstance(backend, RedisCache) else None


def _verdict(count: int, remaining_ms: int, *, limit: int, window_seconds: int) -> RateLimit:
    if count <= limit:
        return _NOT_LIMITED
    return RateLimit(limited=True, retry_after=max(1, min(window_seconds, math.ceil(remaining_ms / 1000))))


def _retry_after(key: str, window_seconds: int) -> int:
    started = cache.get(f"{_bucket(key)}:start")
    if not isinstance(started, (int, float)):
        return window_seconds
    return max(1, min(window_seconds, math.ceil(started + window_seconds - time.time())))


def rate_limit_count(*, key: str, limit: int, window_seconds: int) -> RateLimit:
    """Count one hit on `key`; limited when it is over `limit` within the window (the caller refuses it).

    The window starts at the first hit and the counter expires with it, so a burst is never split across
    two aligned windows.
    """
    try:
        redis = _redis_backend()
        if redis is not None:
            full_key = redis.make_and_validate_key(_bucket(key))
            client = redis._cache.get_client(full_key, write=True)
            count, remaining_ms = client.eval(_COUNT_SCRIPT, 1, full_key, window_seconds * 1000)
            return _verdict(int(count), int(remaining_ms), limit=limit, window_seconds=window_seconds)
        return _count_in_cache(key=key, limit=limit, window_seconds=window_seconds)
    except Exception as exc:  # the cache backend's own errors (redis.ConnectionError, timeouts...)
        logger.warning("rate limit %s not counted, cache unavailable: %s", key, exc)
        return _NOT_LIMITED


def _count_in_cache(*, key: str, limit: int, window_seconds: int) -> RateLimit:
    """The per-process cache (no I/O): incr keeps the expiry set by add, the window's start is kept."""
    bucket = _bucket(key)
    if cache.add(bucket, 0, timeout=window_seconds):
        cache.set(f"{bucket}:start", time.time(), timeout=window_seconds)
    try:
        count = cache.incr(bucket)
    except ValueError:  # expired between add() and incr()
        cache.add(bucket, 1, timeout=window_seconds)
        count = 1
    if count <= limit:
        return _NOT_LIMITED
    return RateLimit(limited=True, retry_after=_retry_after(key, window_seconds))


# One asyncio client per event loop and Redis address (a client's connections belong to one loop).
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


def _async_client(location: str) -> Any:
    from redis import asyncio as aioredis

    per_loop = _async_clients.setdefault(asyncio.get_running_loop(), {})
    if location not in per_loop:
        per_loop[location] = aioredis.Redis.from_url(
            location,
            socket_timeout=ASYNC_REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=ASYNC_REDIS_TIMEOUT_SECONDS,
        )
    return per_loop[location]


async def rate_limit_count_async(*, key: str, limit: int, window_seconds: int) -> RateLimit:
    """`rate_limit_count` for the event loop: the Redis round trip is awaited, never blocking the loop."""
    redis = _redis_backend()
    if redis is None:
        return rate_limit_count(key=key, limit=limit, window_seconds=window_seconds)
    try:
        full_key = redis.make_and_validate_key(_bucket(key))
        client = _async_client(redis._servers[0])  # type: ignore[attr-defined]  # the primary (writes)
        count, remaining_ms = await client.eval(_COUNT_SCRIPT, 1, full_key, window_seconds * 1000)
        return _verdict(int(count), int(remaining_ms), limit=limit, window_seconds=window_seconds)
    except Exception as exc:  # see rate_limit_count
        logger.warning("rate limit %s not counted, cache unavailable: %s", key, exc)
        return _NOT_LIMITED


def rate_limit_reached(*, key: str, limit: int, window_seconds: int) -> RateLimit:
    """Whether `key` has already been counted `limit` times in its window, without counting (for limits
    on failures, which are counted only once they happen)."""
    try:
        redis = _redis_backend()
        if redis is not None:
            full_key = redis.make_and_validate_key(_bucket(key))
            client = redis._cache.get_client(full_key)
            pipe = client.pipeline(transaction=False)
            pipe.get(full_key)
            pipe.pttl(full_key)
            raw, remaining_ms = pipe.execute()
            count = int(raw) if raw is not None else 0
            if count < limit:
                return _NOT_LIMITED
            return _verdict(limit + 1, int(remaining_ms), limit=limit, window_seconds=window_seconds)
        count = cache.get(_bucket(key))
        if not isinstance(count, int) or count < limit:
            return _NOT_LIMITED
        return RateLimit(limited=True, retry_after=_retry_after(key, window_seconds))
    except Exception as exc:  # see rate_limit_count
        logger.warning("rate limit %s not read, cache unavailable: %s", key, exc)
        return _NOT_LIMITED


def rate_limit_hit(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit on `key`; True when it is over `limit` within the window."""
    return rate_limit_count(key=key, limit=limit, window_seconds=window_seconds).limited


async def rate_limit_hit_async(*, key: str, limit: int, window_seconds: int) -> bool:
    """`rate_limit_hit` for the event loop (sockets)."""
    return (await rate_limit_count_async(key=key, limit=limit, window_seconds=window_seconds)).limited
