"""Who gets an enquiry (reference §4): eligibility, the three distribution modes, capacity, recall.

*Who is eligible* (in the queue, available, below the line's `max_chat` and the global cap) is kept apart
from *who is chosen* (a `Strategy` per `queue_type`). Choosing and assigning happen while the line row is
locked (`FOR NO KEY UPDATE`, so inserts referencing the line are not blocked), so concurrent enquiries
never push an agent past a limit and a session never gets two owners. Routing runs on events: a new
session, a freed slot, an agent becoming available, a forward timer; never on a polling loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from contactcenter.db import SqlNames
from contactcenter.models import Department, EmployeeProfile
from contactcenter.selectors import (
    Unavailability,
    availability_condition,
    available_user_ids,
    user_ids_where,
    user_is_absent,
)
from openlines.models import OpenLine, QueueMember
from openlines.selectors import line_assignment_ranks, line_queue_user_ids
from openlines.services import lifecycle
from openlines.services.events import event_publish_many
from openlines.session_models import LineAgentState, Session, SessionOffer, SessionStatus, Transfer

logger = logging.getLogger(__name__)

GLOBAL_MAX_CHAT = 1000  # reference §4.5: open conversations per agent across all lines
REDISTRIBUTE_BATCH = 100  # reference §4.5: waiting sessions pulled back per pass
RETURNING_AGENT_OFFERS = 5  # reference §4.6: waiting sessions offered to an agent who comes back

# Which statuses still count toward `max_chat`, by `type_max_chat` (reference §4.5).
COUNTS_BELOW = {
    OpenLine.TypeMaxChat.ANSWERED_NEW: SessionStatus.CLIENT_AFTER_OPERATOR,
    OpenLine.TypeMaxChat.ANSWERED: SessionStatus.OPERATOR,
    OpenLine.TypeMaxChat.CLOSED: SessionStatus.WAIT_CLIENT,
}

# The CRM issue plugs in "who is responsible for this client" (crm_forward); None = not recognised.
CrmResponsibleResolver = Callable[[Session], "int | None"]
_crm_responsible_resolvers: list[CrmResponsibleResolver] = []


def register_crm_responsible_resolver(fn: CrmResponsibleResolver) -> CrmResponsibleResolver:
    _crm_responsible_resolvers.append(fn)
    return fn


# --- Eligibility -----------------------------------------------------------------------------------


def line_lock(line_id: int) -> OpenLine:
    return OpenLine.objects.select_for_update(no_key=True).get(pk=line_id)


def slot_freed(line: OpenLine, before: int, after: int) -> bool:
    """Whether a session moving from status `before` to `after` stops counting toward its agent's
    `max_chat` on `line` (then a waiting session may go to them)."""
    limit = COUNTS_BELOW[OpenLine.TypeMaxChat(line.type_max_chat)]
    return before < limit <= after


def free_slot_sql(line: OpenLine, user_column: str) -> tuple[str, list[Any]]:
    """The capacity rule as an SQL condition on the user in `user_column`: below the line's `max_chat` (by
    `type_max_chat`) and the global cap, with its parameters. In SQL (like `availability_sql`) so that a
    routing decision reads availability and loads in one statement without the ORM's compilation."""
    session = SqlNames(Session, connection)
    open_of_user = (
        f"SELECT COUNT(*) FROM {session.table} ls"  # noqa: S608  (names from the model)
        f" WHERE ls.{session['operator']} = {user_column} AND NOT ls.{session['closed']}"
    )
    condition, params = f"({open_of_user}) < %s", [GLOBAL_MAX_CHAT]
    if line.max_chat and line.queue_type != OpenLine.QueueType.ALL:
        on_line = f" AND ls.{session['line']} = %s AND ls.{session['status']} < %s"
        condition += f" AND ({open_of_user}{on_line}) < %s"
        params += [line.pk, int(COUNTS_BELOW[OpenLine.TypeMaxChat(line.type_max_chat)]), line.max_chat]
    return condition, params


def agents_with_free_slot(line: OpenLine, user_ids: Sequence[int]) -> set[int]:
    """Of `user_ids`, those below the line's `max_chat` (by `type_max_chat`) and the global cap."""
    return user_ids_where(user_ids, [lambda column: free_slot_sql(line, column)])


