"""The one place that emits realtime events: stored in the database, then fanned out after commit.

Groups: `staff.<user id>` (every staff socket of that user), `session.<id>` (staff watching a
conversation), `chat.<id>.client` (the customer's widget sockets). The database row is the source of truth;
the channel layer is only the fast path, so a client that missed a push asks for events after its last id.

Cost per committed transaction, whatever the number of events in it and whoever publishes them: one audience
query (offers and participants of every session concerned, read after the commit, the state a resync would
see) and one group send per group carrying all of that group's events in order. A websocket consumer runs
its database call through `call_then_push`: the pushes then happen on the event loop after the database
thread is released, instead of holding the one thread that runs every database call of the process.
"""

from __future__ import annotations

import contextvars
import logging
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection, transaction

from contactcenter.db import SqlNames, any_of_sql
from openlines.session_models import RealtimeEvent, Session, SessionOffer, SessionParticipant

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Consumer handlers; with an "s" ("staff.events") for several events of one commit in one message.
STAFF_HANDLER = "staff.event"
CLIENT_HANDLER = "client.event"


def staff_group(user_id: int) -> str:
    return f"staff.{user_id}"


def session_group(session_id: int) -> str:
    return f"session.{session_id}"


def client_group(chat_id: int) -> str:
    return f"chat.{chat_id}.client"


def _staff_audiences(session_ids: Iterable[int]) -> dict[int, set[int]]:
    """The agent, the agents offered and the participants of each session as the database has them now:
    one plain statement for the three relations and all sessions. It runs after every commit that
    publishes, so it is written in SQL: the ORM's compilation of the same UNION cost more than the
    database's answer (bench/routing.py --profile distribute)."""
    ids = sorted(set(session_ids))
    audiences: dict[int, set[int]] = {pk: set() for pk in ids}
    if not ids:
        return audiences
    offer = SqlNames(SessionOffer, connection)
    participant = SqlNames(SessionParticipant, connection)
    session = SqlNames(Session, connection)
    offered, offered_ids = any_of_sql(offer["session"], ids, connection)
    joined, joined_ids = any_of_sql(participant["session"], ids, connection)
    owned, owned_ids = any_of_sql(session["id"], ids, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            # Names from the models' metadata; the ids travel as parameters.
            f"SELECT {offer['session']}, {offer['user']} FROM {offer.table} WHERE {offered}"  # noqa: S608
            f" UNION SELECT {participant['session']}, {participant['user']} FROM {participant.table}"
            f" WHERE {joined}"
            f" UNION SELECT {session['id']}, {session['operator']} FROM {session.table}"
            f" WHERE {owned} AND {session['operator']} IS NOT NULL",
            [offered_ids, joined_ids, owned_ids],
        )
        for session_id, user_id in cursor.fetchall():
            audiences[session_id].add(user_id)
    return audiences


def session_audience_user_ids(session: Session) -> set[int]:
    """Staff who see a conversation in their workspace: its agent, agents it is offered to, participants."""
    ids = _staff_audiences([session.pk])[session.pk]
    if session.operator_id is not None:
        ids.add(session.operator_id)
    return ids


# (group, handler, events): one channel-layer message per group, its events oldest first.
Outgoing = list[tuple[str, str, list[dict[str, Any]]]]
# Per `session.<id>` group: the staff who get the same events through their own `staff.<id>` group. Told
# to the watching sockets, which check their user's access for every other copy they relay (the
# conversation may have been transferred away, the role changed, ... since the watch began).
Covered = dict[str, set[int]]


@dataclass
class _Committed:
    """Events of one `event_publish` call whose transaction committed, waiting to be addressed."""

    rows: list[RealtimeEvent]
    session: Session | None
    users: list[int]
    # The agent when the event was published: also told if the conversation moved on before the commit.
    operator_id: int | None
    for_client: bool


