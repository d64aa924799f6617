"""Rate limits of the public endpoints, applied in the view layer; the counters are in
openlines.services.ratelimit (the cache: per process when embedded, shared through Redis when scaled).

Every limit is a setting (0 turns it off). Behind a reverse proxy every request comes from the proxy's
address, so per-address limits read the client address from the header named by PROXY_ADDRESS_HEADER,
which the proxy must set (and overwrite, never pass through from the client).
"""

from __future__ import annotations

import hashlib
import ipaddress

from django.conf import settings
from django.http import HttpRequest

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


def _login_keys(request: HttpRequest, username: str) -> list[tuple[str, int]]:
    # Usernames are hashed: they are arbitrary text, and cache keys must not be.
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [
        (f"login:user:{name}", settings.LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME),
        (f"login:ip:{client_ip(request)}", settings.LOGIN_RATE_LIMIT_FAILURES_PER_IP),
    ]


def login_blocked(request: HttpRequest, username: str) -> RateLimit:
    """Whether this address or this username has used up its failed logins for the window."""
    window = settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS
    worst = _NOT_LIMITED
    for key, limit in _login_keys(request, username):
        if limit > 0:
            state = rate_limit_reached(key=key, limit=limit, window_seconds=window)
            if state.limited and state.retry_after > worst.retry_after:
                worst = state
    return worst


def login_failed(request: HttpRequest, username: str) -> None:
    window = settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS
    for key, limit in _login_keys(request, username):
        if limit > 0:
            rate_limit_count(key=key, limit=limit, window_seconds=window)
