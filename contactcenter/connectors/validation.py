"""The rules for a connector's account and credentials, shared by the Contact Center forms and services."""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.utils.translation import gettext as _

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector

TELEGRAM_TOKEN = re.compile(r"^(\d{3,20}):[A-Za-z0-9_-]{20,}$")


def telegram_bot_id(token: str) -> str | None:
    """The bot id a Telegram token starts with, or None if it is not shaped like a token."""
    match = TELEGRAM_TOKEN.match(token.strip())
    return match.group(1) if match else None


def connector_account_id(*, kind: str, account_id: str, secrets: Mapping[str, str]) -> str:
    """The account id to store: as given, or for Telegram derived from the bot token when left empty."""
    account_id = account_id.strip()
    if not account_id and kind == ConnectorKind.TELEGRAM:
        return telegram_bot_id(secrets.get("bot_token", "")) or ""
    return account_id


def connector_errors(
    *,
    kind: str,
    account_id: str,
    secrets: Mapping[str, str],
    instance: Connector | None = None,
) -> dict[str, list[str]]:
    """Field -> messages for a connector about to be saved; empty when it is valid.

    `secrets` holds only the credentials being set now (empty values mean "keep the stored one" when
    `instance` is given). `account_id` is the value after `connector_account_id`.
    """
    errors: dict[str, list[str]] = {}
    try:
        spec = ConnectorKind(kind).spec
    except ValueError:
        return {"kind": [_("Unknown channel.")]}
    if not spec.has_account and account_id:
        errors["account_id"] = [_("This channel has no account to enter.")]
    if spec.is_messenger_account and not account_id:
        errors["account_id"] = [_("Enter the account (%(label)s).") % {"label": spec.account_label}]
    for secret in spec.secret_fields:
        given = secrets.get(secret.name, "").strip()
        stored = bool(instance and instance.secret_is_set(secret.name))
        if not given and not stored:
            errors[secret.name] = [_("This credential is required.")]
    new_token = secrets.get("bot_token", "").strip()
    token = new_token or (instance.secrets.get("bot_token", "") if instance else "")
    if kind == ConnectorKind.TELEGRAM and token:
        bot_id = telegram_bot_id(token)
        if bot_id is None:
            if new_token:
                errors["bot_token"] = [_("This does not look like a Telegram bot token (123456:ABC...).")]
        elif account_id and bot_id != account_id:
            errors["bot_token"] = [
                _("The token belongs to bot %(bot)s, not to the bot ID entered.") % {"bot": bot_id}
            ]
    if account_id and "account_id" not in errors:
        # A disconnected connector of the account is no obstacle: connecting takes it up again.
        taken = Connector.objects.filter(kind=kind, account_id=account_id, disconnected_at__isnull=True)
        if instance is not None and instance.pk:
            taken = taken.exclude(pk=instance.pk)
        if taken.exists():
            errors["account_id"] = [
                _("This %(kind)s account is already connected to a line; an account can feed only one line.")
                % {"kind": ConnectorKind(kind).label}
            ]
    return errors
