"""Messenger webhooks: store the raw event at once, process it in a background task.

The view (`contactcenter.connectors.webhooks`) verifies the request and calls `webhook_event_store`,
which keeps the raw body under a deduplication key made of the platform's own ids (a replay stores
nothing) and enqueues `webhook_event_process`. Processing turns every item of the batch into engine
calls: client messages through `message_ingest` (with their media downloaded to our storage at once,
because platform links expire, and retried later when that fails: `inbound_media`; the sender is matched
to one client whichever of its ids it comes with, and named: `client_identity`), delivery and read
receipts through `message_delivery_set` (which never moves a status backwards), and "blocked by the
user" onto the client.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.background import task_enqueue_fast
from contactcenter.connectors.adapters.base import (
    ContactEvent,
    InboundMessage,
    ParsedBatch,
    PayloadError,
    StatusUpdate,
)
from contactcenter.connectors.channels import adapter_for
from contactcenter.models import Connector, UnroutedWebhook, WebhookEvent
from contactcenter.services.client_identity import (
    client_fallback_name,
    client_identity,
    client_profile_request,
)
from contactcenter.services.inbound_media import attachment_store, media_downloads_schedule
from contactcenter.timers import register_timer
from openlines.services import ingest
from openlines.services.delivery import message_delivery_set
from openlines.services.events import event_publish
from openlines.services.lifecycle import message_post
from openlines.session_models import Client, Message, Session

logger = logging.getLogger(__name__)

PROCESS_TASK = "contactcenter.connectors.tasks.webhook_event_process"
# An event still unprocessed this long after its task was queued is queued again (the task was lost).
PROCESS_LEASE = timedelta(minutes=2)
MAX_PROCESS_ATTEMPTS = 5
REQUEUE_BATCH = 200
# Headers kept with a stored event for diagnosis; never the secrets (Telegram's secret token header).
KEPT_HEADERS = ("content-type", "user-agent", "x-hub-signature-256", "x-viber-content-signature")
# Statuses a receipt may move forward (pending or unsent messages are not touched by receipts).
_RECEIPT_TARGETS = (Message.Delivery.SENT, Message.Delivery.DELIVERED)
_OUTGOING = (Message.Author.AGENT, Message.Author.BOT, Message.Author.SYSTEM)


def webhook_dedup_key(batch: ParsedBatch, body: bytes) -> str:
    """A key made of the platform's ids for the batch, or of the body when it carries no ids."""
    if len(batch.dedup_ids) == 1 and len(batch.dedup_ids[0]) <= 100:
        return f"id:{batch.dedup_ids[0]}"
    if batch.dedup_ids:
        joined = "\n".join(sorted(batch.dedup_ids)).encode()
        return f"ids:{hashlib.sha256(joined).hexdigest()}"
    return f"body:{hashlib.sha256(body).hexdigest()}"


def webhook_event_store(
    *, connector: Connector, body: bytes, headers: Mapping[str, str], dedup_key: str
) -> WebhookEvent | None:
    """Store the raw event and queue its processing; None when this event was stored before (a replay)."""
    kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                connector=connector,
                body=body,
                headers=kept,
                dedup_key=dedup_key,
                process_after=timezone.now() + PROCESS_LEASE,
            )
            # The stored event is the outbox: the timer loop requeues it after the lease if this is lost.
            task_enqueue_fast(PROCESS_TASK, event.pk)
    except IntegrityError:
        return None
    return event


def webhook_unrouted_record(*, kind: str, account_ids: list[str]) -> None:
    """Count a signed Meta webhook naming accounts no channel here owns (shown on the Contact Center page)."""
    now = timezone.now()
    for account_id in account_ids:
        account_id = account_id[:255]
        logger.warning("%s webhook for account %s: no channel owns it", kind, account_id)
        same = UnroutedWebhook.objects.filter(kind=kind, account_id=account_id)
        if same.update(count=F("count") + 1, last_seen_at=now):
            continue
        try:
            with transaction.atomic():
                UnroutedWebhook.objects.create(
                    kind=kind, account_id=account_id, first_seen_at=now, last_seen_at=now, count=1
                )
        except IntegrityError:
            same.update(count=F("count") + 1, last_seen_at=now)


