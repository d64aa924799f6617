"""Reads about open lines: who is in a line's queue, what deleting a line takes with it, who sees which
conversation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, router
from django.db.models import Exists, OuterRef, ProtectedError, Q, QuerySet, RestrictedError
from django.db.models.deletion import Collector
from django.utils.translation import gettext as _

from contactcenter.db import SqlNames
from contactcenter.models import Department, EmployeeProfile
from contactcenter.selectors import department_member_ids
from openlines.models import OpenLine, QueueMember
from openlines.resync import RESYNC_HAVE_MAX, RESYNC_LIMIT
from openlines.session_models import LineAgentState, Message, Session, SessionOffer, SessionParticipant


def _department_tree_ids(department: Department) -> set[int]:
    ids = {department.pk}
    frontier = {department.pk}
    while frontier:
        frontier = set(Department.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - ids
        ids |= frontier
    return ids


def department_queue_user_ids(*, department: Department, exclude_heads: bool) -> list[int]:
    """The current members of a department and its sub-departments, in user id order.

    User id order keeps "exactly as enqueued" routing stable; with `exclude_heads` the heads of those
    departments are left out.
    """
    ids = department_member_ids(department=department)
    if exclude_heads:
        heads = Department.objects.filter(
            pk__in=_department_tree_ids(department), head__isnull=False
        ).values_list("head_id", flat=True)
        ids -= set(heads)
    return sorted(ids)


def queue_member_user_ids(*, member: QueueMember) -> list[int]:
    """The users one queue entry stands for: the user, or the department's current members."""
    if member.user_id is not None:
        return [member.user_id]
    if member.department is None:
        return []
    return department_queue_user_ids(department=member.department, exclude_heads=member.exclude_heads)


def line_queue_user_ids(*, line: OpenLine) -> list[int]:
    """The line's agents in queue order, department entries expanded to their current members.

    A user who appears more than once (directly and through a department, or in two departments) keeps
    the first position. Inactive users are included; routing filters availability.
    """
    seen: set[int] = set()
    result: list[int] = []
    # One plain statement: routing reads the queue (1,000 rows in bench/routing.py) on every decision, and
    # the ORM's building of this query cost more than the read (3.0 against 1.1 ms p50 measured alone).
    member = SqlNames(QueueMember, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {member['user']}, {member['department']}, {member['exclude_heads']}"  # noqa: S608  (names from the model)
            f" FROM {member.table} WHERE {member['line']} = %s ORDER BY {member['sort']}, {member['id']}",
            [line.pk],
        )
        entries = cursor.fetchall()
    for user_id, department_id, exclude_heads in entries:
        if user_id is not None:
            user_ids = [user_id]
        else:
            department = Department.objects.filter(pk=department_id).first()
            if department is None:
                continue
            user_ids = department_queue_user_ids(department=department, exclude_heads=exclude_heads)
        for uid in user_ids:
            if uid not in seen:
                seen.add(uid)
                result.append(uid)
    return result


def line_assignment_ranks(*, line_id: int) -> dict[int, int]:
    """Each agent's rank by their last assignment on the line: 1 = longest ago, equal times share a rank;
    agents never assigned there are absent ("evenly" routing).

    One plain statement: for a queue of 1,000 agents the ORM's per-row conversion of the window
    expression cost more than the database's answer (bench/routing.py --profile decision).
    """
    state = SqlNames(LineAgentState, connection)
    at_column = state["last_assigned_at"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {state['user']}, DENSE_RANK() OVER (ORDER BY {at_column}) FROM {state.table} "  # noqa: S608  (names from the model)
            f"WHERE {state['line']} = %s AND {at_column} IS NOT NULL",
            [line_id],
        )
        return dict(cursor.fetchall())


# Which collected model counts as a "conversation" and which as a "message" in the deletion summary.
# The engine adds its session/message models here (labels are "app_label.modelname", lower case).
CONVERSATION_MODELS: set[str] = {"openlines.session"}
MESSAGE_MODELS: set[str] = {"openlines.message"}


def line_deletion_objects(line: OpenLine) -> dict[str, int]:
    """How many rows of each model deleting `line` removes (cascade included), keyed by model label."""
    using = router.db_for_write(OpenLine, instance=line)
    collector = Collector(using=using)
    try:
        collector.collect([line])
    except (ProtectedError, RestrictedError):
        return {}  # it cannot be deleted: see line_history_counts
    counts: dict[str, int] = {}
    for model, instances in collector.data.items():
        label = model._meta.label_lower
        counts[label] = counts.get(label, 0) + len(instances)
    for qs in collector.fast_deletes:
        label = qs.model._meta.label_lower
        counts[label] = counts.get(label, 0) + qs.count()
    return counts


