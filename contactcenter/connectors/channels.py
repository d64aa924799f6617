"""From a stored connector to what the platform adapters need: credentials, webhook URL, the adapter.

Generated per-channel secrets live in `Connector.secrets` next to the entered ones: `secret_token`
(Telegram's webhook header) and `verify_token` (Meta's handshake). They are made once, when the channel
is connected, and never rendered back.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from contactcenter.connectors.adapters import ADAPTER_KINDS, get_adapter
from contactcenter.connectors.adapters.base import (
    ChannelAdapter,
    ChannelCredentials,
    InstagramCredentials,
    MessengerCredentials,
    TelegramCredentials,
    ViberCredentials,
    WhatsAppCredentials,
    new_secret_token,
)
from contactcenter.models import Connector

# Kinds whose webhook handshake needs a verify token we generate.
_VERIFY_TOKEN_KINDS = ("whatsapp", "messenger", "instagram")
# Meta's kinds: one callback URL per app, events routed by the account ids inside them.
META_KINDS = ("whatsapp", "messenger", "instagram")


def is_messenger_kind(kind: str) -> bool:
    return kind in ADAPTER_KINDS


def adapter_for(connector: Connector) -> ChannelAdapter[Any]:
    return get_adapter(connector.kind)


def generated_secrets(kind: str) -> dict[str, str]:
    """The secrets we make for a new channel of `kind` (none for kinds without a webhook secret)."""
    if kind == "telegram":
        return {"secret_token": new_secret_token()}
    if kind in _VERIFY_TOKEN_KINDS:
        return {"verify_token": new_secret_token()}
    return {}


def credentials_for(connector: Connector) -> ChannelCredentials:
    """The adapter credentials of a messenger connector; raises ValueError for other kinds."""
    secrets = connector.secrets
    kind = connector.kind
    if kind == "telegram":
        return TelegramCredentials(
            bot_token=secrets.get("bot_token", ""), secret_token=secrets.get("secret_token", "")
        )
    if kind == "whatsapp":
        return WhatsAppCredentials(
            phone_number_id=connector.account_id,
            business_account_id=secrets.get("business_account_id", ""),
            access_token=secrets.get("access_token", ""),
            app_secret=secrets.get("app_secret", ""),
            verify_token=secrets.get("verify_token", ""),
        )
    if kind == "messenger":
        return MessengerCredentials(
            page_id=connector.account_id,
            page_access_token=secrets.get("page_access_token", ""),
            app_secret=secrets.get("app_secret", ""),
            verify_token=secrets.get("verify_token", ""),
        )
    if kind == "instagram":
        return InstagramCredentials(
            account_id=connector.account_id,
            access_token=secrets.get("access_token", ""),
            app_secret=secrets.get("app_secret", ""),
            verify_token=secrets.get("verify_token", ""),
        )
    if kind == "viber":
        # Viber shows this as the sender of our messages; at most 28 characters.
        return ViberCredentials(auth_token=secrets.get("auth_token", ""), sender_name=connector.name[:28])
    raise ValueError(f"{kind!r} is not a messenger connector")


def webhook_path(connector: Connector) -> str:
    return reverse("connector_webhook", kwargs={"kind": connector.kind, "uuid": connector.uuid})


def webhook_url(connector: Connector, *, base_url: str = "") -> str:
    """The public URL the platform posts to: `CONNECTORS_PUBLIC_URL` (behind a proxy) or `base_url`."""
    base = (getattr(settings, "CONNECTORS_PUBLIC_URL", "") or base_url).rstrip("/")
    return f"{base}{webhook_path(connector)}"


def app_webhook_url(kind: str, *, base_url: str = "") -> str:
    """The one URL to set in Meta's App Dashboard for every account of an app (Meta kinds only)."""
    base = (getattr(settings, "CONNECTORS_PUBLIC_URL", "") or base_url).rstrip("/")
    return f"{base}{reverse('meta_app_webhook', kwargs={'kind': kind})}"
