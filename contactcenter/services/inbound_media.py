"""Files clients send through a messenger: downloaded into our storage at once, retried when that fails.

Platform links expire, so the file is fetched while the webhook is processed. A failure the platform may
get over (a timeout, 5xx, 429) leaves the attachment marked `download: "retrying"` with the reason, and a
`MediaDownload` row the timer loop picks up with backoff (30 s doubling up to an hour) while the
platform's reference still works: Viber links about an hour, WhatsApp media ids 7 days (each attempt asks
for a new 5-minute URL), Telegram file ids a day here (they last longer), Meta CDN links 6 hours. Only
then, or on a permanent error, is the attachment marked `download: "failed"`. Each change of state is
published to the conversation as a `message.update` event.
"""

from __future__ import annotations

import logging
import mimetypes
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from contactcenter.background import task_enqueue
from contactcenter.connectors.adapters.base import Attachment, ChannelApiError, FetchedMedia
from contactcenter.connectors.channels import adapter_for, credentials_for
from contactcenter.models import Connector, MediaDownload
from contactcenter.timers import register_timer
from openlines.services.events import event_publish
from openlines.services.lifecycle import message_payload
from openlines.session_models import Message

logger = logging.getLogger(__name__)

RETRY_TASK = "contactcenter.connectors.tasks.media_download_retry"
# How long after the client sent it a file can still be fetched, per platform (see the module docstring).
RETRY_WINDOWS = {
    "viber": timedelta(hours=1),
    "whatsapp": timedelta(days=7),
    "telegram": timedelta(days=1),
    "messenger": timedelta(hours=6),
    "instagram": timedelta(hours=6),
}
DEFAULT_RETRY_WINDOW = timedelta(hours=1)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
# A claimed retry whose task was lost is claimed again after this long.
RETRY_LEASE = timedelta(minutes=5)
RETRY_BATCH = 100

RETRYING = "retrying"
FAILED = "failed"


@dataclass(frozen=True)
class PendingDownload:
    """An attachment of a message being ingested whose first download failed for a passing reason."""

    position: int
    attachment: Attachment
    reason: str


def attachment_store(
    connector: Connector, attachment: Attachment, *, position: int
) -> tuple[dict[str, Any], PendingDownload | None]:
    """The attachment as stored on the message, its file downloaded into our storage now; with what to
    retry when the download failed for a passing reason."""
    entry: dict[str, Any] = {"kind": attachment.kind, "name": attachment.file_name or attachment.title or ""}
    if attachment.mime_type:
        entry["mime"] = attachment.mime_type
    if attachment.latitude is not None and attachment.longitude is not None:
        entry.update(lat=attachment.latitude, lon=attachment.longitude)
    if attachment.media_ref is None:
        return entry, None
    try:
        fetched = adapter_for(connector).fetch_media(credentials_for(connector), attachment.media_ref)
    except ChannelApiError as exc:
        if exc.error.retryable:
            entry.update(
                download=RETRYING,
                error=_("Not downloaded yet: %(reason)s It will be retried.") % {"reason": exc.error.reason},
            )
            return entry, PendingDownload(position, attachment, exc.error.reason)
        entry.update(download=FAILED, error=exc.error.reason)
        return entry, None
    entry.update(
        _file_save(
            connector,
            fetched,
            kind=attachment.kind,
            file_name=attachment.file_name,
            mime_type=attachment.mime_type,
        )
    )
    return entry, None


def _file_save(
    connector: Connector, fetched: FetchedMedia, *, kind: str, file_name: str | None, mime_type: str | None
) -> dict[str, Any]:
    """Save a downloaded file; the client's own file name and type (from the message) win over what the
    download says (Telegram serves every file as `file_<n>.<ext>`, often as application/octet-stream)."""
    mime = mime_type or fetched.mime_type or "application/octet-stream"
    name = file_name or fetched.file_name or ""
    extension = mimetypes.guess_extension(mime.split(";")[0].strip()) or ""
    safe = get_valid_filename(name)[:80] if name else f"{kind}{extension}"
    path = default_storage.save(
        f"connectors/{connector.uuid}/{secrets.token_urlsafe(16)}/{safe}", ContentFile(fetched.content)
    )
    return {
        "name": name or safe,
        "mime": mime,
        "size": fetched.size,
        "path": path,
        "url": reverse("contactcenter:connector_media", kwargs={"path": path}),
    }


