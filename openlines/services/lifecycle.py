"""The session state machine (reference §2.3): the one place that changes a session's status, flags and
deadlines, and posts the messages those transitions produce.

Callers lock the session row first (`session_lock`) and call these inside a transaction. Nothing here
checks permissions; `openlines.services.actions` does that before calling in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import F
from django.utils import timezone

from openlines import signals
from openlines.models import OpenLine
from openlines.services.delivery import message_delivery_payload, message_dispatch, message_dispatch_prepare
from openlines.services.events import event_publish
from openlines.session_models import (
    DeadlineKind,
    Message,
    Session,
    SessionDeadline,
    SessionOffer,
    SessionStatus,
    StaleSessionWrite,
    TranscriptMail,
)

logger = logging.getLogger(__name__)

# `queue_time` is ignored in "to everybody" mode and when not positive (reference §4.3).
ALL_MODE_RECHECK_SECONDS = 3600
# A pinned session's close is moved by a week (reference §2.3 "Pause / pin").
PIN_CLOSE_DELAY = timedelta(days=7)
VOTE_LIKE = 5
VOTE_DISLIKE = 1


_LOCKED_WITH = ("line", "chat", "chat__client__connector")


def session_lock(session_id: int) -> Session:
    """The session row, locked for the rest of the transaction.

    Only the session row (`of=self`; a plain FOR UPDATE with the joins would also lock the line, chat,
    client and connector rows and serialise every transaction of the line), and FOR NO KEY UPDATE, which
    lets others insert rows referencing it (messages, offers, events) while it is held.
    """
    return (
        Session.objects.select_for_update(no_key=True, of=("self",))
        .select_related(*_LOCKED_WITH)
        .get(pk=session_id)
    )


def session_try_lock(session_id: int) -> Session | None:
    """Like `session_lock`, but None at once when another transaction holds the row (or it is gone)."""
    return (
        Session.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
        .select_related(*_LOCKED_WITH)
        .filter(pk=session_id)
        .first()
    )


def user_display_name(user_id: int | None) -> str:
    if user_id is None:
        return ""
    user = get_user_model().objects.filter(pk=user_id).select_related("profile").first()
    if user is None:
        return ""
    return user_name(user)


def user_name(user: AbstractBaseUser) -> str:
    """How a user is named to colleagues: their employee profile's name, else their full or user name."""
    profile = getattr(user, "profile", None)
    if profile is not None:
        return str(profile.name)
    return str(user.get_full_name() or user.get_username())  # type: ignore[attr-defined]


# --- Deadlines ------------------------------------------------------------------------------------


def deadline_set(session: Session, kind: DeadlineKind, due_at: datetime) -> None:
    # One upsert (INSERT ... ON CONFLICT) instead of update_or_create's savepoints, lock and second query.
    SessionDeadline.objects.bulk_create(
        [SessionDeadline(session=session, kind=kind, due_at=due_at)],
        update_conflicts=True,
        unique_fields=["session", "kind"],
        update_fields=["due_at"],
    )


def deadline_clear(session: Session, *kinds: DeadlineKind) -> None:
    qs = SessionDeadline.objects.filter(session=session)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    qs.delete()


def queue_wait_seconds(line: OpenLine) -> int:
    if line.queue_type == OpenLine.QueueType.ALL or line.queue_time <= 0:
        return ALL_MODE_RECHECK_SECONDS
    return int(line.queue_time)


# --- Messages -------------------------------------------------------------------------------------