def webhook_event_process(event_id: int) -> None:
    """Task body: apply every item of a stored event, once.

    Items are applied one by one (each message in its own transaction), so a retry after a crash
    re-applies only what is idempotent: messages are deduplicated on their platform id, receipts never
    move a status backwards, blocks compare the current state.
    """
    event = WebhookEvent.objects.select_related("connector__line").filter(pk=event_id).first()
    if event is None or event.processed_at is not None:
        return
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=F("attempts") + 1)
    connector = event.connector
    errors: list[str] = []
    try:
        batch = adapter_for(connector).parse(bytes(event.body))
    except PayloadError as exc:
        errors.append(exc.reason)
        batch = ParsedBatch()
    for message in batch.messages:
        if not _ours(connector, message.account_id):
            continue
        try:
            _message_apply(connector, message)
        except Exception as exc:
            logger.exception("webhook event %s: message %s failed", event.pk, message.external_id)
            errors.append(f"{message.external_id}: {type(exc).__name__}")
    for status in batch.statuses:
        if _ours(connector, status.account_id):
            _status_apply(connector, status)
    for contact_event in batch.contact_events:
        if _ours(connector, contact_event.account_id):
            client_block_set(connector=connector, event=contact_event)
    errors.extend(batch.errors)
    WebhookEvent.objects.filter(pk=event.pk).update(
        processed_at=timezone.now(), process_after=None, error="; ".join(errors)[:500]
    )


@register_timer("webhook_events")
def webhook_events_requeue(now: datetime) -> int:
    """Hand events whose processing task was lost (or crashed) to a new task, claimed with an optimistic
    update so that several timer processes never enqueue one twice; gives up after MAX_PROCESS_ATTEMPTS."""
    due = (
        WebhookEvent.objects.filter(processed_at__isnull=True, process_after__lte=now)
        .order_by("process_after")
        .values_list("pk", "process_after", "attempts")[:REQUEUE_BATCH]
    )
    claimed = 0
    for pk, seen, attempts in list(due):
        mine = WebhookEvent.objects.filter(pk=pk, processed_at__isnull=True, process_after=seen)
        if attempts >= MAX_PROCESS_ATTEMPTS:
            mine.update(processed_at=now, process_after=None, error=_("Processing failed repeatedly."))
            continue
        if mine.update(process_after=now + PROCESS_LEASE):
            task_enqueue_fast(PROCESS_TASK, pk)
            claimed += 1
    return claimed


def _ours(connector: Connector, account_id: str | None) -> bool:
    """Meta posts every account of an app to one URL: keep only the items of this connector's account."""
    return not account_id or not connector.account_id or account_id == connector.account_id


# --- Messages -------------------------------------------------------------------------------------


