"""Sending agent, bot and system messages to the client's channel.

Each channel kind registers a sender, called in the transaction that stores the message: it writes the
message's delivery row there (a transactional outbox, see contactcenter.services.outbound) and queues the
send after commit, with the delivery status written back on the message. The live chat needs no sender:
its widget receives the message over its socket from the realtime event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils.translation import gettext as _

from openlines.session_models import Message

if TYPE_CHECKING:
    from contactcenter.models import Connector

logger = logging.getLogger(__name__)

Sender = Callable[[Message], None]
_senders: dict[str, Sender] = {}


def register_sender(kind: str) -> Callable[[Sender], Sender]:
    def decorator(fn: Sender) -> Sender:
        _senders[kind] = fn
        return fn

    return decorator


def channel_closed_reason(connector: Connector) -> str:
    """Why nothing can be sent to the clients of this channel now ("" when it can be sent to)."""
    if connector.disconnected_at is not None:
        return _("Not sent: the channel is disconnected. Connect it again to write to this client.")
    return ""


def message_dispatch_prepare(message: Message) -> None:
    """Mark an outgoing message pending, before it is stored, when its channel has a sender (the status is
    then stored with the message instead of by a second write); failed with the reason when the channel
    is disconnected, so the agent sees at once that it did not go."""
    connector = message.chat.client.connector
    closed = channel_closed_reason(connector)
    if closed:
        message.delivery = Message.Delivery.FAILED
        message.delivery_error = closed
    elif connector.kind in _senders:
        message.delivery = Message.Delivery.PENDING


def message_dispatch(message: Message) -> None:
    """Hand a stored outgoing message that `message_dispatch_prepare` marked pending to its channel's
    sender, in the same transaction (which commits the delivery row with the message)."""
    if message.delivery == Message.Delivery.PENDING:
        sender = _senders.get(message.chat.client.connector.kind)
        if sender is not None:
            sender(message)


def message_send(message_id: int) -> None:
    """Task body of the former after-commit send (tasks queued before an upgrade): the sender creates the
    delivery row once, so a message dispatched already is not sent twice."""
    message = Message.objects.select_related("chat__client__connector").get(pk=message_id)
    sender = _senders.get(message.chat.client.connector.kind)
    if sender is None or Message.objects.filter(pk=message_id, outbound_delivery__isnull=False).exists():
        return
    with transaction.atomic():
        sender(message)


@transaction.atomic
def message_delivery_set(
    *,
    message_id: int,
    status: str,
    error: str = "",
    external_id: str | None = None,
    attempts: int | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """Record a delivery outcome; a status never moves backwards (a late 'delivered' after 'read').

    A sender that retries reports each failed attempt as 'pending' with the reason, the attempts made
    and the next attempt's time (`attempts` given), which the agent sees live.
    """
    from openlines.services.events import event_publish

    order = ["", "pending", "sent", "delivered", "read"]
    message = (
        Message.objects.select_for_update(no_key=True, of=("self",))
        .select_related("session")
        .get(pk=message_id)
    )
    if status != Message.Delivery.FAILED and message.delivery in order and status in order:
        index, current = order.index(status), order.index(message.delivery)
        if index < current or (index == current and attempts is None):
            return
    if status == Message.Delivery.FAILED and message.delivery in (
        Message.Delivery.DELIVERED,
        Message.Delivery.READ,
    ):
        return  # the client has it: a sender giving up later (e.g. on a lost acknowledgement) changes nothing
    message.delivery = status
    message.delivery_error = error[:500]
    message.delivery_next_attempt_at = next_attempt_at if status == Message.Delivery.PENDING else None
    fields = ["delivery", "delivery_error", "delivery_next_attempt_at"]
    if attempts is not None:
        message.delivery_attempts = attempts
        fields.append("delivery_attempts")
    if external_id and not message.external_id:
        message.external_id = external_id
        fields.append("external_id")
    message.save(update_fields=fields)
    event_publish(
        type="message.delivery",
        session=message.session,
        # `error` is the event's older name of `delivery_error`.
        payload={
            "message_id": message.pk,
            "error": message.delivery_error,
            **message_delivery_payload(message),
        },
    )


def message_delivery_payload(message: Message) -> dict[str, Any]:
    """The delivery fields of a message as the workspace, the API and the `message.delivery` event show
    them."""
    next_at = message.delivery_next_attempt_at
    return {
        "delivery": message.delivery,
        "delivery_error": message.delivery_error,
        "next_attempt_at": next_at.isoformat() if next_at is not None else None,
        "attempts": message.delivery_attempts,
    }