def message_post(
    *,
    session: Session,
    author_type: str,
    text: str,
    author_id: int | None = None,
    author: AbstractBaseUser | None = None,
    internal: bool = False,
    attachments: list[dict[str, Any]] | None = None,
    external_id: str | None = None,
    connector_id: int | None = None,
    at: datetime | None = None,
) -> Message:
    """Store a message in the session's chat, count it, publish it, and send it to the client's channel.

    `author`: the author's user when the caller holds it (their name is then not read again).
    """
    at = at or timezone.now()
    # The session's chat object when loaded: its client and channel then come along for the send.
    chat: dict[str, Any] = (
        {"chat": session.chat} if Session.chat.is_cached(session) else {"chat_id": session.chat_id}
    )
    who: dict[str, Any] = {"author": author} if author is not None else {"author_id": author_id}
    message = Message(
        **chat,
        **who,
        session=session,
        author_type=author_type,
        text=text,
        internal=internal,
        attachments=attachments or [],
        external_id=external_id,
        connector_id=connector_id,
        created_at=at,
    )
    outgoing = author_type != Message.Author.CLIENT and not internal
    if outgoing:
        message_dispatch_prepare(message)
    message.save(force_insert=True)
    if not internal:
        session.message_count += 1
        session.date_last_message = at
    session.modified_at = at
    event_publish(
        type="message.new",
        session=session,
        payload={"message": message_payload(message)},
        for_client=not internal,
    )
    if outgoing:
        message_dispatch(message)
    if author_type == Message.Author.CLIENT:
        signals.client_message_received.send(sender=Session, session=session, message=message)
    elif author_type == Message.Author.AGENT and not internal:
        signals.agent_message_sent.send(sender=Session, session=session, message=message)
    return message


def message_payload(message: Message) -> dict[str, Any]:
    author = message.author if Message.author.is_cached(message) else None
    return {
        "id": message.pk,
        "author_type": message.author_type,
        "author_id": message.author_id,
        "author_name": (user_name(author) if author is not None else user_display_name(message.author_id))
        if message.author_id
        else "",
        "text": message.text,
        "attachments": message.attachments,
        "internal": message.internal,
        **message_delivery_payload(message),
        "created_at": message.created_at.isoformat(),
    }


def system_message(session: Session, key: str, *, internal: bool = False, **macros: str) -> Message:
    """A message in the line's language from the default texts (or the line's own copy of that text)."""
    text = session.line.client_text(key)
    for name, value in macros.items():
        text = text.replace(f"#{name.upper()}#", value)
    return message_post(session=session, author_type=Message.Author.SYSTEM, text=text, internal=internal)


def client_text_message(session: Session, key: str) -> Message:
    """An automatic text the client sees (welcome, no-answer, close...)."""
    return system_message(session, key, internal=False)


# --- Offers and ownership -------------------------------------------------------------------------


def offers_replace(session: Session, user_ids: list[int], at: datetime) -> None:
    """Make `user_ids` the agents who see the session as an offer; the others lose it."""
    current = set(session.offers.values_list("user_id", flat=True))
    wanted = set(user_ids)
    lost = current - wanted
    if lost:
        session.offers.filter(user_id__in=lost).delete()
        event_publish(type="offer.withdrawn", session=session, users=lost, payload={})
    for user_id in wanted - current:
        SessionOffer.objects.create(session=session, user_id=user_id, offered_at=at)
    if wanted - current:
        event_publish(
            type="offer.new",
            session=session,
            users=wanted - current,
            payload={"session": session_summary(session)},
        )


def session_summary(session: Session) -> dict[str, Any]:
    client = session.chat.client
    return {
        "id": session.pk,
        "line_id": session.line_id,
        "line_name": session.line.line_name,
        "status": session.status,
        "operator_id": session.operator_id,
        "client": {"id": client.pk, "name": client.name},
        "source": session.source,
        "closed": session.closed,
        "pause": session.pause,
        "wait_answer": session.wait_answer,
        "created_at": session.created_at.isoformat(),
    }


def session_assign(session: Session, *, user_ids: list[int], at: datetime, crm: bool = False) -> None:
    """Route result: offer the session to `user_ids` (one agent, or several in "to everybody" mode)."""
    line = session.line
    session.undistributed = False
    session.date_operator = at
    if len(user_ids) == 1 and line.queue_type != OpenLine.QueueType.ALL:
        session.operator_id = user_ids[0]
        if user_ids[0] not in session.queue_history:
            session.queue_history = [*session.queue_history, user_ids[0]]
    else:
        session.operator_id = None
    session.operator_from_crm = crm
    offers_replace(session, user_ids, at)
    if crm:
        deadline_clear(session, DeadlineKind.QUEUE)
    else:
        deadline_set(session, DeadlineKind.QUEUE, at + timedelta(seconds=queue_wait_seconds(line)))
    session_save(session)