def line_history_counts(line: OpenLine) -> dict[str, int]:
    """The conversation history that keeps a line from being deleted: its conversations and messages, and
    those of the clients of its channels (history is never deleted as a side effect)."""
    from openlines.session_models import Message, Session

    of_line = Q(line=line) | Q(chat__client__connector__line=line)
    return {
        "conversations": Session.objects.filter(of_line).distinct().count(),
        "messages": Message.objects.filter(
            Q(session__line=line) | Q(chat__client__connector__line=line)
        ).distinct().count(),
    }


def line_deletion_summary(line: OpenLine) -> dict[str, int]:
    """What deleting the line takes with it: `conversations`, `messages`, `queue_entries` (always present),
    and `protected` (1 when conversation history keeps the line from being deleted; then `conversations`
    and `messages` count that history).

    Counted through Django's deletion collector, so every model that cascades from the line (now or later)
    is included without changes here; the engine only registers its models in CONVERSATION_MODELS /
    MESSAGE_MODELS.
    """
    counts = line_deletion_objects(line)
    if not counts:
        return {**line_history_counts(line), "queue_entries": line.queue.count(), "protected": 1}
    return {
        "conversations": sum(n for label, n in counts.items() if label in CONVERSATION_MODELS),
        "messages": sum(n for label, n in counts.items() if label in MESSAGE_MODELS),
        "queue_entries": counts.get("openlines.queuemember", 0),
        "protected": 0,
    }


def next_line_name() -> str:
    """A name for a new line: "Open line", then "Open line 2", ... skipping names in use."""
    base = str(_("Open line"))
    taken = set(OpenLine.objects.filter(line_name__startswith=base).values_list("line_name", flat=True))
    if base not in taken:
        return base
    number = 2
    while f"{base} {number}" in taken:
        number += 1
    return f"{base} {number}"


# Connector apps register a function listing a line's channels (e.g. ["Telegram", "Live chat"]) so the
# list of lines can show them; this app has no channels of its own.
CHANNEL_PROVIDERS: list[Callable[[OpenLine], list[str]]] = []


def line_channel_names(*, line: OpenLine) -> list[str]:
    names: list[str] = []
    for provider in CHANNEL_PROVIDERS:
        names.extend(provider(line))
    return names


@dataclass(frozen=True)
class AgentIdentity:
    """What a client sees about the agent answering on a line (reference §1.2, OPERATOR_DATA)."""

    name: str
    work_position: str
    avatar_url: str


def _file_url(file: Any) -> str:
    return file.url if file else ""


def line_agent_identity(*, line: OpenLine, user: AbstractBaseUser | None) -> AgentIdentity | None:
    """The name, position and photo shown to clients for `user` on `line` (None: no agent known yet).

    `profile`: the employee profile. `queue`: the user's own queue entry, else the entry of a department
    they are in, each field falling back to the profile when left empty. `hide`: the line's default identity.
    """
    if line.operator_data == OpenLine.OperatorData.HIDE:
        return AgentIdentity(line.default_operator_name, "", _file_url(line.default_operator_avatar))
    if user is None:
        return None
    profile = EmployeeProfile.objects.filter(user_id=user.pk).first()
    full_name = getattr(user, "get_full_name", lambda: "")() or user.get_username()
    name = profile.name if profile is not None else full_name
    position = profile.work_position if profile is not None else ""
    avatar = _file_url(profile.avatar) if profile is not None else ""
    if line.operator_data == OpenLine.OperatorData.QUEUE:
        entry = line.queue.filter(user_id=user.pk).first()
        if entry is None:
            for member in line.queue.filter(department__isnull=False).select_related("department"):
                if user.pk in queue_member_user_ids(member=member):
                    entry = member
                    break
        if entry is not None:
            name = entry.display_name or name
            position = entry.work_position or position
            avatar = _file_url(entry.avatar) or avatar
    return AgentIdentity(name, position, avatar)


# --- Conversations ----------------------------------------------------------------------------------------

# Role checks that let a user see conversations beyond their own: the chat list (statistics), the history,
# and joining (the engine lets whoever may join see the conversation, `actions.session_can_view`).
SESSION_VIEW_PERMISSIONS = (("statistics", "view"), ("history", "view"), ("join", "perform"))
# Reading a conversation's messages is history, not statistics: the SQL form of `actions.session_can_view`.
SESSION_READ_PERMISSIONS = (("history", "view"), ("join", "perform"))