class Eligibility:
    """Who on a line's queue can take a session now (available, below `max_chat` and the global cap).

    Read lazily and remembered: a strategy walks the queue in its own order and the availability and loads
    are read a few agents at a time (one statement for both per chunk) until the first eligible agent, so a
    decision on a queue of 1,000 agents usually reads a handful of them, not all. The reads are taken
    under the line lock; `_assign` checks the chosen agents' loads again under their own locks.
    """

    FIRST_CHUNK = 8
    CHUNK_GROWTH = 4

    def __init__(self, line: OpenLine, *, now: datetime) -> None:
        self.line = line
        self.now = now
        self.queue = line_queue_user_ids(line=line)
        self._eligible: dict[int, bool] = {}

    def _read(self, user_ids: Sequence[int]) -> None:
        unknown = [uid for uid in dict.fromkeys(user_ids) if uid not in self._eligible]
        if not unknown:
            return
        # Availability and loads in one statement.
        eligible = user_ids_where(
            unknown,
            [
                availability_condition(check_available=self.line.check_available, now=self.now),
                lambda column: free_slot_sql(self.line, column),
            ],
        )
        for uid in unknown:
            self._eligible[uid] = uid in eligible

    def first(self, candidates: Iterable[int]) -> int | None:
        """The first eligible agent of `candidates` (in their order), or None."""
        size = self.FIRST_CHUNK
        pending = iter(candidates)
        while chunk := list(islice(pending, size)):
            self._read(chunk)
            for uid in chunk:
                if self._eligible[uid]:
                    return uid
            size *= self.CHUNK_GROWTH
        return None

    def all(self) -> list[int]:
        """Every eligible agent, in queue order."""
        self._read(self.queue)
        return [uid for uid in self.queue if self._eligible[uid]]

    def loads_changed(self, user_ids: Iterable[int]) -> None:
        """These agents got a session (or lost a race for one): read their loads again when asked."""
        for uid in user_ids:
            self._eligible.pop(uid, None)


def line_eligible_agents(line: OpenLine, *, now: datetime) -> list[int]:
    """The line's queue in order, keeping available agents with a free slot."""
    return Eligibility(line, now=now).all()


# --- Strategies (who is chosen) -------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    user_ids: list[int]
    reset_history: bool = False


class Strategy:
    def choose(self, line: OpenLine, session: Session, eligibility: Eligibility, exclude: set[int]) -> Choice:
        raise NotImplementedError


class Evenly(Strategy):
    """The least recently assigned agent; queue order breaks ties (reference §4.2)."""

    def choose(self, line: OpenLine, session: Session, eligibility: Eligibility, exclude: set[int]) -> Choice:
        pool = [uid for uid in eligibility.queue if uid not in exclude]
        if not pool:
            return Choice([])
        # Never assigned on this line: rank 0, first.
        rank = line_assignment_ranks(line_id=line.pk)
        # sorted() is stable: equal times keep queue order.
        best = eligibility.first(sorted(pool, key=lambda uid: rank.get(uid, 0)))
        return Choice([best] if best is not None else [])


class Strictly(Strategy):
    """Queue order, skipping agents this session already went through; then again from the top."""

    def choose(self, line: OpenLine, session: Session, eligibility: Eligibility, exclude: set[int]) -> Choice:
        tried = set(session.queue_history) | exclude
        best = eligibility.first(uid for uid in eligibility.queue if uid not in tried)
        if best is not None:
            return Choice([best])
        best = eligibility.first(uid for uid in eligibility.queue if uid not in exclude)
        return Choice([best], reset_history=True) if best is not None else Choice([])


class ToEverybody(Strategy):
    """Every eligible agent at once; the first to answer takes it (reference §4.2)."""

    def choose(self, line: OpenLine, session: Session, eligibility: Eligibility, exclude: set[int]) -> Choice:
        return Choice([uid for uid in eligibility.all() if uid not in exclude])


STRATEGIES: dict[str, Strategy] = {
    OpenLine.QueueType.EVENLY: Evenly(),
    OpenLine.QueueType.STRICTLY: Strictly(),
    OpenLine.QueueType.ALL: ToEverybody(),
}


# --- Routing --------------------------------------------------------------------------------------


def _mark_assigned(line: OpenLine, user_ids: list[int], at: datetime) -> None:
    LineAgentState.objects.bulk_create(
        [LineAgentState(line=line, user_id=uid, last_assigned_at=at) for uid in user_ids],
        update_conflicts=True,
        unique_fields=["line", "user"],
        update_fields=["last_assigned_at"],
    )


