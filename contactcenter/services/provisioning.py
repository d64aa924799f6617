"""Registering and unregistering a messenger channel's webhook on its platform.

Connecting creates the connector first and commits it, because Viber (and Meta with an overridden
callback) calls the new webhook URL during registration and the view must find the channel. If the
platform refuses, the connect is undone (`connector_connect_undo`) and the platform's reason is shown next
to the form.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters.base import ChannelApiError, ConnectResult
from contactcenter.connectors.channels import (
    adapter_for,
    credentials_for,
    generated_secrets,
    is_messenger_kind,
    webhook_url,
)
from contactcenter.models import Connector

logger = logging.getLogger(__name__)


def connector_provision(*, connector: Connector, base_url: str) -> ConnectResult | None:
    """Make the channel's secrets and register its webhook; raises ValidationError with the reason."""
    if not is_messenger_kind(connector.kind):
        return None
    missing = {k: v for k, v in generated_secrets(connector.kind).items() if not connector.secrets.get(k)}
    if missing:
        connector.secrets = {**connector.secrets, **missing}
        connector.save(update_fields=["secrets"])
    try:
        return adapter_for(connector).connect(
            credentials_for(connector), webhook_url=webhook_url(connector, base_url=base_url)
        )
    except ChannelApiError as exc:
        logger.info("Registering %r refused: %s", connector, exc.error.detail or exc.error.code)
        raise ValidationError(exc.error.reason) from exc


def connector_unprovision(*, connector: Connector) -> str:
    """Unregister the webhook; returns the platform's reason when it refused ("" when done)."""
    # A channel switched off (inactive) still has its webhook registered at the platform.
    if not is_messenger_kind(connector.kind) or connector.is_disconnected:
        return ""
    try:
        adapter_for(connector).disconnect(credentials_for(connector))
    except ChannelApiError as exc:
        logger.info("Unregistering %r refused: %s", connector, exc.error.detail or exc.error.code)
        return exc.error.reason
    return ""


@dataclass(frozen=True)
class RefreshOutcome:
    """What re-registering one channel's webhook did: `ok`, `failed` (with the platform's reason) or
    `skipped` (with why: nothing to register, switched off)."""

    connector: Connector
    status: str
    detail: str = ""


def connectors_refresh(*, connectors: Iterable[Connector], base_url: str) -> list[RefreshOutcome]:
    """Register the webhook of every given channel again with the current public URL (after a change of
    domain or of `CONNECTORS_PUBLIC_URL`), as connecting does: Telegram setWebhook with its secret, Viber
    set_webhook, Meta's subscribed_apps. Safe to run twice: the platforms replace the registration and the
    channel's secrets are kept. Disconnected channels are left out."""
    outcomes = []
    for connector in connectors:
        if connector.is_disconnected:
            continue
        if not is_messenger_kind(connector.kind):
            outcomes.append(
                RefreshOutcome(connector, "skipped", _("nothing to register: the platform does not call us"))
            )
            continue
        if not connector.active:
            outcomes.append(RefreshOutcome(connector, "skipped", _("switched off")))
            continue
        try:
            connector_provision(connector=connector, base_url=base_url)
        except ValidationError as error:
            outcomes.append(RefreshOutcome(connector, "failed", " ".join(error.messages)))
        else:
            outcomes.append(RefreshOutcome(connector, "ok", webhook_url(connector, base_url=base_url)))
    logger.info(
        "Webhooks re-registered: %s",
        ", ".join(f"{o.connector.pk}={o.status}" for o in outcomes) or "no channel",
    )
    return outcomes
