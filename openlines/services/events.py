"""The one place that emits realtime events: stored in the database, then fanned out after commit.

Groups: `staff.<user id>` (every staff socket of that user), `session.<id>` (staff watching a
conversation), `chat.<id>.client` (the customer's widget sockets). The database row is the source of truth;
the channel layer is only the fast path, so a client that missed a push asks for events after its last id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from openlines.session_models import RealtimeEvent, Session, SessionOffer, SessionParticipant

logger = logging.getLogger(__name__)


def staff_group(user_id: int) -> str:
    return f"staff.{user_id}"


def session_group(session_id: int) -> str:
    return f"session.{session_id}"


def client_group(chat_id: int) -> str:
    return f"chat.{chat_id}.client"


def session_audience_user_ids(session: Session) -> set[int]:
    """Staff who see a conversation in their workspace: its agent, agents it is offered to, participants."""
    # One query for both relations: every event about a session asks this.
    ids = set(
        SessionOffer.objects.filter(session=session)
        .values_list("user_id", flat=True)
        .union(SessionParticipant.objects.filter(session=session).values_list("user_id", flat=True))
    )
    if session.operator_id is not None:
        ids.add(session.operator_id)
    return ids


Outgoing = list[tuple[str, dict[str, Any], str]]  # (group, event, consumer handler)


def _send(groups: list[str], event: dict[str, Any], handler: str) -> None:
    _send_all([(group, event, handler) for group in groups])


def _send_all(messages: Outgoing) -> None:
    """Push to the channel layer in ONE hop into async code: `async_to_sync` costs about 2 ms a call (a
    thread and an event loop), which per group and per event made publishing to 100 waiting clients
    take 0.4 s (bench/routing.py)."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send() -> None:
        for group, event, handler in messages:
            try:
                await layer.group_send(group, {"type": handler, "event": event})
            except Exception:
                # The event is stored; a client that missed it resyncs from its last id.
                logger.warning("realtime push to %s failed", group, exc_info=True)

    try:
        async_to_sync(send)()
    except RuntimeError:
        # Called from a thread that runs an event loop itself (e.g. a sync browser driver in tests):
        # the events are stored, and clients get them when they resync.
        logger.warning("realtime push skipped: called inside a running event loop", exc_info=True)


def event_publish(
    *,
    type: str,
    payload: dict[str, Any],
    session: Session | None = None,
    users: Iterable[int] = (),
    for_client: bool = False,
) -> list[RealtimeEvent]:
    """Store an event about `session` and/or addressed to `users`; push it after the transaction commits.

    A session event goes to the staff watching the session and to its audience (agent, offered agents,
    participants), and to the customer's widget when `for_client`. A user event goes to that user only.
    """
    users = sorted(set(users))
    audience = sorted(session_audience_user_ids(session)) if session is not None else []
    rows: list[RealtimeEvent] = []
    if session is not None:
        rows.append(
            RealtimeEvent.objects.create(
                session=session, chat_id=session.chat_id, for_client=for_client, type=type, payload=payload
            )
        )
    for user_id in users:
        rows.append(
            RealtimeEvent.objects.create(user_id=user_id, session=session, type=type, payload=payload)
        )

    def push() -> None:
        messages: Outgoing = []
        for row in rows:
            event = {"id": row.pk, "type": row.type, "session_id": row.session_id, **row.payload}
            if row.user_id is not None:
                messages.append((staff_group(row.user_id), event, "staff.event"))
                continue
            assert session is not None
            groups = [session_group(session.pk)] + [staff_group(uid) for uid in audience if uid not in users]
            messages += [(group, event, "staff.event") for group in groups]
            if row.for_client:
                messages.append((client_group(session.chat_id), event, "client.event"))
        _send_all(messages)

    transaction.on_commit(push)
    return rows


def event_publish_many(
    *, type: str, items: Iterable[tuple[Session, dict[str, Any]]], for_client: bool = False
) -> list[RealtimeEvent]:
    """`event_publish` of one event type about many sessions (e.g. every waiting client's queue position),
    in a fixed number of queries instead of three per session."""
    items = list(items)
    if not items:
        return []
    session_ids = [session.pk for session, _payload in items]
    audiences: dict[int, set[int]] = {session.pk: set() for session, _payload in items}
    for session, _payload in items:
        if session.operator_id is not None:
            audiences[session.pk].add(session.operator_id)
    for model in (SessionOffer, SessionParticipant):
        for session_id, user_id in model.objects.filter(session_id__in=session_ids).values_list(
            "session_id", "user_id"
        ):
            audiences[session_id].add(user_id)
    rows = RealtimeEvent.objects.bulk_create(
        [
            RealtimeEvent(
                session=session, chat_id=session.chat_id, for_client=for_client, type=type, payload=payload
            )
            for session, payload in items
        ]
    )

    def push() -> None:
        messages: Outgoing = []
        for (session, _payload), row in zip(items, rows, strict=True):
            event = {"id": row.pk, "type": row.type, "session_id": row.session_id, **row.payload}
            groups = [session_group(session.pk)] + [staff_group(uid) for uid in sorted(audiences[session.pk])]
            messages += [(group, event, "staff.event") for group in groups]
            if for_client:
                messages.append((client_group(session.chat_id), event, "client.event"))
        _send_all(messages)

    transaction.on_commit(push)
    return rows


def typing_push(*, session: Session, to_client: bool, payload: dict[str, Any]) -> None:
    """Typing is ephemeral: pushed at once and never stored (a missed one is out of date anyway)."""
    event = {"id": None, "type": "typing", "session_id": session.pk, **payload}
    if to_client:
        _send([client_group(session.chat_id)], event, "client.event")
    else:
        groups = [session_group(session.pk)] + [
            staff_group(uid) for uid in session_audience_user_ids(session)
        ]
        _send(groups, event, "staff.event")
