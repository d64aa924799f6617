"""Connect channels to open lines, change their credentials, disconnect and reconnect them.

Disconnecting never deletes: the connector stays with every client, conversation, message, file and CRM
link, switched off and marked `disconnected_at`; its webhook is removed at the platform and the platform
credentials are forgotten. Connecting the same account again (same bot, phone number id, page, Instagram
account, Viber bot; for the live chat the same line) to any line takes the same row up again, so the
clients write on in their own history. A REST connector is re-activated as it was (`connector_reconnect`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.connectors.channels import is_messenger_kind
from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.connectors.validation import connector_account_id, connector_errors
from contactcenter.models import Connector, OutboundDelivery
from openlines.models import OpenLine

logger = logging.getLogger(__name__)


def _account_taken_error(kind: str) -> ValidationError:
    return ValidationError(
        {
            "account_id": _(
                "This %(kind)s account is already connected to a line; an account can feed only one line."
            )
            % {"kind": ConnectorKind(kind).label}
        }
    )


def _clean_secrets(kind: str, secrets: Mapping[str, str]) -> dict[str, str]:
    names = {field.name for field in ConnectorKind(kind).spec.secret_fields}
    return {name: value.strip() for name, value in secrets.items() if name in names and value.strip()}


@dataclass(frozen=True)
class Connection:
    """A connect: the connector, and for a disconnected one taken up again its state before (for undo)."""

    connector: Connector
    reconnected: bool = False
    previous: dict[str, Any] = field(default_factory=dict)


_RESTORED_FIELDS = ("line_id", "name", "secrets", "active", "disconnected_at")


def _disconnected_match(*, kind: str, line: OpenLine, account_id: str) -> Connector | None:
    """The disconnected connector a connect of this account (live chat: of this line) continues."""
    disconnected = Connector.objects.select_for_update().filter(kind=kind, disconnected_at__isnull=False)
    if account_id:
        return disconnected.filter(account_id=account_id).first()
    if kind == ConnectorKind.LIVECHAT:
        return disconnected.filter(line=line).order_by("id").first()
    return None


def connector_connect(
    *,
    kind: str,
    line: OpenLine,
    name: str,
    account_id: str = "",
    secrets: Mapping[str, str] | None = None,
    active: bool = True,
) -> Connection:
    """Connect a channel to `line`: a new connector, or the disconnected one of the same account taken up
    again with its clients. Raises ValidationError (field -> messages) when the rules refuse it."""
    secrets = _clean_secrets(kind, secrets or {})
    account_id = connector_account_id(kind=kind, account_id=account_id, secrets=secrets)
    errors = connector_errors(kind=kind, account_id=account_id, secrets=secrets)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            existing = _disconnected_match(kind=kind, line=line, account_id=account_id)
            if existing is not None:
                previous = {name_: getattr(existing, name_) for name_ in _RESTORED_FIELDS}
                existing.line = line
                existing.name = name.strip() or existing.name
                existing.secrets = {**existing.secrets, **secrets}
                existing.active = active
                existing.disconnected_at = None
                existing.save(update_fields=["line", "name", "secrets", "active", "disconnected_at"])
                logger.info("Reconnected %r", existing)
                return Connection(connector=existing, reconnected=True, previous=previous)
            connector = Connector.objects.create(
                kind=kind,
                line=line,
                name=name.strip() or str(ConnectorKind(kind).label),
                account_id=account_id,
                secrets=secrets,
                active=active,
            )
    except IntegrityError:
        # Another request connected the same account between the check and the insert.
        raise _account_taken_error(kind) from None
    logger.info("Connected %r", connector)
    return Connection(connector=connector)


def connector_create(
    *,
    kind: str,
    line: OpenLine,
    name: str,
    account_id: str = "",
    secrets: Mapping[str, str] | None = None,
    active: bool = True,
) -> Connector:
    """`connector_connect` for callers that need only the connector."""
    return connector_connect(
        kind=kind, line=line, name=name, account_id=account_id, secrets=secrets, active=active
    ).connector


def connector_connect_undo(*, connection: Connection) -> None:
    """The platform refused the connect: a new connector goes again, a reconnected one is put back as it
    was. A new connector that got a client meanwhile is kept, disconnected, with that client."""
    connector = connection.connector
    with transaction.atomic():
        if connection.reconnected:
            for name, value in connection.previous.items():
                setattr(connector, name, value)
            connector.save(update_fields=["line", "name", "secrets", "active", "disconnected_at"])
        elif connector.clients.exists():
            _mark_disconnected(connector)
        else:
            connector.delete()


def _mark_disconnected(connector: Connector) -> None:
    connector.active = False
    connector.disconnected_at = timezone.now()
    if is_messenger_kind(connector.kind):
        # The platform credentials are no longer needed; connecting again asks for them anyway.
        connector.secrets = {}
    connector.save(update_fields=["active", "disconnected_at", "secrets"])


def connector_update(
    *,
    connector: Connector,
    name: str,
    account_id: str,
    active: bool,
    secrets: Mapping[str, str] | None = None,
) -> Connector:
    """Change a connector; credentials given non-empty replace the stored ones, the others are kept.

    A disconnected connector keeps no platform credentials: only its name can change here, and it is
    switched on again only by connecting it (`connector_connect`, `connector_reconnect`)."""
    if connector.is_disconnected:
        if active:
            raise ValidationError(
                {
                    "active": _(
                        "This channel is disconnected: connect it again from the Contact Center page to "
                        "switch it on."
                    )
                }
            )
        connector.name = name.strip() or connector.name
        connector.save(update_fields=["name"])
        return connector
    replacing = _clean_secrets(connector.kind, secrets or {})
    account_id = connector_account_id(
        kind=connector.kind, account_id=account_id, secrets={**connector.secrets, **replacing}
    )
    errors = connector_errors(
        kind=connector.kind, account_id=account_id, secrets=replacing, instance=connector
    )
    if errors:
        raise ValidationError(errors)
    connector.name = name.strip() or connector.name
    connector.account_id = account_id
    connector.active = active
    connector.secrets = {**connector.secrets, **replacing}
    try:
        with transaction.atomic():
            connector.save(update_fields=["name", "account_id", "active", "secrets"])
    except IntegrityError:
        raise _account_taken_error(connector.kind) from None
    logger.info("Updated %r (credentials replaced: %s)", connector, sorted(replacing) or "none")
    return connector


def connector_disconnect(*, connector: Connector) -> str:
    """Disconnect a channel, keeping its history. Returns the platform's reason when it did not confirm
    removing the webhook ("" when it did or there is none); the channel is disconnected either way."""
    from contactcenter.services.provisioning import connector_unprovision

    refused = connector_unprovision(connector=connector)
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        if not locked.is_disconnected:
            _mark_disconnected(locked)
            # Messages still waiting for a retry fail now, with the reason, instead of at their next try.
            OutboundDelivery.objects.filter(
                connector=locked, status=OutboundDelivery.Status.PENDING
            ).update(next_attempt_at=timezone.now())
    connector.refresh_from_db()
    logger.info("Disconnected %r (history kept)", connector)
    return refused


def connector_reconnect(*, connector: Connector) -> Connector:
    """Switch a disconnected channel without a platform account (live chat, REST connector) on again, with
    its clients and credentials. Messenger accounts are connected again through the connect form."""
    if is_messenger_kind(connector.kind):
        raise ValidationError(_("Connect this messenger account again with its credentials."))
    with transaction.atomic():
        locked = Connector.objects.select_for_update().get(pk=connector.pk)
        if locked.is_disconnected:
            locked.active = True
            locked.disconnected_at = None
            locked.save(update_fields=["active", "disconnected_at"])
    connector.refresh_from_db()
    logger.info("Reconnected %r", connector)
    return connector