def _outgoing(batch: list[_Committed], covered: Covered | None = None) -> Outgoing:
    """The messages to send for `batch`; `covered` (when given) is filled for the session groups."""
    # Read after the commit: an agent who took the conversation in a transaction that committed between
    # this one and now sees the event in a resync, so the push must reach them too.
    audiences = _staff_audiences(item.session.pk for item in batch if item.session is not None)
    covered = {} if covered is None else covered
    by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in batch:
        for row in item.rows:
            event = {"id": row.pk, "type": row.type, "session_id": row.session_id, **row.payload}
            if row.user_id is not None:
                by_group.setdefault((staff_group(row.user_id), STAFF_HANDLER), []).append(event)
                continue
            session = item.session
            assert session is not None
            audience = audiences.get(session.pk, set()) | {
                uid for uid in (item.operator_id, session.operator_id) if uid is not None
            }
            groups = [session_group(session.pk)] + [
                staff_group(uid) for uid in sorted(audience) if uid not in item.users
            ]
            # Those not in `audience` but in `item.users` get the copy addressed to them.
            reached = audience | set(item.users)
            group = session_group(session.pk)
            covered[group] = covered[group] & reached if group in covered else reached
            for group in groups:
                by_group.setdefault((group, STAFF_HANDLER), []).append(event)
            if row.for_client:
                by_group.setdefault((client_group(session.chat_id), CLIENT_HANDLER), []).append(event)
    return [(group, handler, events) for (group, handler), events in by_group.items()]


async def _push(messages: Outgoing, covered: Covered | None = None) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group, handler, events in messages:
        # One event keeps the single form ("staff.event"), which older processes understand too.
        message: dict[str, Any] = (
            {"type": handler, "event": events[0]}
            if len(events) == 1
            else {"type": f"{handler}s", "events": events}
        )
        if covered is not None and group in covered:
            message["covered"] = sorted(covered[group])
        try:
            await layer.group_send(group, message)
        except Exception:
            # The events are stored; a client that missed them resyncs from its last id.
            logger.warning("realtime push to %s failed", group, exc_info=True)


def _push_now(messages: Outgoing, covered: Covered | None = None) -> None:
    """Push from synchronous code in ONE hop into async code: `async_to_sync` costs about 2 ms a call (a
    thread and an event loop), which per group and per event made publishing to 100 waiting clients
    take 0.4 s (bench/routing.py)."""
    if not messages or get_channel_layer() is None:
        return
    try:
        async_to_sync(_push)(messages, covered)
    except RuntimeError:
        # Called from a thread that runs an event loop itself (e.g. a sync browser driver in tests):
        # the events are stored, and clients get them when they resync.
        logger.warning("realtime push skipped: called inside a running event loop", exc_info=True)


@dataclass
class _Collected:
    committed: list[_Committed]
    ephemeral: Outgoing
    covered: Covered = field(default_factory=dict)


# Set while `call_then_push` runs a function: what it publishes is collected here instead of pushed.
_collector: contextvars.ContextVar[_Collected | None] = contextvars.ContextVar(
    "realtime_event_collector", default=None
)


def _on_commit(items: list[_Committed]) -> None:
    collected = _collector.get()
    if collected is not None:
        collected.committed.extend(items)
    else:
        covered: Covered = {}
        _push_now(_outgoing(items, covered), covered)


# --- One push per committed transaction -------------------------------------------------------------
#
# Each publication registers two commit callbacks. The first (an ordinary `on_commit`, so Django drops it
# with a savepoint that rolls back) moves its events to the connection's committed list. The second flushes
# that list, and only the one registered last in the transaction does: it is registered under the
# savepoints that enclose every publication of the transaction (not under the publication's own), so it
# survives a savepoint rollback that drops only some of them, and runs after every surviving first callback.
# A transaction committed by a commit callback of another (e.g. `line_distribute` after a close) flushes the
# events of the outer one moved so far first, so events leave in commit order.


@dataclass
class _Transaction:
    sids: set[str]
    last_flush: Callable[[], None] | None = None


@dataclass
class _Pending:
    committed: list[_Committed] = field(default_factory=list)
    transaction: _Transaction | None = None


_pending: weakref.WeakKeyDictionary[Any, _Pending] = weakref.WeakKeyDictionary()