def session_unassign(session: Session, *, at: datetime, undistributed: bool) -> None:
    """Nobody holds the session any more: it waits in the queue (`undistributed`) or for routing."""
    session.operator_id = None
    session.operator_from_crm = False
    session.undistributed = undistributed
    offers_replace(session, [], at)
    deadline_clear(session, DeadlineKind.QUEUE)
    session_save(session)


_ATTNAMES = {f.name: f.attname for f in Session._meta.concrete_fields}


def session_save(session: Session) -> None:
    """Write what this copy changed, and only that, to the session's row.

    The row's `revision` must still be the one this copy read: otherwise another copy (loaded by routing,
    say, in the same transaction) wrote in between and this one decided on old values. That is a bug; in
    tests (`OPENLINES_STALE_SESSION_WRITES = "raise"`) it raises, in production it is logged and the
    changed fields are still written (the others keep the newer write).
    """
    session.modified_at = timezone.now()
    previous = session.saved_operator_id
    fields = [name for name in session.changed_fields() if name != "revision"]
    values = {name: getattr(session, _ATTNAMES[name]) for name in fields}
    rows = Session.objects.filter(pk=session.pk, revision=session.revision)
    if not rows.update(**values, revision=F("revision") + 1):
        stale = (
            f"session {session.pk}: a copy of revision {session.revision} wrote {sorted(fields)} over a "
            "newer write"
        )
        if getattr(settings, "OPENLINES_STALE_SESSION_WRITES", "log") == "raise":
            raise StaleSessionWrite(stale)
        logger.error(stale)
        Session.objects.filter(pk=session.pk).update(**values, revision=F("revision") + 1)
        session.revision = Session.objects.values_list("revision", flat=True).get(pk=session.pk)
    else:
        session.revision += 1
    session.mark_stored()
    if previous != session.operator_id:
        signals.session_operator_changed.send(
            sender=Session,
            session=session,
            previous_id=previous,
            operator_id=session.operator_id,
            manual=getattr(session, "_manual_transfer", False),
        )
    session.saved_operator_id = session.operator_id
    event_publish(type="session.updated", session=session, payload={"session": session_summary(session)})


# --- Transitions (reference §2.3) -----------------------------------------------------------------


def session_accept(session: Session, *, user_id: int, at: datetime) -> None:
    """An agent takes the conversation: they own it, the other offers disappear."""
    previous = session.operator_id
    session.operator_id = user_id
    session.undistributed = False
    if session.wait_answer:
        session.wait_answer = False
        if session.status < SessionStatus.ANSWER:
            session.status = SessionStatus.ANSWER
        if session.date_operator_answer is None:
            session.date_operator_answer = at
            session.time_answer = _seconds(session.created_at, at)
    if session.date_operator is None:
        session.date_operator = at
    if user_id not in session.queue_history:
        session.queue_history = [*session.queue_history, user_id]
    offers_replace(session, [], at)
    deadline_clear(session, DeadlineKind.QUEUE)
    session_save(session)
    if previous and previous != user_id:
        event_publish(type="session.lost", session=session, users=[previous], payload={})


def session_return_to_queue(session: Session, *, at: datetime, undistributed: bool) -> None:
    """Skip, recall, an unavailable agent: the session waits for an agent again (STATUS 5).

    `undistributed` puts it in the line's waiting list for the next free agent; otherwise the caller routes
    it at once.
    """
    session.wait_answer = True
    session.status = SessionStatus.SKIP
    session.pause = False
    if session.wait_action:
        # Back in the queue means the client waits for an agent: the closing phase is over.
        session.wait_action = False
        deadline_clear(session, DeadlineKind.CLOSE)
    previous = session.operator_id
    session_unassign(session, at=at, undistributed=undistributed)
    if previous:
        event_publish(type="session.lost", session=session, users=[previous], payload={})


