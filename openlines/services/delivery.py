"""Sending agent, bot and system messages to the client's channel.

Each channel kind registers a sender; messages are sent by a background task after commit, with the
delivery status written back on the message. The live chat needs no sender: its widget receives the
message over its socket from the realtime event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from contactcenter.background import task_enqueue
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
    """Queue the channel send of a stored outgoing message that `message_dispatch_prepare` marked pending."""
    if message.delivery == Message.Delivery.PENDING:
        task_enqueue("openlines.tasks.message_send", message.pk)


def message_send(message_id: int) -> None:
    """Task body: hand the message to its channel's sender (which records the outcome)."""
    message = Message.objects.select_related("chat__client__connector").get(pk=message_id)
    sender = _senders.get(message.chat.client.connector.kind)
    if sender is None:
        return
    sender(message)


@transaction.atomic
def message_delivery_set(
    *, message_id: int, status: str, error: str = "", external_id: str | None = None
) -> None:
    """Record a delivery outcome; a status never moves backwards (a late 'delivered' after 'read')."""
    from openlines.services.events import event_publish

    order = ["", "pending", "sent", "delivered", "read"]
    message = (
        Message.objects.select_for_update(no_key=True, of=("self",))
        .select_related("session")
        .get(pk=message_id)
    )
    if status != Message.Delivery.FAILED and message.delivery in order and status in order:
        if order.index(status) <= order.index(message.delivery):
            return
    if status == Message.Delivery.FAILED and message.delivery in (
        Message.Delivery.DELIVERED,
        Message.Delivery.READ,
    ):
        return  # the client has it: a sender giving up later (e.g. on a lost acknowledgement) changes nothing
    message.delivery = status
    message.delivery_error = error[:500]
    fields = ["delivery", "delivery_error"]
    if external_id and not message.external_id:
        message.external_id = external_id
        fields.append("external_id")
    message.save(update_fields=fields)
    event_publish(
        type="message.delivery",
        session=message.session,
        payload={"message_id": message.pk, "delivery": status, "error": message.delivery_error},
    )
