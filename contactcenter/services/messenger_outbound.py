"""Agent, bot and system messages to the messenger platforms, through the outbound delivery machinery.

Each messenger kind registers a sender (`openlines.services.delivery.register_sender`) that starts the
message's `OutboundDelivery`, and an attempt (`contactcenter.services.outbound.register_outbound_attempt`)
that sends it with the platform adapter. The adapter splits long texts at the platform's limit and maps
the platform's errors: throttling and outages are retried (Telegram's `retry_after` honoured), anything
permanent (blocked, window closed, bad token) fails the message at once with the reason the agent sees.
The 24-hour reply window of WhatsApp, Messenger and Instagram is checked before every attempt; Messenger
and Instagram messages go out with the HUMAN_AGENT tag in the 7 days after it.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters import ADAPTER_KINDS
from contactcenter.connectors.adapters.base import ContactEvent, OutboundMedia, SendError, SendResult
from contactcenter.connectors.channels import adapter_for, credentials_for
from contactcenter.connectors.selectors import reply_window_for_chat
from contactcenter.models import OutboundDelivery, OutboundProgress
from contactcenter.services.outbound import AttemptOutcome, outbound_delivery_start, register_outbound_attempt
from contactcenter.services.webhooks import client_block_set
from openlines.services.delivery import register_sender
from openlines.session_models import Message

_MEDIA_KINDS = {
    "photo": "photo",
    "image": "photo",
    "video": "video",
    "audio": "audio",
    "document": "document",
}


def messenger_message_send(message: Message) -> None:
    """Sender of every messenger kind: the first attempt runs now, retries come from the timer loop."""
    outbound_delivery_start(message_id=message.pk, connector=message.chat.client.connector)


def messenger_delivery_attempt(delivery: OutboundDelivery) -> AttemptOutcome:
    """One attempt to send a message to its messenger; see the module docstring for the rules."""
    message = Message.objects.select_related("chat__client").get(pk=delivery.message_id)
    connector = delivery.connector
    chat = message.chat
    window = reply_window_for_chat(kind=connector.kind, chat_id=chat.pk)
    if not window.open:
        return AttemptOutcome(
            acknowledged=False,
            error=_(
                "The reply window is closed: the client has not written for too long, "
                "so the messenger does not accept free messages now."
            ),
            permanent=True,
        )
    adapter = adapter_for(connector)
    credentials = credentials_for(connector)
    progress, _created = OutboundProgress.objects.get_or_create(message_id=message.pk)
    tag = window.needs_human_agent_tag
    outcome: SendResult | SendError | None = None
    for index, attachment in enumerate(message.attachments):
        media = _outbound_media(attachment)
        if media is None or index < progress.attachments_sent:
            continue
        outcome = adapter.send_media(credentials, to=chat.external_chat_id, media=media, human_agent_tag=tag)
        if isinstance(outcome, SendError):
            break
        progress.sent_ids = [*progress.sent_ids, *outcome.message_ids]
        progress.attachments_sent = index + 1
    if not isinstance(outcome, SendError):
        progress.attachments_sent = len(message.attachments)
        text = message.text if progress.unsent_text is None else progress.unsent_text
        if text.strip():
            outcome = adapter.send_text(credentials, to=chat.external_chat_id, text=text, human_agent_tag=tag)
            if isinstance(outcome, SendResult):
                progress.sent_ids = [*progress.sent_ids, *outcome.message_ids]
                progress.unsent_text = ""
            else:
                # Only what the platform did not take is sent again (a split text failing half way).
                progress.sent_ids = [*progress.sent_ids, *outcome.sent_ids]
                progress.unsent_text = outcome.unsent_text if outcome.unsent_text is not None else text
    progress.save()
    if progress.sent_ids:
        # The first platform id is what receipts name; set once. The message keeps no connector, so
        # our ids never collide with the client's ids on the same channel.
        Message.objects.filter(pk=message.pk, external_id__isnull=True).update(
            external_id=progress.sent_ids[0]
        )
    if not isinstance(outcome, SendError):
        return AttemptOutcome(acknowledged=True)
    if outcome.category == "blocked":
        client_block_set(
            connector=connector,
            event=ContactEvent(sender_id=chat.client.external_id, kind="blocked", at=timezone.now()),
        )
    return AttemptOutcome(
        acknowledged=False,
        error=outcome.reason,
        permanent=not outcome.retryable,
        retry_after=outcome.retry_after,
    )


def _outbound_media(attachment: dict[str, Any]) -> OutboundMedia | None:
    """An agent's attachment the platform can fetch by URL (a public HTTPS link)."""
    url = attachment.get("url")
    kind = _MEDIA_KINDS.get(str(attachment.get("kind", "")))
    if not isinstance(url, str) or not url.startswith("https://") or kind is None:
        return None
    return OutboundMedia(kind=kind, url=url, file_name=attachment.get("name") or None)  # type: ignore[arg-type]


for _kind in ADAPTER_KINDS:
    register_sender(_kind)(messenger_message_send)
    register_outbound_attempt(_kind)(messenger_delivery_attempt)