def session_on_agent_message(session: Session, *, user_id: int, at: datetime) -> None:
    """Agent writes (reference §2.3): waiting for the client, or closing when in the closing phase."""
    line = session.line
    if session.wait_answer:
        session_accept(session, user_id=user_id, at=at)
    if session.date_first_answer is None:
        session.date_first_answer = at
        session.time_first_answer = max(_seconds(session.created_at, at) - session.time_bot, 0)
        deadline_clear(session, DeadlineKind.NO_ANSWER)
    if session.wait_action:
        session.status = SessionStatus.WAIT_CLIENT
        deadline_set(session, DeadlineKind.CLOSE, at + timedelta(minutes=line.full_close_time))
    else:
        session.status = SessionStatus.OPERATOR
        if not session.pause:
            deadline_set(session, DeadlineKind.CLOSE, at + timedelta(seconds=line.auto_close_time))
    session_save(session)


# A CLOSE deadline is set only by the agent's reply (OPERATOR), the closing phase (WAIT_CLIENT,
# `wait_action`) and unpinning an answered session (OPERATOR); the client's message clears it. A session
# still new, or whose client wrote last, has none to clear (a query saved on every further message).
_NO_CLOSE_DEADLINE = (SessionStatus.NEW, SessionStatus.CLIENT, SessionStatus.CLIENT_AFTER_OPERATOR)


def session_on_client_message(session: Session, *, at: datetime) -> None:
    """Client writes: back to "client waiting" (20 before the agent's reply, 25 after it).

    A conversation closed before anyone accepted it (also one reopened by a late rating) goes back to
    waiting for an agent (STATUS 5): its holder gets a new queue time, or, with nobody holding it, it joins
    the line's waiting list (the caller distributes).
    """
    close_deadline_possible = session.wait_action or session.status not in _NO_CLOSE_DEADLINE
    session.date_last_client_message = at
    if session.wait_action and (session.wait_answer or session.operator_id is None):
        session.wait_answer = True
        session.status = SessionStatus.SKIP
        if session.operator_id is not None or session.offers.exists():
            if not session.pause:  # a pinned conversation stays with its agent: nothing forwards it
                deadline_set(
                    session, DeadlineKind.QUEUE, at + timedelta(seconds=queue_wait_seconds(session.line))
                )
        else:
            session.undistributed = True
    session.wait_action = False
    if not session.wait_answer:
        if session.status >= SessionStatus.OPERATOR:
            session.status = SessionStatus.CLIENT_AFTER_OPERATOR
        elif session.status < SessionStatus.CLIENT:
            session.status = SessionStatus.CLIENT
    # Nobody closes a conversation while the client is waiting for the agent.
    if close_deadline_possible:
        deadline_clear(session, DeadlineKind.CLOSE)
    session_save(session)


def session_finish(session: Session, *, at: datetime, auto: bool = False) -> None:
    """The agent (or the auto-close timer) ends the conversation: texts, rating request, closing phase.

    With nothing to wait for, or `full_close_time` 0, the session closes at once (a later rating can still
    reopen it while `wait_vote` is set).
    """
    line = session.line
    if session.wait_action and session.status == SessionStatus.WAIT_CLIENT and not auto:
        # Second close during the closing phase: close for good.
        session_close(session, at=at)
        return
    if not auto:
        session.date_operator_close = at
        session.time_close = _seconds(session.created_at, at)
    rule, key = (line.auto_close_rule, "auto_close") if auto else (line.close_rule, "close")
    waiting = False
    if rule == OpenLine.Rule.TEXT:
        client_text_message(session, key)
        waiting = True
    if line.vote_message and not session.vote:
        rating_request_post(session)
        session.wait_vote = True
        waiting = True
    if not waiting or line.full_close_time == 0:
        session_close(session, at=at)
        return
    session.wait_action = True
    session.status = SessionStatus.WAIT_CLIENT
    # Nobody is to take a conversation that is being closed: it leaves the waiting list and the offers
    # to other agents end (its own agent, if any, keeps it).
    session.undistributed = False
    others = (
        session.offers.all()
        if session.operator_id is None
        else session.offers.exclude(user_id=session.operator_id)
    )
    withdrawn = set(others.values_list("user_id", flat=True))
    if withdrawn:
        session.offers.filter(user_id__in=withdrawn).delete()
        event_publish(type="offer.withdrawn", session=session, users=withdrawn, payload={})
    deadline_clear(session, DeadlineKind.QUEUE, DeadlineKind.NO_ANSWER, DeadlineKind.BOT)
    deadline_set(session, DeadlineKind.CLOSE, at + timedelta(minutes=line.full_close_time))
    session_save(session)