def _assign(session: Session, choice: Choice, at: datetime) -> bool:
    """Give the session to the chosen agents; False (nothing done) if one of them is no longer free."""
    # Serialise with routing on other lines that may pick the same agent, and re-read the loads under those
    # locks: the ones read before may predate another line's assignment (the global cap).
    list(
        EmployeeProfile.objects.select_for_update(no_key=True)
        .filter(user_id__in=choice.user_ids)
        .order_by("user_id")
        .values_list("pk", flat=True)
    )
    if agents_with_free_slot(session.line, choice.user_ids) != set(choice.user_ids):
        return False
    if choice.reset_history:
        session.queue_history = []
    lifecycle.session_assign(session, user_ids=choice.user_ids, at=at)
    _mark_assigned(session.line, choice.user_ids, at)
    return True


def route_choice(
    line: OpenLine, session: Session, eligibility: Eligibility, *, exclude: set[int], at: datetime
) -> Choice:
    """Choose by the line's mode and assign: the one routing step of distribution, forwarding and skipping.

    An agent who reached a limit through another line since their load was read is read again (under the
    lock `_assign` took, so now for good) and the choice made again. Returns the choice (no users: nobody
    could take it).
    """
    strategy = STRATEGIES[line.queue_type]
    while True:
        choice = strategy.choose(line, session, eligibility, exclude)
        if not choice.user_ids:
            return choice
        assigned = _assign(session, choice, at)
        eligibility.loads_changed(choice.user_ids)
        if assigned:
            return choice


def _crm_responsible(session: Session) -> int | None:
    line = session.line
    if not (line.crm and line.crm_forward):
        return None
    for resolver in _crm_responsible_resolvers:
        user_id = resolver(session)
        # The responsible person gets the client above limits and whether online or not (reference
        # §4.1), but not when dismissed or on leave.
        if (
            user_id is not None
            and get_user_model().objects.filter(pk=user_id, is_active=True).exists()
            and not user_is_absent(user_id=user_id)
        ):
            return user_id
    return None


def session_route_new(session: Session, *, at: datetime) -> None:
    """Entry point for a new session (reference §4.1 step 2-3), inside the ingest transaction."""
    crm_user = _crm_responsible(session)
    if crm_user is not None:
        lifecycle.session_assign(session, user_ids=[crm_user], at=at, crm=True)
        lifecycle.system_message(
            session, "enquiry_redirected_crm", internal=True, user=lifecycle.user_display_name(crm_user)
        )
        return
    session.undistributed = True
    lifecycle.session_save(session)
    line_distribute(session.line_id, at=at, announce_position_of=session.pk, current=session)


def line_distribute(
    line_id: int,
    *,
    at: datetime | None = None,
    limit: int = REDISTRIBUTE_BATCH,
    announce_position_of: int | None = None,
    current: Session | None = None,
) -> int:
    """Offer the line's waiting sessions to eligible agents, first come first served. Returns how many.

    `current`: the caller's copy of one of the waiting sessions (locked by the caller). Routing then works
    on that copy, so the caller still holds the session as stored afterwards, not one a write made stale.
    """
    at = at or timezone.now()
    waiting = Session.objects.filter(line_id=line_id, closed=False, undistributed=True)
    if announce_position_of is None and not waiting.exists():
        # Nothing to hand out, so no need to queue for the line lock. Safe without the lock: whatever puts a
        # session on the waiting list distributes afterwards itself (in its transaction or after commit).
        return 0
    with transaction.atomic():
        line = line_lock(line_id)
        routed = 0
        waiting = Session.objects.filter(line=line, closed=False, undistributed=True).order_by("id")
        # Not select_related("line"): each row would repeat the line's 78 columns; they get the locked one.
        candidates = [
            current if current is not None and session.pk == current.pk else session
            for session in waiting.select_related("chat__client")[:limit]
        ]
        for session in candidates:
            session.line = line
        still_waiting: list[Session] = []
        eligibility: Eligibility | None = None
        for index, session in enumerate(candidates):
            if session.bot_id is not None and session.bot_started_at is not None:
                still_waiting.append(session)
                continue
            if eligibility is None:
                eligibility = Eligibility(line, now=at)
            choice = route_choice(line, session, eligibility, exclude=set(), at=at)
            if not choice.user_ids:
                still_waiting.extend(candidates[index:])
                break
            routed += 1
        if routed or announce_position_of is not None:
            _publish_queue_positions(
                line,
                only=None if routed else announce_position_of,
                # Fewer than `limit` were waiting: those not routed are the whole queue, no need to read it.
                waiting=still_waiting if len(candidates) < limit else None,
            )
        return routed


