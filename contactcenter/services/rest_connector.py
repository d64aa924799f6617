"""The REST connector's writes: its credentials and callback URL, inbound messages, delivery receipts."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from contactcenter.connectors import rest
from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector
from openlines.outbound_guard import outbound_url_validate
from openlines.services.delivery import message_delivery_set
from openlines.services.ingest import message_ingest
from openlines.services.ratings import RatingRefused
from openlines.session_models import Message

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "ccr_"  # noqa: S105 - marks the kind of key, the rest is random
MAX_BATCH = 100


@dataclass(frozen=True)
class RestCredentials:
    """Shown to the administrator once; only the token's hash is kept."""

    token: str
    signing_secret: str


def _rest_only(connector: Connector) -> None:
    if connector.kind != ConnectorKind.REST:
        raise ValidationError(_("This is not a REST connector."))


def rest_connector_token_rotate(*, connector: Connector) -> RestCredentials:
    """New bearer token and callback signing secret for `connector`; the old ones stop working at once."""
    _rest_only(connector)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    signing_secret = secrets.token_urlsafe(32)
    connector.secrets = {
        **connector.secrets,
        rest.TOKEN_HASH: rest.token_hash(token),
        rest.SIGNING_SECRET: signing_secret,
    }
    connector.save(update_fields=["secrets"])
    logger.info("Rotated the credentials of %r", connector)
    return RestCredentials(token=token, signing_secret=signing_secret)


def rest_connector_callback_set(*, connector: Connector, callback_url: str) -> None:
    """Where agent messages are POSTed; an empty value removes it (messages then fail to deliver)."""
    _rest_only(connector)
    errors: dict[str, list[str]] = {}
    value = rest.url_field(callback_url.strip(), "callback_url", errors)
    if value:
        try:
            outbound_url_validate(value)
        except ValidationError as error:
            errors["callback_url"] = error.messages
    if errors:
        raise ValidationError(errors)
    connector.secrets = {**connector.secrets, rest.CALLBACK_URL: value}
    connector.save(update_fields=["secrets"])


@dataclass(frozen=True)
class ItemResult:
    """The outcome of one inbound item: 201 stored, 200 replay, 400 invalid, 409 rating refused."""

    status: int
    session_id: int | None = None
    message_id: int | None = None
    duplicate: bool = False
    rating_refused: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        if self.errors:
            return {"status": self.status, "errors": self.errors}
        data: dict[str, Any] = {
            "status": self.status,
            "session_id": self.session_id,
            "message_id": self.message_id,
            "duplicate": self.duplicate,
        }
        if self.rating_refused:
            data["rating_refused"] = self.rating_refused
        return data


def rest_messages_ingest(*, connector: Connector, items: list[Any]) -> list[ItemResult]:
    """Store inbound items in order, each on its own (one invalid item does not stop the others)."""
    _rest_only(connector)
    results = []
    for raw in items:
        try:
            parsed = rest.inbound_parse(raw)
        except ValidationError as invalid:
            results.append(ItemResult(status=400, errors=invalid.message_dict))
            continue
        try:
            outcome = message_ingest(connector=connector, client=parsed.client, message=parsed.message)
        except RatingRefused as refused:
            results.append(ItemResult(status=409, errors={"message.rating": refused.messages}))
            continue
        results.append(
            ItemResult(
                status=200 if outcome.duplicate else 201,
                session_id=outcome.session.pk,
                message_id=outcome.message.pk,
                duplicate=outcome.duplicate,
                rating_refused=outcome.rating_refused,
            )
        )
    return results


def rest_delivery_receipts_apply(
    *, connector: Connector, receipts: list[tuple[int, str]]
) -> list[dict[str, Any]]:
    """Mark our messages delivered / read as the integrator reports; a status never moves backwards.
    Ids that are not outgoing messages of this connector are reported as not found."""
    _rest_only(connector)
    ours = set(
        Message.objects.filter(
            pk__in=[pk for pk, _status in receipts], chat__client__connector=connector, internal=False
        )
        .exclude(author_type=Message.Author.CLIENT)
        .values_list("pk", flat=True)
    )
    results = []
    for pk, status in receipts:
        if pk in ours:
            message_delivery_set(message_id=pk, status=status)
        results.append({"id": pk, "result": "ok" if pk in ours else "not_found"})
    return results