def sessions_visible_to(
    *,
    user: AbstractBaseUser | AnonymousUser,
    queryset: QuerySet[Session] | None = None,
    permissions: tuple[tuple[str, str], ...] = SESSION_VIEW_PERMISSIONS,
) -> QuerySet[Session]:
    """The sessions `user` may know about: those they hold, are offered or take part in, plus what their
    statistics / history / join level allows, as one SQL filter (never one check per session).

    Owners of a session are its agent, the agents it is offered to and its participants
    (`Session.owner_user_ids`), so "own" and "department" levels are the same filter over those owners.
    """
    from contactcenter.permissions import Level, user_access_level, user_colleague_ids

    sessions = queryset if queryset is not None else Session.objects.all()
    if not user.is_authenticated or not user.is_active:
        return sessions.none()
    level = max(user_access_level(user=user, area=area, action=action) for area, action in permissions)
    if level == Level.ANY:
        return sessions
    owners = user_colleague_ids(user=user) if level == Level.DEPARTMENT else {int(user.pk)}
    return sessions.filter(
        Q(operator_id__in=owners)
        | Exists(SessionOffer.objects.filter(session=OuterRef("pk"), user_id__in=owners))
        | Exists(SessionParticipant.objects.filter(session=OuterRef("pk"), user_id__in=owners))
    )


def message_author_for_client(*, message: Message) -> dict[str, str]:
    """Who the client is told wrote an outgoing message, by the line's agent information setting (§1.2)."""
    from openlines.services.lifecycle import user_display_name

    session = message.session
    line = session.line
    identity = line_agent_identity(line=line, user=message.author) if message.author_type == "agent" else None
    if identity is not None:
        name = identity.name
    elif message.author_type == Message.Author.AGENT:
        name = user_display_name(message.author_id)
    elif message.author_type == Message.Author.BOT:
        name = session.bot.name if session.bot is not None else line.line_name
    else:
        name = line.line_name
    return {"type": message.author_type, "name": name}


# --- Agent workspace and realtime resync ------------------------------------------------------------


def user_session_ids(*, user_id: int, open_only: bool = False) -> set[int]:
    """Sessions the user relates to: holds, is offered, or participates in."""
    from openlines.session_models import Session, SessionOffer, SessionParticipant

    held = Session.objects.filter(operator_id=user_id)
    if open_only:
        held = held.filter(closed=False)
    ids = set(held.values_list("pk", flat=True))
    ids |= set(SessionOffer.objects.filter(user_id=user_id).values_list("session_id", flat=True))
    participating = SessionParticipant.objects.filter(user_id=user_id)
    if open_only:
        participating = participating.filter(session__closed=False)
    ids |= set(participating.values_list("session_id", flat=True))
    return ids


@dataclass
class ResyncPage:
    events: list[dict[str, Any]]
    more: bool


def _resync_window(since: int) -> tuple[Any, Any] | None:
    """Creation times of events a page at cursor `since` may still be missing below it: from
    RESYNC_LOOKBACK before the cursor's event to as far after it (an event inserted before the cursor's
    got its id was created no later, give or take clock skew between processes)."""
    from datetime import timedelta

    from django.conf import settings

    from openlines.session_models import RealtimeEvent

    if since <= 0:
        return None
    anchor = RealtimeEvent.objects.filter(id__lte=since).order_by("-id").values_list("created_at", flat=True)
    created = anchor.first()
    if created is None:
        return None
    lookback = timedelta(seconds=settings.RESYNC_LOOKBACK)
    return created - lookback, created + lookback


def _late(visible: QuerySet[Any], *, since: int, have: Iterable[int] = ()) -> QuerySet[Any]:
    """The events of `visible` below the cursor created within its lookback window, not in `have`.

    Deliberately without ORDER BY / LIMIT in SQL (sorted by the caller): with them PostgreSQL walks the
    primary key from one end of the table, filtering every row, instead of the audience or `created_at`
    index - a scan of the whole event log per resync, which stalled every socket in the long chaos run.
    The window holds one audience's events of two minutes, a few hundred rows at most.
    """
    window = _resync_window(since)
    if window is None:
        return visible.none()
    # The cursor's own event is held by definition (the page got it, or its snapshot reflects it).
    return visible.filter(id__lt=since, created_at__range=window).exclude(id__in=set(have)).order_by()