def _publish_queue_positions(line: OpenLine, *, only: int | None, waiting: list[Session] | None) -> None:
    """Tell waiting clients their place in the line's queue (all of them after the queue moved).

    `waiting`: the line's waiting sessions in order when the caller holds them already (else read here).
    """
    if waiting is None:
        waiting = list(
            Session.objects.filter(line=line, closed=False, undistributed=True).order_by("id")[
                :REDISTRIBUTE_BATCH
            ]
        )
    event_publish_many(
        type="queue.position",
        items=[
            (session, {"position": position})
            for position, session in enumerate(waiting[:REDISTRIBUTE_BATCH], start=1)
            if only is None or session.pk == only
        ],
        for_client=True,
    )


def session_forward(session: Session, *, at: datetime) -> None:
    """The agent did not accept within the queue time: the next agent gets it (reference §4.3, STATUS 5).

    In "to everybody" mode the offer is renewed for everyone eligible. When nobody else can take it, the
    current holders keep it for another round if they are still available; otherwise it waits in the queue.
    """
    line = line_lock(session.line_id)
    session.line = line
    holders = (
        {session.operator_id}
        if session.operator_id
        else set(session.offers.values_list("user_id", flat=True))
    )
    exclude = set() if line.queue_type == OpenLine.QueueType.ALL else holders
    previous = session.operator_id
    previous_status = session.status
    session.status = SessionStatus.SKIP
    choice = route_choice(line, session, Eligibility(line, now=at), exclude=exclude, at=at)
    if not choice.user_ids:
        session.status = previous_status
        keep = sorted(
            available_user_ids(user_ids=list(holders), check_available=line.check_available, now=at)
        )
        if keep:
            lifecycle.session_assign(session, user_ids=keep, at=at)
        else:
            lifecycle.session_return_to_queue(session, at=at, undistributed=True)
            lifecycle.system_message(session, "no_agents_available", internal=True)
        return
    if previous and choice.user_ids != [previous]:
        Transfer.objects.create(
            session=session,
            mode=Transfer.Mode.AUTO,
            from_user_id=previous,
            to_user_id=choice.user_ids[0],
            from_line=line,
            to_line=line,
            reason="queue_time",
        )
        lifecycle.event_publish(type="session.lost", session=session, users=[previous], payload={})
        lifecycle.system_message(
            session, "queue_forward", internal=True, user_to=lifecycle.user_display_name(choice.user_ids[0])
        )


# --- Availability changes and recall (reference §4.6) ---------------------------------------------


def user_line_ids(user_id: int) -> list[int]:
    """Lines whose queue holds the user, directly or through a department (or a parent department)."""
    department_ids: set[int] = set(
        EmployeeProfile.departments.through.objects.filter(employeeprofile__user_id=user_id).values_list(
            "department_id", flat=True
        )
    )
    frontier = set(department_ids)
    while frontier:
        parents = set(
            Department.objects.filter(pk__in=frontier, parent__isnull=False).values_list(
                "parent_id", flat=True
            )
        )
        frontier = parents - department_ids
        department_ids |= frontier
    candidate_lines = set(
        QueueMember.objects.filter(Q(user_id=user_id) | Q(department_id__in=department_ids)).values_list(
            "line_id", flat=True
        )
    )
    return [
        line.pk
        for line in OpenLine.objects.filter(pk__in=candidate_lines)
        if user_id in line_queue_user_ids(line=line)
    ]


def agent_became_available(user_id: int) -> None:
    """Waiting sessions of the agent's lines are offered again; in "to everybody" mode the agent also
    gets the offers already out to the others (up to five)."""
    now = timezone.now()
    for line_id in user_line_ids(user_id):
        line_distribute(line_id, at=now)
        with transaction.atomic():
            line = line_lock(line_id)
            if (
                line.queue_type != OpenLine.QueueType.ALL
                or Eligibility(line, now=now).first([user_id]) is None
            ):
                continue
            offered = (
                # Offers out to everybody, not sessions a single agent holds (left from before the line
                # switched to "to everybody", or transferred to someone), nor ones being closed before
                # anyone accepted them (nobody is to take those), nor ones a welcome bot is talking to.
                Session.objects.filter(
                    line=line,
                    closed=False,
                    wait_answer=True,
                    wait_action=False,
                    undistributed=False,
                    pause=False,
                    operator=None,
                    # A welcome bot holds it until it hands over: nobody is offered it meanwhile.
                    bot_started_at=None,
                )
                .exclude(offers__user_id=user_id)
                .order_by("id")[:RETURNING_AGENT_OFFERS]
            )
            for session in offered:
                SessionOffer.objects.get_or_create(session=session, user_id=user_id)
                lifecycle.event_publish(
                    type="offer.new",
                    session=session,
                    users=[user_id],
                    payload={"session": lifecycle.session_summary(session)},
                )