def _after_commit(items: list[_Committed]) -> None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _on_commit(items)  # autocommit: the rows are committed already
        return
    pending = _pending.setdefault(connection, _Pending())
    sids = set(connection.savepoint_ids)
    current = pending.transaction
    if current is None or not any(
        func is current.last_flush for _sids, func, _robust in reversed(connection.run_on_commit)
    ):
        # Our last flush is not registered in this transaction: it is a new one.
        current = pending.transaction = _Transaction(sids=sids)
    current.sids &= sids
    transaction.on_commit(lambda: pending.committed.extend(items))

    def flush() -> None:
        if current.last_flush is not flush or not pending.committed:
            return
        committed, pending.committed = pending.committed, []
        _on_commit(committed)

    current.last_flush = flush
    # `on_commit` with the savepoints of every publication of this transaction instead of the current ones.
    # Robust: the events are stored, a failed push must not turn a committed change into an error.
    connection.run_on_commit.append((set(current.sids), flush, True))


async def call_then_push(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `func` on the database thread (`database_sync_to_async`); push the events it committed once the
    thread is free again. Pushed also when `func` raises: what committed before the error is stored."""
    messages: Outgoing = []
    covered: Covered = {}

    def run() -> T:
        collected = _Collected(committed=[], ephemeral=[])
        token = _collector.set(collected)
        try:
            return func(*args, **kwargs)
        finally:
            _collector.reset(token)
            messages.extend(collected.ephemeral)
            covered.update(collected.covered)
            if collected.committed:
                try:
                    messages.extend(_outgoing(collected.committed, covered))
                except Exception:
                    # Stored all the same; the clients resync. Never hide the result or error of `func`.
                    logger.warning("realtime push not addressed", exc_info=True)

    try:
        return await database_sync_to_async(run)()
    finally:
        await _push(messages, covered)


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
    rows: list[RealtimeEvent] = []
    if session is not None:
        rows.append(
            RealtimeEvent(
                session=session, chat_id=session.chat_id, for_client=for_client, type=type, payload=payload
            )
        )
    rows.extend(
        RealtimeEvent(user_id=user_id, session=session, type=type, payload=payload) for user_id in users
    )
    if len(rows) == 1:
        rows[0].save()
    else:
        # One insert for the session's row and its addressees' rows (ids in this order).
        RealtimeEvent.objects.bulk_create(rows)
    item = _Committed(
        rows=rows,
        session=session,
        users=users,
        operator_id=session.operator_id if session is not None else None,
        for_client=for_client,
    )
    _after_commit([item])
    return rows


def event_publish_many(
    *, type: str, items: Iterable[tuple[Session, dict[str, Any]]], for_client: bool = False
) -> list[RealtimeEvent]:
    """`event_publish` of one event type about many sessions (e.g. every waiting client's queue position),
    in one insert instead of one per session."""
    items = list(items)
    if not items:
        return []
    rows = RealtimeEvent.objects.bulk_create(
        [
            RealtimeEvent(
                session=session, chat_id=session.chat_id, for_client=for_client, type=type, payload=payload
            )
            for session, payload in items
        ]
    )
    committed = [
        _Committed(
            rows=[row], session=session, users=[], operator_id=session.operator_id, for_client=for_client
        )
        for (session, _payload), row in zip(items, rows, strict=True)
    ]
    _after_commit(committed)
    return rows


def typing_push(*, session: Session, to_client: bool, payload: dict[str, Any]) -> None:
    """Typing is ephemeral: pushed at once and never stored (a missed one is out of date anyway)."""
    event = {"id": None, "type": "typing", "session_id": session.pk, **payload}
    covered: Covered = {}
    if to_client:
        messages: Outgoing = [(client_group(session.chat_id), CLIENT_HANDLER, [event])]
    else:
        audience = session_audience_user_ids(session)
        covered[session_group(session.pk)] = audience
        groups = [session_group(session.pk)] + [staff_group(uid) for uid in sorted(audience)]
        messages = [(group, STAFF_HANDLER, [event]) for group in groups]
    collected = _collector.get()
    if collected is not None:
        collected.ephemeral.extend(messages)
        for group, uids in covered.items():
            known = collected.covered.get(group)
            collected.covered[group] = uids if known is None else known & uids
    else:
        _push_now(messages, covered)