def _resync_page(visible: QuerySet[Any], *, since: int, have: Iterable[int], limit: int) -> ResyncPage:
    """The events of `visible` a page at cursor `since` holding `have` lacks, oldest first: those after the
    cursor, and those below it committed late (created within the lookback window)."""
    rows = sorted(_late(visible, since=since, have=have), key=lambda row: row.pk)[: limit + 1]
    if len(rows) <= limit:
        rows += list(visible.filter(id__gt=since).order_by("id")[: limit + 1 - len(rows)])
    return ResyncPage(events=[realtime_event_shape(row) for row in rows[:limit]], more=len(rows) > limit)


def _staff_visible(user_id: int, watched_session_ids: Iterable[int]) -> QuerySet[Any]:
    """Events a staff member may see: those addressed to the user, and conversation-wide events of sessions
    they hold, are offered, take part in, or watch (watching was permission-checked when it started).
    Events addressed to another user are never included."""
    from openlines.session_models import RealtimeEvent

    session_ids = user_session_ids(user_id=user_id) | {int(pk) for pk in watched_session_ids}
    return RealtimeEvent.objects.filter(Q(user_id=user_id) | Q(user__isnull=True, session_id__in=session_ids))


def _client_visible(chat_id: int) -> QuerySet[Any]:
    """Events of one chat the customer's widget may see."""
    from openlines.session_models import RealtimeEvent

    return RealtimeEvent.objects.filter(chat_id=chat_id, for_client=True, user__isnull=True)


def realtime_events_for_user(
    *,
    user_id: int,
    since: int,
    have: Iterable[int] = (),
    watched_session_ids: Iterable[int] = (),
    limit: int = RESYNC_LIMIT,
) -> ResyncPage:
    """What a staff page at cursor `since`, holding `have`, missed; shaped like the socket pushes them."""
    return _resync_page(_staff_visible(user_id, watched_session_ids), since=since, have=have, limit=limit)


def realtime_event_shape(row: Any) -> dict[str, Any]:
    """The JSON a socket receives for a stored event (the same shape `event_publish` pushes)."""
    return {"id": row.pk, "type": row.type, "session_id": row.session_id, **row.payload}


def client_events_since(
    *, chat_id: int, since: int, have: Iterable[int] = (), limit: int = RESYNC_LIMIT
) -> ResyncPage:
    """What the customer's widget at cursor `since`, holding `have`, missed."""
    return _resync_page(_client_visible(chat_id), since=since, have=have, limit=limit)


def _resume_point(visible: QuerySet[Any] | None) -> dict[str, Any]:
    """Where a freshly loaded page resumes the event stream: the newest event id, and the ids of the events
    visible to it in the lookback window below that, which the page's snapshot already reflects (read
    them BEFORE the snapshot). The page's first resync lists them as held, so it gets exactly the events
    that committed after the snapshot, with a lower id too."""
    from openlines.session_models import RealtimeEvent

    last = RealtimeEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    recent = sorted(_late(visible, since=last).values_list("id", flat=True)) if visible is not None else []
    return {"last_event_id": last, "recent_event_ids": recent[-RESYNC_HAVE_MAX:]}


def staff_resume_point(*, user_id: int) -> dict[str, Any]:
    return _resume_point(_staff_visible(user_id, ()))


def client_resume_point(*, chat_id: int | None) -> dict[str, Any]:
    return _resume_point(_client_visible(chat_id) if chat_id is not None else None)


class WorkspaceGroup:
    """How the agent workspace groups conversations (a coarser view of the status machine)."""

    OFFERED = "offered"
    IN_PROGRESS = "in_progress"
    WAITING_CLIENT = "waiting_client"
    CLOSING = "closing"
    CLOSED = "closed"


def workspace_group(session: Any) -> str:
    from openlines.session_models import SessionStatus

    if session.closed:
        return WorkspaceGroup.CLOSED
    if session.wait_answer:
        return WorkspaceGroup.OFFERED
    if session.wait_action or session.status == SessionStatus.WAIT_CLIENT:
        return WorkspaceGroup.CLOSING
    if session.status == SessionStatus.OPERATOR:
        return WorkspaceGroup.WAITING_CLIENT
    return WorkspaceGroup.IN_PROGRESS


def workspace_session_row(session: Any, *, user_id: int) -> dict[str, Any]:
    """One conversation as the workspace list shows it."""
    from openlines.session_models import Message

    # Automatic texts (welcome, rating request) would hide what the people in the conversation said.
    last = (
        Message.objects.filter(session=session, internal=False)
        .exclude(author_type=Message.Author.SYSTEM)
        .order_by("-id")
        .only("text", "author_type")
        .first()
    )
    client = session.chat.client
    return {
        "id": session.pk,
        "group": workspace_group(session),
        "status": session.status,
        "status_label": str(session.get_status_display()),
        "line_id": session.line_id,
        "line_name": session.line.line_name,
        "source": session.source,
        "client_name": client.name or f"#{client.pk}",
        "operator_id": session.operator_id,
        "mine": session.operator_id == user_id,
        "pinned": session.pause,
        "closed": session.closed,
        "last_text": (last.text[:140] if last else ""),
        "last_author": (last.author_type if last else ""),
        "modified_at": session.modified_at.isoformat(),
    }


