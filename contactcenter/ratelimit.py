"""Rate limits of the public endpoints, applied in the view layer; the counters are in
openlines.services.ratelimit (the cache: per process when embedded, shared through Redis when scaled).

Every limit is a setting (0 turns it off). Behind a reverse proxy every request comes from the proxy's
address, so per-address limits read the client address from the header named by PROXY_ADDRESS_HEADER,
which the proxy must set (and overwrite, never pass through from the client).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from openlines.services.ratelimit import RateLimit, rate_limit_count, rate_limit_reached

MINUTE = 60
# Webhooks and API tokens count per minute; module constants so a test can shorten the window.
WEBHOOK_WINDOW_SECONDS = MINUTE
API_WINDOW_SECONDS = MINUTE

_NOT_LIMITED = RateLimit(limited=False, retry_after=0)


def client_ip(request: HttpRequest) -> str:
    """The client's address: the socket peer, or the last address in PROXY_ADDRESS_HEADER (the one our
    own proxy appended: earlier entries of X-Forwarded-For come from the client and prove nothing)."""
    header = settings.PROXY_ADDRESS_HEADER
    if header:
        meta_key = header.upper().replace("-", "_")
        if not meta_key.startswith("HTTP_"):
            meta_key = f"HTTP_{meta_key}"
        forwarded = str(request.META.get(meta_key, ""))
        last = forwarded.rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass  # missing or not an address: the peer is all we know
    return str(request.META.get("REMOTE_ADDR", ""))


def webhook_limit(key: str) -> RateLimit:
    """One request to a messenger webhook: per channel, or per client address on an app-level URL."""
    limit = settings.WEBHOOK_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return _NOT_LIMITED
    return rate_limit_count(key=f"wh:{key}", limit=limit, window_seconds=WEBHOOK_WINDOW_SECONDS)


def api_token_limit(key: str) -> RateLimit:
    """One request authenticated by a token (personal API token, REST connector token, bot secret)."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if limit <= 0:
        return _NOT_LIMITED
    return rate_limit_count(key=f"api:{key}", limit=limit, window_seconds=API_WINDOW_SECONDS)


def _username_hash(username: str) -> str:
    # Usernames are hashed: they are arbitrary text, and cache keys must not be.
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _pair_key(request: HttpRequest, username: str) -> str:
    return f"rl:login:pair:{_username_hash(username)}:{client_ip(request)}"


def _ip_key(request: HttpRequest) -> str:
    return f"login:ip:{client_ip(request)}"


def _now() -> float:
    return timezone.now().timestamp()


def login_lock_seconds(failures: int) -> int:
    """The delay after the `failures`-th failure of one username from one address: none below the
    threshold, then the base delay, doubling with each further failure up to the maximum."""
    threshold = settings.LOGIN_LOCKOUT_FAILURES
    if threshold <= 0 or failures < threshold:
        return 0
    grown = settings.LOGIN_LOCKOUT_BASE_SECONDS * 2 ** min(failures - threshold, 20)
    return int(min(grown, settings.LOGIN_LOCKOUT_MAX_SECONDS))


def login_blocked(request: HttpRequest, username: str) -> RateLimit:
    """Whether this username from this address is still in its delay, or this address has used up its
    failed logins for the window. A username is never locked for other addresses (that would let anybody
    lock its owner out)."""
    worst = _NOT_LIMITED
    try:
        until = cache.get(f"{_pair_key(request, username)}:until")
    except Exception:
        until = None
    if isinstance(until, (int, float)) and until > _now():
        worst = RateLimit(limited=True, retry_after=max(1, math.ceil(until - _now())))
    limit = settings.LOGIN_RATE_LIMIT_FAILURES_PER_IP
    if limit > 0:
        state = rate_limit_reached(
            key=_ip_key(request), limit=limit, window_seconds=settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS
        )
        if state.limited and state.retry_after > worst.retry_after:
            worst = state
    return worst


def _incremented(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)
        return 1


def login_failed(request: HttpRequest, username: str) -> bool:
    """Count a failed login: per address, per (username, address) pair (starting or growing its delay) and
    per username. True when the username's failures from all addresses just reached
    LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME for the first time in the window: the owner should be told."""
    window = settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS
    limit = settings.LOGIN_RATE_LIMIT_FAILURES_PER_IP
    if limit > 0:
        rate_limit_count(key=_ip_key(request), limit=limit, window_seconds=window)
    pair = _pair_key(request, username)
    try:
        # The pair's count lives as long as its longest delay, so the delay keeps growing for an attacker
        # who waits out each one.
        failures = _incremented(pair, max(window, settings.LOGIN_LOCKOUT_MAX_SECONDS))
        delay = login_lock_seconds(failures)
        if delay:
            cache.set(f"{pair}:until", _now() + delay, delay + 1)
        name = _username_hash(username)
        per_username = settings.LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME
        if per_username <= 0 or _incremented(f"rl:login:user:{name}", window) < per_username:
            return False
        return bool(cache.add(f"rl:login:notified:{name}", 1, window))
    except Exception:
        return False


def login_succeeded(request: HttpRequest, username: str) -> None:
    """The right password from this address ends the pair's delay history."""
    pair = _pair_key(request, username)
    try:
        cache.delete_many([pair, f"{pair}:until"])
    except Exception:
        return