def agent_recall(user_id: int, *, reason: Unavailability | str, line_ids: Sequence[int] | None = None) -> int:
    """Take sessions back from an agent who stopped working (reference §4.6). Returns how many.

    Leave and work-day pauses/ends return sessions the agent has not answered yet (STATUS < 40), unpinned,
    except on lines where the agent is the only one in the queue; removal from a queue and dismissal
    return all of them.
    """
    reason = str(reason)
    everything = reason in (Unavailability.DISMISSAL, "removing")
    sessions = Session.objects.filter(closed=False).filter(
        Q(operator_id=user_id) | Q(offers__user_id=user_id)
    )
    if line_ids is not None:
        sessions = sessions.filter(line_id__in=line_ids)
    if not everything:
        sessions = sessions.filter(status__lt=SessionStatus.OPERATOR, pause=False)
    recalled = 0
    returned: list[int] = []
    touched_lines: set[int] = set()
    now = timezone.now()
    for session_id, line_id in sessions.values_list("id", "line_id").distinct():
        with transaction.atomic():
            session = lifecycle.session_lock(session_id)
            line = session.line
            if reason == Unavailability.NONWORKING and not line.check_available:
                continue
            if not everything and line_queue_user_ids(line=line) == [user_id]:
                continue
            if session.operator_id == user_id:
                lifecycle.session_return_to_queue(session, at=now, undistributed=True)
                returned.append(session_id)
                Transfer.objects.create(
                    session=session,
                    mode=Transfer.Mode.AUTO,
                    from_user_id=user_id,
                    from_line=line,
                    to_line=line,
                    reason=reason,
                )
            else:
                session.offers.filter(user_id=user_id).delete()
                lifecycle.event_publish(type="offer.withdrawn", session=session, users=[user_id], payload={})
                if not session.offers.exists() and session.operator_id is None:
                    lifecycle.session_unassign(session, at=now, undistributed=True)
                    returned.append(session_id)
            recalled += 1
            touched_lines.add(line_id)
    for line_id in touched_lines:
        line_distribute(line_id)
    if returned:
        _note_still_waiting(returned)
    return recalled


def _note_still_waiting(session_ids: list[int]) -> None:
    """Sessions taken back from an agent that nobody else could take: the agents see why they wait."""
    for session_id in Session.objects.filter(
        pk__in=session_ids, closed=False, undistributed=True
    ).values_list("pk", flat=True):
        with transaction.atomic():
            session = lifecycle.session_lock(session_id)
            if session.undistributed and not session.closed:
                lifecycle.system_message(session, "no_agents_available", internal=True)


def agent_back_below_global_cap(user_id: int, *, lost: int) -> None:
    """The agent no longer holds `lost` open conversations. If that took them from the global cap (reference
    §4.5, across all lines) to below it, clients waiting on any of their lines may go to them again; the
    line the conversation was on is distributed by whoever freed the slot, the others only here."""
    open_now = Session.objects.filter(operator_id=user_id, closed=False).count()
    if open_now < GLOBAL_MAX_CHAT <= open_now + lost:
        for line_id in user_line_ids(user_id):
            line_distribute(line_id)


def on_availability_changed(user_id: int, available: bool, reason: str) -> None:
    if available:
        agent_became_available(user_id)
    elif reason in (Unavailability.VACATION, Unavailability.NONWORKING, Unavailability.DISMISSAL):
        agent_recall(user_id, reason=reason)


def line_queue_sync(line_id: int) -> None:
    """After the queue changed: sessions of agents no longer in it go back, newcomers get waiting ones."""
    line = OpenLine.objects.filter(pk=line_id).first()
    if line is None:
        return  # the line itself was deleted
    members = set(line_queue_user_ids(line=line))
    holders = set(
        Session.objects.filter(line=line, closed=False, operator_id__isnull=False).values_list(
            "operator_id", flat=True
        )
    ) | set(
        SessionOffer.objects.filter(session__line=line, session__closed=False).values_list(
            "user_id", flat=True
        )
    )
    for user_id in holders - members:
        agent_recall(user_id, reason="removing", line_ids=[line_id])
    line_distribute(line_id)
