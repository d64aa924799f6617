"""Client messages from any channel: one idempotent entry point, and the start of a session.

`message_ingest` stores the message, starts a session when the chat has none open (mode input) or
continues the open one, and runs the start-of-session automations (consent, welcome, bot, off-hours) and
routing, all in one transaction. A replay of the same channel message id stores nothing and returns the
message stored the first time.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import BooleanField, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector
from contactcenter.selectors import availability_sql, available_user_ids
from contactcenter.text import data_clean
from openlines import signals
from openlines.models import OpenLine
from openlines.services import bots, lifecycle, ratings, routing
from openlines.session_models import Chat, Client, DeadlineKind, Message, Session, SessionStatus
from openlines.worktime import line_is_working


@dataclass(frozen=True)
class InboundClient:
    external_id: str
    name: str = ""
    phone: str = ""
    email: str = ""
    avatar_url: str = ""
    profile_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundMessage:
    external_id: str | None
    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    external_chat_id: str = ""
    sent_at: datetime | None = None
    source_url: str = ""
    # An explicit rating (ratings.LIKE / ratings.DISLIKE) from a channel that sends ratings as data, not text.
    rating: int | None = None


@dataclass(frozen=True)
class IngestResult:
    message: Message
    session: Session
    session_created: bool
    duplicate: bool
    # Why a rating in this message was not applied (the time for rating has passed), else "".
    rating_refused: str = ""


def _existing(connector: Connector, external_id: str | None) -> Message | None:
    if not external_id:
        return None
    return (
        Message.objects.select_related("session").filter(connector=connector, external_id=external_id).first()
    )


def _client_upsert(connector: Connector, inbound: InboundClient) -> Client:
    client, created = Client.objects.get_or_create(
        connector=connector,
        external_id=inbound.external_id,
        defaults={
            "name": inbound.name,
            "phone": inbound.phone,
            "email": inbound.email,
            "avatar_url": inbound.avatar_url,
            "profile_url": inbound.profile_url,
            "extra": inbound.extra,
        },
    )
    if not created:
        _client_refresh(client, inbound)
    return client


def _client_refresh(client: Client, inbound: InboundClient) -> None:
    """Store what the channel now says about the client (the details it sent, when they changed)."""
    changed = []
    for name in ("name", "phone", "email", "avatar_url", "profile_url"):
        value = getattr(inbound, name)
        if value and getattr(client, name) != value:
            setattr(client, name, value)
            changed.append(name)
    if changed:
        client.save(update_fields=changed)


def _chat_lock(connector: Connector, inbound_client: InboundClient, external_chat_id: str) -> Chat:
    """The client's chat on the connector's line, locked, with its line, client and connector loaded.

    Serialises messages of one chat: exactly one of two simultaneous first messages starts the session.
    Only the chat row, and FOR NO KEY UPDATE: an agent's transaction that holds the session and posts a
    message (a KEY SHARE on the chat through the foreign key) must not wait for us while we wait for the
    session (a deadlock), and the line, client and connector rows stay free for everyone else. A known
    chat costs this one query; the client and the chat are created on their first message only.
    """
    locked = Chat.objects.select_for_update(no_key=True, of=("self",)).select_related(
        "line", "client__connector"
    )
    # The client's id as a scalar subquery, not a join condition: the chat is then read by its unique
    # (line, client, chat id) index whatever the planner believes about the tables' sizes.
    clients = Client.objects.filter(connector=connector, external_id=inbound_client.external_id)
    chat = locked.filter(
        line_id=connector.line_id,
        client_id=Subquery(clients.values("pk")[:1]),
        external_chat_id=external_chat_id,
    ).first()
    if chat is not None:
        _client_refresh(chat.client, inbound_client)
        return chat
    client = _client_upsert(connector, inbound_client)
    chat, _created = Chat.objects.get_or_create(
        line_id=connector.line_id, client=client, external_chat_id=external_chat_id
    )
    return locked.get(pk=chat.pk)


# PostgreSQL ends one of two transactions that wait for each other (deadlock) or that it cannot serialise;
# the other one's work is done, so running ours again succeeds. SQLSTATE codes, whatever the driver.
LOST_RACE_SQLSTATES = {"40P01", "40001"}
LOST_RACE_ATTEMPTS = 4


def _lost_race(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) in LOST_RACE_SQLSTATES


def message_ingest(*, connector: Connector, client: InboundClient, message: InboundMessage) -> IngestResult:
    """Store one client message from `connector` (idempotent on `message.external_id`).

    A transaction PostgreSQL ended to break a deadlock is run again (when it is ours alone: inside a
    caller's transaction the caller decides), so a lost race is never the integrator's error.
    """
    client, message = _inbound_clean(client), _inbound_clean(message)
    # The live chat resends a message only after a lost ack: the unique channel id at insert suffices.
    existing = None if connector.kind == ConnectorKind.LIVECHAT else _existing(connector, message.external_id)
    if existing is not None:
        return IngestResult(existing, existing.session, session_created=False, duplicate=True)
    outermost = not transaction.get_connection().in_atomic_block
    attempt = 1
    while True:
        try:
            return _ingest_once(connector, client, message)
        except OperationalError as error:
            if not (outermost and _lost_race(error)) or attempt >= LOST_RACE_ATTEMPTS:
                raise
            time.sleep(random.uniform(0, 0.02 * attempt))
            attempt += 1


_Inbound = TypeVar("_Inbound", InboundClient, InboundMessage)


def _inbound_clean(inbound: _Inbound) -> _Inbound:
    """Whatever the channel, no control characters are stored (`contactcenter.text`)."""
    values = {f.name: getattr(inbound, f.name) for f in fields(inbound)}
    cleaned = {
        name: data_clean(value) for name, value in values.items() if isinstance(value, str | dict | list)
    }
    changed = {name: value for name, value in cleaned.items() if value != values[name]}
    return replace(inbound, **changed) if changed else inbound


def _ingest_once(connector: Connector, client: InboundClient, message: InboundMessage) -> IngestResult:
    try:
        with transaction.atomic():
            return _ingest(connector, client, message)
    except IntegrityError:
        # A resend, or a concurrent delivery of the same message that won the race: answer as a replay.
        existing = _existing(connector, message.external_id)
        if existing is None:
            raise
        return IngestResult(existing, existing.session, session_created=False, duplicate=True)


def _ingest(connector: Connector, inbound_client: InboundClient, inbound: InboundMessage) -> IngestResult:
    now = timezone.now()
    at = min(inbound.sent_at, now) if inbound.sent_at else now
    chat = _chat_lock(connector, inbound_client, inbound.external_chat_id or inbound_client.external_id)
    # A resent message is not looked up here: the unique channel id refuses its insert, and
    # `_ingest_once` answers it as a replay (a resend is rare; the lookup would cost every message).

    explicit = inbound.rating is not None
    rating = inbound.rating if explicit else ratings.rating_from_text(connector.kind, inbound.text)
    if rating is not None:
        target = ratings.session_awaiting_rating(chat)
        if target is None and explicit:
            target = ratings.session_rateable_before_finish(chat)
        if target is not None:
            message = lifecycle.message_post(
                session=target,
                author_type=Message.Author.CLIENT,
                text=inbound.text,
                attachments=inbound.attachments,
                external_id=inbound.external_id,
                connector_id=connector.pk,
                at=at,
            )
            try:
                ratings.session_rate(session=target, vote=rating, at=now)
            except ValidationError as refused:
                # Keep the client's message and the refusal text the rating step posted (no savepoint).
                return IngestResult(
                    message,
                    target,
                    session_created=False,
                    duplicate=False,
                    rating_refused=refused.messages[0],
                )
            return IngestResult(message, target, session_created=False, duplicate=False)
        if explicit:
            raise ratings.RatingRefused(_("No conversation is waiting for a rating."))

    # Locked and loaded with what `lifecycle.session_lock` loads, in one query and without the line's row;
    # whether its agent is still available (checked on every further message) comes along in it.
    quote = connection.ops.quote_name
    operator = f"{quote(Session._meta.db_table)}.{quote(Session._meta.get_field('operator').column)}"
    available, params = availability_sql(operator, check_available=chat.line.check_available, now=now)
    open_session = (
        Session.objects.select_for_update(no_key=True, of=("self",))
        .select_related("line", "chat", "chat__client__connector")
        .annotate(operator_available=RawSQL(available, params, output_field=BooleanField()))  # noqa: S611
        .filter(chat=chat, closed=False)
        .first()
    )
    if open_session is None:
        session = _session_create(chat, connector, source_url=inbound.source_url, at=now)
        signals.session_created.send(sender=Session, session=session)
    else:
        session = open_session
    message = lifecycle.message_post(
        session=session,
        author_type=Message.Author.CLIENT,
        text=inbound.text,
        attachments=inbound.attachments,
        external_id=inbound.external_id,
        connector_id=connector.pk,
        at=at,
    )
    created = open_session is None
    if open_session is None:
        session_start_automations(session, at=now)
    else:
        _continue(session, message, at=now, operator_available=open_session.operator_available)
    return IngestResult(message, session, session_created=created, duplicate=False)


def _session_create(chat: Chat, connector: Connector, *, source_url: str, at: datetime) -> Session:
    previous = Session.objects.filter(chat=chat).order_by("-id").first()
    return Session.objects.create(
        line_id=chat.line_id,
        chat=chat,
        mode=Session.Mode.INPUT,
        source=connector.kind,
        status=SessionStatus.NEW,
        is_first=previous is None,
        parent=previous,
        created_at=at,
        modified_at=at,
        extra_url=source_url[:2000],
    )


def session_start_automations(session: Session, *, at: datetime) -> None:
    """Reference §2.3 "Start" and §4.1: inactive line, consent, bot or welcome, off-hours, routing."""
    line: OpenLine = session.line
    if not line.active:
        lifecycle.client_text_message(session, "line_inactive")
        lifecycle.session_close(session, at=at)
        return
    client = session.chat.client
    session.worktime = line_is_working(line=line, at=at)
    if line.agreement_message and line.agreement_id and session.is_first and client.consent_at is None:
        consent_notice_send(session, client)
    lifecycle.deadline_set(session, DeadlineKind.NO_ANSWER, at + _seconds(line.no_answer_time))
    if bots.bot_should_join(session):
        bots.bot_join(session, at=at)
        return
    if line.welcome_message and (line.send_welcome_each_session or session.is_first):
        lifecycle.client_text_message(session, "welcome")
    routing.session_route_new(session, at=at)
    off_hours_reply(session)


def consent_notice_send(session: Session, client: Client) -> None:
    """The consent notice (reference §1.5) with a personal link to the agreement's page, where the client
    can read it in the line's language and accept it; writing on also counts (the notice says so)."""
    from openlines.services.agreements import agreement_url

    lifecycle.system_message(
        session, "agreement_notice", agreement=agreement_url(line=session.line, client=client)
    )
    client.extra = {**client.extra, "consent_notice_at": timezone.now().isoformat()}
    client.save(update_fields=["extra"])


def consent_by_writing_on(session: Session, *, at: datetime) -> None:
    """A message after the notice ("by continuing this conversation you agree") records the consent."""
    client = session.chat.client
    if client.consent_at is None and session.line.agreement_message and client.extra.get("consent_notice_at"):
        from openlines.services.agreements import client_consent_record

        client_consent_record(client=client, line=session.line, at=at)


def off_hours_reply(session: Session) -> None:
    """Off-hours text, once: outside working hours, or when the line checks availability and nobody is
    available (reference §4.3)."""
    line = session.line
    if line.worktime_dayoff_rule != OpenLine.Rule.TEXT or session.send_no_work_time_text:
        return
    nobody = False
    if line.check_available and session.undistributed:
        from openlines.selectors import line_queue_user_ids

        queue = line_queue_user_ids(line=line)
        nobody = not available_user_ids(user_ids=queue, check_available=True)
    if session.worktime and not nobody:
        return
    lifecycle.client_text_message(session, "worktime_dayoff")
    session.send_no_work_time_text = True
    lifecycle.session_save(session)


def _continue(session: Session, message: Message, *, at: datetime, operator_available: bool) -> None:
    """A further client message in an open session (`operator_available`: its agent, if any, may still
    hold it, read with the session's lock)."""
    if session.bot_id is not None and session.bot_started_at is not None:
        lifecycle.session_on_client_message(session, at=at)
        bots.bot_on_client_message(session, message, at=at)
        return
    consent_by_writing_on(session, at=at)
    was_waiting = session.undistributed
    lifecycle.session_on_client_message(session, at=at)
    if session.undistributed and not was_waiting:
        # A conversation closed before anyone accepted it is back in the queue.
        routing.line_distribute(session.line_id, at=at, current=session)
        return
    if session.operator_id is not None and not session.pause:
        line = session.line
        if not operator_available:
            # The agent left meanwhile: the client is not left waiting on them (reference §4.6).
            name = lifecycle.user_display_name(session.operator_id)
            lifecycle.session_return_to_queue(session, at=at, undistributed=True)
            lifecycle.system_message(session, "agent_unavailable", internal=True, user=name)
            routing.line_distribute(line.pk, at=at, current=session)


def _seconds(value: int) -> Any:
    from datetime import timedelta

    return timedelta(seconds=value)


def connector_kind_is_messenger(kind: str) -> bool:
    return kind not in (ConnectorKind.LIVECHAT,)
