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

import mimetypes
from typing import Any

from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters import ADAPTER_KINDS
from contactcenter.connectors.adapters.base import (
    ChannelAdapter,
    ContactEvent,
    OutboundMedia,
    SendError,
    SendResult,
    media_kind_choose,
    optional_int,
)
from contactcenter.connectors.channels import adapter_for, credentials_for
from contactcenter.connectors.selectors import reply_window_for_chat
from contactcenter.models import OutboundDelivery, OutboundProgress
from contactcenter.services.agent_files import file_link
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
# Attachments that are files (stored uploads, or links as `{"kind": "file", "url"}`); bot buttons are not.
_FILE_KINDS = {*_MEDIA_KINDS, "file"}


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
    to = chat.external_chat_id
    outcome: SendResult | SendError | None = None
    files = [a for a in message.attachments if str(a.get("kind", "")) in _FILE_KINDS]
    for index, attachment in enumerate(files):
        if index < progress.attachments_sent:
            continue
        media = _outbound_media(attachment, adapter=adapter)
        if isinstance(media, SendError):
            outcome = media
            break
        # The text rides as the first file's caption when the platform takes it there; else it follows.
        caption = None
        if index == 0 and progress.unsent_text is None and message.text.strip():
            if isinstance(media, OutboundMedia) and adapter.caption_fits(media, message.text.strip()):
                caption = message.text.strip()
        if isinstance(media, OutboundMedia):
            outcome = adapter.send_media(
                credentials, to=to, media=media, caption=caption, human_agent_tag=tag
            )
        else:  # a link the platform cannot fetch as a file goes as a text message
            outcome = adapter.send_text(credentials, to=to, text=media, human_agent_tag=tag)
        if isinstance(outcome, SendError):
            progress.sent_ids = [*progress.sent_ids, *outcome.sent_ids]
            break
        progress.sent_ids = [*progress.sent_ids, *outcome.message_ids]
        progress.attachments_sent = index + 1
        if caption is not None:
            progress.unsent_text = ""
    if not isinstance(outcome, SendError):
        progress.attachments_sent = len(files)
        text = message.text if progress.unsent_text is None else progress.unsent_text
        if text.strip():
            outcome = adapter.send_text(credentials, to=to, text=text, human_agent_tag=tag)
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
    error = outcome.reason
    if outcome.detail and not outcome.retryable:
        # A refusal is shown with the platform's own words: the agent can act on them.
        error = _("%(reason)s The messenger said: %(detail)s") % {"reason": error, "detail": outcome.detail}
    return AttemptOutcome(
        acknowledged=False,
        error=error,
        permanent=not outcome.retryable,
        retry_after=outcome.retry_after,
    )


def _outbound_media(
    attachment: dict[str, Any], *, adapter: ChannelAdapter[Any]
) -> OutboundMedia | str | SendError:
    """How one of an agent's files goes to the platform: our stored file uploaded (or, where the platform
    only fetches links, behind a signed link of ours), a public link fetched by the platform, or that
    link as text when the platform cannot fetch such a file from a bare link."""
    name = str(attachment.get("name") or "") or None
    path = attachment.get("path")
    if isinstance(path, str) and path:
        kind = _MEDIA_KINDS.get(str(attachment.get("kind", "")), "document")
        mime = str(attachment.get("mime") or "application/octet-stream")
        if not adapter.capabilities.send_media_upload:
            link = file_link(path)
            if not link.startswith("https://"):
                return SendError(
                    False,
                    None,
                    "no_public_https_url",
                    _(
                        "The messenger fetches files from this server's public address, which must be "
                        "HTTPS: set CONNECTORS_PUBLIC_URL."
                    ),
                    "invalid_request",
                )
            return OutboundMedia(
                kind=kind,  # type: ignore[arg-type]
                url=link,
                file_name=name,
                mime_type=mime,
                size=optional_int(attachment.get("size")),
            )
        try:
            with default_storage.open(path, "rb") as stored:
                content = stored.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return SendError(
                False,
                None,
                "file_missing",
                _("The file %(name)s is no longer stored and cannot be sent.") % {"name": name or path},
                "invalid_request",
            )
        return OutboundMedia(kind=kind, content=content, file_name=name, mime_type=mime, size=len(content))  # type: ignore[arg-type]
    url = str(attachment.get("url") or "")
    guessed = (
        mimetypes.guess_type(name or url)[0] or mimetypes.guess_type(url)[0] or "application/octet-stream"
    )
    by_url = media_kind_choose(adapter.capabilities.media_limits, mime_type=guessed, size=0)
    fetchable = adapter.capabilities.media_by_url_kinds
    if url.startswith("https://") and by_url is not None and by_url in fetchable:
        return OutboundMedia(kind=by_url, url=url, file_name=name, mime_type=guessed)
    return f"{name}\n{url}" if name and name not in url else url


for _kind in ADAPTER_KINDS:
    register_sender(_kind)(messenger_message_send)
    register_outbound_attempt(_kind)(messenger_delivery_attempt)