def _retry_delay(attempts: int) -> timedelta:
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


def media_downloads_schedule(
    *, connector: Connector, message: Message, pending: list[PendingDownload], sent_at: datetime
) -> None:
    """Remember the attachments of a just stored message whose download is to be retried."""
    now = timezone.now()
    give_up_at = min(sent_at, now) + RETRY_WINDOWS.get(connector.kind, DEFAULT_RETRY_WINDOW)
    for item in pending:
        assert item.attachment.media_ref is not None
        MediaDownload.objects.create(
            message=message,
            position=item.position,
            connector=connector,
            media_ref=item.attachment.media_ref,
            file_name=(item.attachment.file_name or "")[:255],
            mime_type=(item.attachment.mime_type or "")[:255],
            next_attempt_at=min(now + _retry_delay(1), give_up_at),
            give_up_at=give_up_at,
            last_error=item.reason[:500],
        )


@register_timer("media_downloads")
def media_downloads_requeue(now: datetime) -> int:
    """Hand every due retry to a task, claimed with an optimistic update (several timer processes never
    enqueue one twice); a lost task is claimed again when its lease is over."""
    due = (
        MediaDownload.objects.filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:RETRY_BATCH]
    )
    claimed = 0
    for pk, seen in list(due):
        if MediaDownload.objects.filter(pk=pk, next_attempt_at=seen).update(
            next_attempt_at=now + RETRY_LEASE
        ):
            task_enqueue(RETRY_TASK, pk)
            claimed += 1
    return claimed


def media_download_retry(download_id: int) -> None:
    """Task body: one more attempt at a file; stored, rescheduled with backoff, or given up."""
    download = MediaDownload.objects.select_related("connector").filter(pk=download_id).first()
    if download is None:
        return
    connector = download.connector
    error: ChannelApiError | None = None
    try:
        fetched = adapter_for(connector).fetch_media(credentials_for(connector), download.media_ref)
    except ChannelApiError as exc:
        error = exc
    now = timezone.now()
    if error is None:
        kind = _attachment_kind(download)
        saved = _file_save(
            connector,
            fetched,
            kind=kind,
            file_name=download.file_name or None,
            mime_type=download.mime_type or None,
        )
        _attachment_finish(download, saved)
        return
    reason = error.error.reason
    attempts = download.attempts + 1
    if error.error.retryable and now < download.give_up_at:
        MediaDownload.objects.filter(pk=download.pk).update(
            attempts=attempts,
            last_error=reason[:500],
            next_attempt_at=min(now + _retry_delay(attempts), download.give_up_at),
        )
        return
    logger.warning(
        "media of message %s given up after %d attempts: %s", download.message_id, attempts, error.error.code
    )
    _attachment_finish(download, {"download": FAILED, "error": reason})


def _attachment_kind(download: MediaDownload) -> str:
    attachments = Message.objects.filter(pk=download.message_id).values_list("attachments", flat=True).first()
    if attachments and download.position < len(attachments):
        return str(attachments[download.position].get("kind") or "other")
    return "other"


@transaction.atomic
def _attachment_finish(download: MediaDownload, changes: dict[str, Any]) -> None:
    """Write the attachment's final state, drop the retry and tell whoever watches the conversation."""
    message = (
        Message.objects.select_for_update(no_key=True, of=("self",))
        .select_related("session")
        .filter(pk=download.message_id)
        .first()
    )
    if not MediaDownload.objects.filter(pk=download.pk).delete()[0] or message is None:
        return  # another attempt finished it
    attachments = list(message.attachments)
    if download.position < len(attachments):
        entry = {
            key: value
            for key, value in attachments[download.position].items()
            if key not in ("download", "error")
        }
        entry.update(changes)
        attachments[download.position] = entry
        message.attachments = attachments
        message.save(update_fields=["attachments"])
    event_publish(
        type="message.update",
        session=message.session,
        payload={"message": message_payload(message)},
    )
