"""Messenger platform adapters: one per platform behind ``ChannelAdapter``; see docs/connectors.md.

``get_adapter(kind)`` builds an adapter configured from Django settings (environment variables read in
contactcenter/settings.py, all optional):
``CONNECTORS_TELEGRAM_API_URL``, ``CONNECTORS_GRAPH_API_URL``, ``CONNECTORS_GRAPH_API_VERSION``,
``CONNECTORS_INSTAGRAM_API_URL``, ``CONNECTORS_VIBER_API_URL``, ``CONNECTORS_HTTP_TIMEOUT`` (seconds) and
``CONNECTORS_MAX_MEDIA_BYTES``. Tests pass their own ``httpx.Client`` (e.g. with a ``MockTransport``).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
from django.conf import settings

from contactcenter.connectors.adapters.base import DEFAULT_MAX_MEDIA_BYTES, ChannelAdapter
from contactcenter.connectors.adapters.instagram import INSTAGRAM_API_URL, InstagramAdapter
from contactcenter.connectors.adapters.messenger import MessengerAdapter
from contactcenter.connectors.adapters.meta import DEFAULT_GRAPH_VERSION, GRAPH_API_URL
from contactcenter.connectors.adapters.telegram import TELEGRAM_API_URL, TelegramAdapter
from contactcenter.connectors.adapters.viber import VIBER_API_URL, ViberAdapter
from contactcenter.connectors.adapters.whatsapp import WhatsAppAdapter

ADAPTER_KINDS = ("telegram", "whatsapp", "viber", "messenger", "instagram")

_client_lock = threading.Lock()
_shared_client: httpx.Client | None = None


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def shared_http_client() -> httpx.Client:
    """One pooled client for the process; httpx clients are safe to share between threads."""
    global _shared_client
    with _client_lock:
        if _shared_client is None:
            timeout = float(_setting("CONNECTORS_HTTP_TIMEOUT", 15.0))
            _shared_client = httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
                headers={"User-Agent": "contactcenter-connectors/1"},
                follow_redirects=False,
            )
        return _shared_client


def get_adapter(kind: str, *, client: httpx.Client | None = None) -> ChannelAdapter[Any]:
    """The adapter for a channel kind; raises ``ValueError`` for an unknown kind."""
    http = client if client is not None else shared_http_client()
    max_bytes = int(_setting("CONNECTORS_MAX_MEDIA_BYTES", DEFAULT_MAX_MEDIA_BYTES))
    graph_url = _setting("CONNECTORS_GRAPH_API_URL", GRAPH_API_URL)
    graph_version = _setting("CONNECTORS_GRAPH_API_VERSION", DEFAULT_GRAPH_VERSION)
    if kind == "telegram":
        return TelegramAdapter(
            client=http,
            base_url=_setting("CONNECTORS_TELEGRAM_API_URL", TELEGRAM_API_URL),
            max_media_bytes=min(max_bytes, 20 * 1024 * 1024),
        )
    if kind == "whatsapp":
        return WhatsAppAdapter(
            client=http, graph_url=graph_url, graph_version=graph_version, max_media_bytes=max_bytes
        )
    if kind == "messenger":
        return MessengerAdapter(
            client=http, graph_url=graph_url, graph_version=graph_version, max_media_bytes=max_bytes
        )
    if kind == "instagram":
        return InstagramAdapter(
            client=http,
            graph_url=graph_url,
            graph_version=graph_version,
            instagram_url=_setting("CONNECTORS_INSTAGRAM_API_URL", INSTAGRAM_API_URL),
            max_media_bytes=max_bytes,
        )
    if kind == "viber":
        return ViberAdapter(
            client=http,
            base_url=_setting("CONNECTORS_VIBER_API_URL", VIBER_API_URL),
            max_media_bytes=max_bytes,
        )
    raise ValueError(f"unknown channel kind {kind!r}")


__all__ = ["ADAPTER_KINDS", "get_adapter", "shared_http_client"]