def _message_apply(connector: Connector, inbound: InboundMessage) -> None:
    if inbound.is_echo:
        # Our own message coming back (Messenger/Instagram echoes): it is already stored.
        return
    if Message.objects.filter(connector=connector, external_id=inbound.external_id).exists():
        return  # a replay inside a different batch: skip the media download too
    stored = [
        attachment_store(connector, attachment, position=position)
        for position, attachment in enumerate(inbound.attachments)
    ]
    pending = [retry for _entry, retry in stored if retry is not None]
    client_id, chat_id = client_identity(connector=connector, inbound=inbound)
    known = Client.objects.filter(connector=connector, external_id=client_id).values_list("name", flat=True)
    name = (inbound.sender_name or "")[:255]
    if not name and not any(known):
        name = client_fallback_name(connector=connector, external_id=client_id)

    def ingest_once() -> ingest.IngestResult:
        result = ingest.message_ingest(
            connector=connector,
            client=ingest.InboundClient(
                external_id=client_id, name=name, phone=(inbound.sender_phone or "")[:64]
            ),
            message=ingest.InboundMessage(
                external_id=inbound.external_id,
                text=inbound.text or "",
                attachments=[entry for entry, _retry in stored],
                external_chat_id=chat_id,
                sent_at=inbound.sent_at,
            ),
        )
        if pending and not result.duplicate:
            media_downloads_schedule(
                connector=connector, message=result.message, pending=pending, sent_at=inbound.sent_at
            )
        return result

    if pending:
        # The retries are written with the message: a crash between them would leave a file "retrying"
        # for ever. Inside our transaction the ingest leaves a lost race (deadlock) to us: run it again.
        attempt = 1
        while True:
            try:
                with transaction.atomic():
                    result = ingest_once()
                break
            except OperationalError as error:
                sqlstate = getattr(error.__cause__, "sqlstate", None)
                if sqlstate not in ingest.LOST_RACE_SQLSTATES or attempt >= ingest.LOST_RACE_ATTEMPTS:
                    raise
                attempt += 1
    else:
        result = ingest_once()
    if result.duplicate:
        return
    client = Client.objects.get(pk=result.session.chat.client_id)
    if inbound.sender_alias and not client.alias_id and inbound.sender_alias != client.external_id:
        Client.objects.filter(pk=client.pk, alias_id="").update(alias_id=inbound.sender_alias[:255])
    if client.blocked_at is not None:
        # Writing to us again means the client unblocked us.
        Client.objects.filter(pk=client.pk).update(blocked_at=None)
    client_profile_request(connector=connector, client=client)


# --- Receipts -------------------------------------------------------------------------------------


def _outgoing_of(connector: Connector) -> QuerySet[Message]:
    return Message.objects.filter(
        chat__client__connector=connector, author_type__in=_OUTGOING, internal=False
    )


def _status_apply(connector: Connector, status: StatusUpdate) -> None:
    """One receipt; watermark and cumulative receipts cover every earlier message to that client."""
    outgoing = _outgoing_of(connector)
    if status.external_id is not None and not status.cumulative:
        targets = outgoing.filter(external_id=status.external_id)
    elif status.external_id is not None:
        reference = outgoing.filter(external_id=status.external_id).first()
        if reference is None:
            return
        targets = outgoing.filter(chat_id=reference.chat_id, id__lte=reference.pk)
    else:
        assert status.watermark is not None
        recipient = status.recipient_id or ""
        targets = outgoing.filter(
            Q(chat__external_chat_id=recipient) | Q(chat__client__external_id=recipient),
            created_at__lte=status.watermark,
        )
    if status.status != Message.Delivery.FAILED:
        targets = targets.filter(delivery__in=_RECEIPT_TARGETS)
    for message_id in targets.values_list("pk", flat=True):
        message_delivery_set(message_id=message_id, status=status.status, error=status.error or "")


# --- Blocked --------------------------------------------------------------------------------------


@transaction.atomic
def client_block_set(*, connector: Connector, event: ContactEvent) -> None:
    """Record that the client blocked (or unblocked) us, and tell the agent of the open conversation."""
    if event.kind not in ("blocked", "unblocked"):
        return
    client = (
        Client.objects.select_for_update().filter(connector=connector, external_id=event.sender_id).first()
    )
    if client is None:
        return
    blocked = event.kind == "blocked"
    if (client.blocked_at is not None) == blocked:
        return
    client.blocked_at = event.at if blocked else None
    client.save(update_fields=["blocked_at"])
    client_block_notify(client=client, blocked=blocked)


def client_block_notify(*, client: Client, blocked: bool) -> None:
    """An internal note in the client's latest conversation and a notification to its agents."""
    session = Session.objects.filter(chat__client=client).order_by("-id").first()
    if session is None:
        return
    text = (
        _("The client blocked the channel; messages can no longer be delivered.")
        if blocked
        else _("The client unblocked the channel.")
    )
    message_post(session=session, author_type=Message.Author.SYSTEM, text=text, internal=True)
    event_publish(
        type="notification",
        session=session,
        payload={"kind": "client_blocked" if blocked else "client_unblocked", "text": text},
    )


def latest_event_at(connector: Connector) -> datetime | None:
    event = WebhookEvent.objects.filter(connector=connector).order_by("-received_at").first()
    return event.received_at if event else None