def workspace_sessions(*, user_id: int) -> list[dict[str, Any]]:
    """The agent's open conversations (held, offered, joined), most recently active first."""
    from openlines.session_models import Session

    ids = user_session_ids(user_id=user_id, open_only=True)
    sessions = (
        Session.objects.filter(pk__in=ids, closed=False)
        .select_related("line", "chat__client")
        .order_by("-modified_at", "-id")
    )
    return [workspace_session_row(s, user_id=user_id) for s in sessions]


def supervised_sessions(*, user: Any, limit: int = 200) -> list[dict[str, Any]]:
    """Open conversations of other agents that a supervisor may join or intercept (join permission)."""
    from contactcenter.permissions import Level, user_access_level, user_colleague_ids
    from openlines.session_models import Session

    level = user_access_level(user=user, area="join", action="perform")
    if level == Level.NONE:
        return []
    sessions = Session.objects.filter(closed=False).exclude(operator_id=user.pk)
    if level == Level.DEPARTMENT:
        sessions = sessions.filter(operator_id__in=user_colleague_ids(user=user))
    elif level == Level.OWN:
        return []
    sessions = sessions.select_related("line", "chat__client").order_by("-modified_at", "-id")[:limit]
    return [workspace_session_row(s, user_id=user.pk) for s in sessions]


def session_messages_page(
    *, session_id: int, before_id: int | None = None, limit: int = 30
) -> dict[str, Any]:
    """A page of a conversation's history for staff, oldest first, `before_id` paging upwards.

    The history spans the whole chat (earlier sessions included), as an agent reads it.
    """
    from openlines.services.lifecycle import message_payload
    from openlines.session_models import Message, Session

    chat_id = Session.objects.filter(pk=session_id).values_list("chat_id", flat=True).first()
    if chat_id is None:
        return {"messages": [], "has_more": False}
    messages = Message.objects.filter(chat_id=chat_id)
    if before_id is not None:
        messages = messages.filter(id__lt=before_id)
    page = list(messages.order_by("-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    page.reverse()
    return {
        "messages": [dict(message_payload(m), session_id=m.session_id) for m in page],
        "has_more": more,
    }


def client_panel(*, session: Any) -> dict[str, Any]:
    """What the workspace shows about the customer: identity, channel, contacts, earlier conversations."""
    from contactcenter.connectors.kinds import ConnectorKind
    from openlines.session_models import Session

    client = session.chat.client
    previous = (
        Session.objects.filter(chat__client=client)
        .exclude(pk=session.pk)
        .select_related("line", "operator")
        .order_by("-id")[:20]
    )
    try:
        channel = str(ConnectorKind(client.connector.kind).label)
    except ValueError:
        channel = client.connector.kind
    return {
        "id": client.pk,
        "name": client.name,
        "channel": channel,
        "phone": client.phone,
        "email": client.email,
        "consent_at": client.consent_at.isoformat() if client.consent_at else None,
        "source_url": session.extra_url,
        "previous": [
            {
                "id": s.pk,
                "line_name": s.line.line_name,
                "status_label": str(s.get_status_display()),
                "created_at": s.created_at.isoformat(),
                "operator": (s.operator.get_full_name() or s.operator.get_username()) if s.operator else "",
            }
            for s in previous
        ],
        # CRM links are filled by the CRM app when it lands (see CLIENT_PANEL_PROVIDERS).
        "crm": [link for provider in CLIENT_PANEL_PROVIDERS for link in provider(session)],
    }


# The CRM app registers a function returning links ({"title", "url"}) for the client panel.
CLIENT_PANEL_PROVIDERS: list[Callable[[Any], list[dict[str, str]]]] = []


def agent_identity_for_client(*, line: OpenLine, user_id: int | None) -> dict[str, str] | None:
    """`line_agent_identity` as the widget's JSON; the hidden identity falls back to the line's name."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id is not None else None
    identity = line_agent_identity(line=line, user=user)
    if identity is None:
        return None
    return {
        "name": identity.name or line.line_name,
        "position": identity.work_position,
        "avatar_url": identity.avatar_url,
    }