def rating_request_post(session: Session) -> Message:
    from contactcenter.connectors.kinds import ConnectorKind

    key = "vote_message_1_text" if session.source == ConnectorKind.LIVECHAT else "vote_message_2_text"
    message = client_text_message(session, key)
    event_publish(type="rating.requested", session=session, payload={}, for_client=True)
    return message


def session_close(session: Session, *, at: datetime, status: SessionStatus = SessionStatus.CLOSE) -> None:
    """Full close (reference §2.3): closed, durations stored, deadlines gone, the agent's slot freed."""
    line = session.line
    bot_time_stop(session, at=at)
    session.closed = True
    session.status = status
    session.wait_action = False
    session.wait_answer = False
    session.undistributed = False
    session.date_close = at
    session.time_dialog = _seconds(session.created_at, at)
    if session.wait_vote and line.vote_time_limit:
        session.date_close_vote = at + timedelta(seconds=line.vote_time_limit)
    offers_replace(session, [], at)
    deadline_clear(session)
    system_message(session, "session_closed", internal=True)
    session_save(session)
    signals.session_closed.send(sender=Session, session=session)
    event_publish(type="session.closed", session=session, payload={"status": status}, for_client=True)
    if status == SessionStatus.CLOSE:
        from openlines.services.transcripts import transcript_mail_queue

        transcript_mail_queue(session=session, reason=TranscriptMail.Reason.CLOSED)


def session_reopen_for_rating(session: Session, *, at: datetime) -> None:
    """A rating after the full close reopens the conversation into its closing phase."""
    session.closed = False
    session.status = SessionStatus.WAIT_CLIENT
    session.wait_action = True
    session.date_close = None
    system_message(session, "reopened", internal=True)
    deadline_set(session, DeadlineKind.CLOSE, at + timedelta(minutes=session.line.full_close_time))
    session_save(session)


def session_pin(session: Session, *, pinned: bool, at: datetime) -> None:
    """Pinned sessions are not re-queued and close a week later; unpinning restores the queue rules."""
    session.pause = pinned
    signals.session_pin_changed.send(sender=Session, session=session, pinned=pinned)
    if pinned:
        deadline_clear(session, DeadlineKind.QUEUE)
        close = SessionDeadline.objects.filter(session=session, kind=DeadlineKind.CLOSE).first()
        if close is not None:
            deadline_set(session, DeadlineKind.CLOSE, close.due_at + PIN_CLOSE_DELAY)
    elif session.wait_action:
        # Nothing forwards a conversation that is being closed; its close delay runs again from now.
        deadline_set(session, DeadlineKind.CLOSE, at + timedelta(minutes=session.line.full_close_time))
    else:
        if session.wait_answer and session.operator_id is not None:
            deadline_set(
                session, DeadlineKind.QUEUE, at + timedelta(seconds=queue_wait_seconds(session.line))
            )
        if session.status == SessionStatus.OPERATOR:
            deadline_set(session, DeadlineKind.CLOSE, at + timedelta(seconds=session.line.auto_close_time))
    session_save(session)


def bot_time_stop(session: Session, *, at: datetime) -> None:
    if session.bot_started_at is not None:
        session.time_bot += _seconds(session.bot_started_at, at)
        session.bot_started_at = None


def _seconds(start: datetime, end: datetime) -> int:
    return max(int((end - start).total_seconds()), 0)
