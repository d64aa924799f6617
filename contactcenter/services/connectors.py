"""Connect channels to open lines, change their credentials, disconnect them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.connectors.validation import connector_account_id, connector_errors
from contactcenter.models import Connector
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


def connector_create(
    *,
    kind: str,
    line: OpenLine,
    name: str,
    account_id: str = "",
    secrets: Mapping[str, str] | None = None,
    active: bool = True,
) -> Connector:
    """Connect a channel to `line`. Raises ValidationError (field -> messages) when the rules refuse it."""
    secrets = _clean_secrets(kind, secrets or {})
    account_id = connector_account_id(kind=kind, account_id=account_id, secrets=secrets)
    errors = connector_errors(kind=kind, account_id=account_id, secrets=secrets)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
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
    return connector


def connector_update(
    *,
    connector: Connector,
    name: str,
    account_id: str,
    active: bool,
    secrets: Mapping[str, str] | None = None,
) -> Connector:
    """Change a connector; credentials given non-empty replace the stored ones, the others are kept."""
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


def connector_delete(*, connector: Connector) -> None:
    logger.info("Disconnected %r", connector)
    connector.delete()
