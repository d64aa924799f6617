"""KPI clocks (reference §1.9, §2.5): start, pause, stop, and the overdue check the timer loop runs.

Entered only from the engine's signals (`kpi.receivers`) and the timer loop (`kpi.timers`), inside the
engine's transaction, so a clock commits or rolls back with the message that moved it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Avg, Count, F, Max, Min, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html

from contactcenter.background import outbox_task_add
from contactcenter.db import SqlNames
from contactcenter.models import EmployeeProfile, WorkDay
from kpi.models import KpiClock, SessionKpi
from openlines.models import OpenLine
from openlines.services.bots import bot_should_join
from openlines.services.events import event_publish
from openlines.services.lifecycle import user_display_name
from openlines.services.ratings import rating_from_text
from openlines.session_models import Message, Session
from openlines.worktime import line_next_working_start

logger = logging.getLogger(__name__)

BATCH = 500


def _running(session_id: int) -> KpiClock | None:
    return (
        KpiClock.objects.select_for_update()
        .filter(session_id=session_id, answered_at__isnull=True, stopped_at__isnull=True)
        .first()
    )


def work_day_paused(*, user_id: int) -> bool:
    """Does this agent's time tracking say they are not working (work day paused or not open)?

    Agents who do not track work time never pause a clock: being offline is not "not working" here.
    """
    if not EmployeeProfile.objects.filter(user_id=user_id, uses_time_tracking=True).exists():
        return False
    return not WorkDay.objects.filter(user_id=user_id, state=WorkDay.State.OPEN).exists()


def _first_unanswered_client_message(session: Session) -> Message | None:
    """The client's first message after the agent's last one (ids start at 1), in one plain statement: it
    runs on every assignment, where the ORM's compilation of the subquery cost more than the read
    (bench/routing.py --profile distribute)."""
    message = SqlNames(Message, connection)
    last_agent = (
        f"SELECT MAX(a.{message['id']}) FROM {message.table} a WHERE a.{message['session']} = %s"  # noqa: S608
        f" AND a.{message['author_type']} = %s AND NOT a.{message['internal']}"
    )
    found = Message.objects.raw(
        # Names from the model's metadata; every value travels as a parameter.
        f"SELECT m.* FROM {message.table} m WHERE m.{message['session']} = %s"  # noqa: S608
        f" AND m.{message['author_type']} = %s AND m.{message['id']} > COALESCE(({last_agent}), 0)"
        f" ORDER BY m.{message['id']} LIMIT 1",
        [session.pk, str(Message.Author.CLIENT), session.pk, str(Message.Author.AGENT)],
    )
    return next(iter(found), None)


def _bot_left_at(session: Session) -> datetime | None:
    # The bot joins when the session starts, so it left `time_bot` seconds after the creation.
    if session.time_bot:
        return session.created_at + timedelta(seconds=session.time_bot)
    return None


def _bot_about_to_join(session: Session) -> bool:
    """The first message of a new session is stored before the welcome bot joins; no clock for it then."""
    return (
        session.mode == Session.Mode.INPUT
        and session.bot_id is None
        and session.time_bot == 0
        and session.date_first_answer is None
        and bot_should_join(session)
        and not KpiClock.objects.filter(session=session).exists()
    )


def _is_rating_reply(session: Session, message: Message) -> bool:
    """A typed `1` / `0` answering the rating request is not a question for the agent."""
    return bool(
        session.wait_vote
        and session.line.vote_message
        and rating_from_text(session.source, message.text) is not None
    )


def clock_start_if_waiting(*, session: Session, message: Message | None, at: datetime) -> KpiClock | None:
    """Start the session's clock when a client is waiting for a human and none runs yet.

    `message` is the client message that just arrived (None when called because the operator changed,
    e.g. after the bot handed over: then the clock runs from the first unanswered client message, but
    never from before the bot left).
    """
    if session.closed or session.bot_started_at is not None:
        return None
    if message is not None and (_bot_about_to_join(session) or _is_rating_reply(session, message)):
        return None
    if _running(session.pk) is not None:
        return None
    return _clock_start(session=session, message=message, at=at)


def _clock_start(*, session: Session, message: Message | None, at: datetime) -> KpiClock | None:
    """Start a clock for a session that has none running (see `clock_start_if_waiting`)."""
    if message is None:
        message = _first_unanswered_client_message(session)
        if message is None:
            return None
    line: OpenLine = session.line
    first = session.date_first_answer is None
    limit = int(line.kpi_first_answer_time if first else line.kpi_further_answer_time)
    start = message.created_at
    bot_left = _bot_left_at(session)
    if bot_left is not None and bot_left > start:
        start = bot_left
    start = line_next_working_start(line=line, at=start)
    clock = KpiClock(
        session=session,
        message=message,
        kind=KpiClock.Kind.FIRST if first else KpiClock.Kind.FURTHER,
        received_at=message.created_at,
        started_at=start,
        limit_seconds=limit,
        due_at=start + timedelta(seconds=limit) if limit else None,
    )
    if _operator_not_working(session):
        clock.paused_since = at
    clock.save()
    return clock


def _operator_not_working(session: Session) -> bool:
    """Does the line pause its clocks now because the session's agent is not working?"""
    return bool(
        session.line.kpi_check_operator_activity
        and session.operator_id
        and work_day_paused(user_id=session.operator_id)
    )


def _pause_end(clock: KpiClock, at: datetime) -> None:
    """Close the open pause: only the part after the clock started counts, and the deadline moves by it."""
    if clock.paused_since is None:
        return
    seconds = max(int((at - max(clock.paused_since, clock.started_at)).total_seconds()), 0)
    clock.paused_total += seconds
    if clock.due_at is not None:
        clock.due_at += timedelta(seconds=seconds)
    clock.paused_since = None


def clock_stop_answered(*, session: Session, at: datetime) -> KpiClock | None:
    """The agent answered: the running clock stops and the session's figures are refreshed."""
    clock = _running(session.pk)
    if clock is None:
        return None
    _pause_end(clock, at)
    clock.answered_at = at
    clock.response_seconds = max(int((at - clock.started_at).total_seconds()) - clock.paused_total, 0)
    if clock.due_at is not None and at > clock.due_at and clock.overdue_at is None:
        # Late, but answered before the timer noticed: a breach, and nobody needs a notification now.
        clock.overdue_at = at
    clock.save()
    session_kpi_refresh(session_id=session.pk)
    return clock


def clocks_stop_closed(*, session: Session, at: datetime) -> None:
    clock = _running(session.pk)
    if clock is None:
        return
    _pause_end(clock, at)
    clock.stopped_at = at
    clock.save()
    session_kpi_refresh(session_id=session.pk)


def clock_pause_sync(*, session: Session, at: datetime) -> None:
    """Pause or resume the session's clock to match its agent's work day (when the line asks for it)."""
    clock = _running(session.pk)
    if clock is not None:
        _pause_sync(clock, session=session, at=at)


def _pause_sync(clock: KpiClock, *, session: Session, at: datetime) -> None:
    paused = _operator_not_working(session)
    if paused and clock.paused_since is None:
        clock.paused_since = at
        clock.save(update_fields=["paused_since"])
    elif not paused and clock.paused_since is not None:
        _pause_end(clock, at)
        clock.save(update_fields=["paused_since", "paused_total", "due_at"])


def clock_operator_changed(*, session: Session, at: datetime) -> None:
    """The session's agent changed: the running clock pauses or resumes to match the new agent's work day;
    with none running, one starts if a client waits (after the bot handed over, the first moment a human
    holds the session). The running clock is read once: a clock started here already matches the agent."""
    clock = _running(session.pk)
    if clock is not None:
        _pause_sync(clock, session=session, at=at)
    elif not session.closed and session.bot_started_at is None:
        _clock_start(session=session, message=None, at=at)


def clocks_pause_sync_for_agent(*, user_id: int, at: datetime | None = None) -> int:
    """The agent's availability changed: pause or resume the clocks of their conversations."""
    at = at or timezone.now()
    session_ids = list(
        KpiClock.objects.filter(
            answered_at__isnull=True,
            stopped_at__isnull=True,
            session__operator_id=user_id,
            session__line__kpi_check_operator_activity=True,
        ).values_list("session_id", flat=True)
    )
    for session_id in session_ids:
        with transaction.atomic():
            session = Session.objects.select_related("line").get(pk=session_id)
            clock_pause_sync(session=session, at=at)
    return len(session_ids)


def session_kpi_refresh(*, session_id: int) -> SessionKpi:
    """Recompute the session's KPI figures from its clocks (docs/metrics.md)."""
    answered = KpiClock.objects.filter(session_id=session_id, response_seconds__isnull=False)
    figures = answered.aggregate(
        total=Sum("response_seconds"),
        count=Count("id"),
        average=Avg("response_seconds"),
        maximum=Max("response_seconds"),
        first_id=Min("id"),
    )
    first = None
    if figures["first_id"] is not None:
        first = (
            KpiClock.objects.filter(pk=figures["first_id"]).values_list("response_seconds", flat=True).first()
        )
    breaches = KpiClock.objects.filter(session_id=session_id, overdue_at__isnull=False).count()
    kpi, _created = SessionKpi.objects.update_or_create(
        session_id=session_id,
        defaults={
            "first_response": first,
            "total_response": figures["total"] or 0,
            "response_count": figures["count"],
            "average_response": round(figures["average"]) if figures["average"] is not None else None,
            "max_response": figures["maximum"],
            "breaches": breaches,
        },
    )
    return kpi


# --- Overdue notifications ---------------------------------------------------------------------------

_mails_muted: ContextVar[bool] = ContextVar("kpi_overdue_mails_muted", default=False)


@contextlib.contextmanager
def overdue_mails_muted() -> Iterator[None]:
    """Breaches found inside this block are recorded but e-mail nobody: replaying past conversations (the
    demo's history) must not mail about last week's late answers on the first start."""
    token = _mails_muted.set(True)
    try:
        yield
    finally:
        _mails_muted.reset(token)



@functools.cache
def _chat_list_path() -> str:
    return reverse("kpi:chat_list")


def conversation_path(session_id: int) -> str:
    """The conversation in the chat list's side panel, relative to the site (for pages staff have open)."""
    return f"{_chat_list_path()}?history={session_id}"


def conversation_url(session_id: int) -> str:
    """The same for e-mails: absolute from `SITE_URL`, or the path when the site's address is not set."""
    return f"{settings.SITE_URL}{conversation_path(session_id)}"


def overdue_texts(*, clock: KpiClock, session: Session, operator: str) -> tuple[str, str]:
    """The line's notification text with #OPERATOR# and #DIALOG# filled in: plain text (for e-mail, with
    the absolute address) and safe HTML (for the workspace, with a link relative to the page's address)."""
    line = session.line
    key = "kpi_first_answer" if clock.kind == KpiClock.Kind.FIRST else "kpi_further_answer"
    template = line.client_text(key)
    url = conversation_url(session.pk)
    plain = template.replace("#OPERATOR#", operator).replace("#DIALOG#", url)
    link = format_html('<a href="{}">#{}</a>', conversation_path(session.pk), session.pk)
    html = escape(template).replace("#OPERATOR#", escape(operator)).replace("#DIALOG#", link)
    return plain, html


def _no_agent_label() -> str:
    from django.utils.translation import gettext

    return gettext("(no agent)")


_RUNNING_UNPAUSED = Q(
    answered_at__isnull=True,
    stopped_at__isnull=True,
    overdue_at__isnull=True,
    paused_since__isnull=True,
    due_at__isnull=False,
)


def kpi_overdue_apply(now: datetime) -> int:
    """Mark due clocks overdue and notify the line's KPI list; each clock is claimed exactly once.

    A batch is claimed with one optimistic update (on PostgreSQL its rows are locked with SKIP LOCKED
    first, so several timer processes share the work), then notified together: one event per recipient
    and one background e-mail task per batch, so that a burst of deadlines is not notified late.
    """
    applied = 0
    while True:
        claimed = _claim_batch(now)
        applied += claimed
        if claimed < BATCH:
            return applied


def _claim_batch(now: datetime) -> int:
    with transaction.atomic():
        due = KpiClock.objects.filter(_RUNNING_UNPAUSED, due_at__lte=now).order_by("due_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return 0
        # The same conditions again: a clock answered or paused since the scan is not claimed.
        KpiClock.objects.filter(_RUNNING_UNPAUSED, pk__in=ids, due_at__lte=now).update(overdue_at=now)
        claimed = KpiClock.objects.filter(pk__in=ids, overdue_at=now)
        clocks = list(claimed.select_related("session__line", "session__operator"))
        try:
            _overdue_notify_batch(clocks, now)
        except Exception:
            # The breach stands; a notification that could not be built is logged, not retried forever.
            logger.exception("KPI notifications for clocks %s failed", [clock.pk for clock in clocks])
        session_ids = {clock.session_id for clock in clocks}
        SessionKpi.objects.bulk_create(
            [SessionKpi(session_id=session_id) for session_id in session_ids], ignore_conflicts=True
        )
        # At most one clock runs per session, so each session is counted once here.
        SessionKpi.objects.filter(session_id__in=session_ids).update(breaches=F("breaches") + 1)
        return len(ids)


def _overdue_notify_batch(clocks: list[KpiClock], now: datetime) -> None:
    recipients_cache: dict[tuple[int, str], list[int]] = {}
    names: dict[int | None, str] = {}
    mails: list[tuple[list[int], str]] = []
    notified: list[int] = []
    for clock in clocks:
        session = clock.session
        line = session.line
        first = clock.kind == KpiClock.Kind.FIRST
        if not (line.kpi_first_answer_alert if first else line.kpi_further_answer_alert):
            continue
        key = (line.pk, clock.kind)
        if key not in recipients_cache:
            listed = line.kpi_first_answer_list if first else line.kpi_further_answer_list
            recipients_cache[key] = list(listed.values_list("pk", flat=True))
        recipients = recipients_cache[key]
        if not recipients:
            continue
        if session.operator_id not in names:
            names[session.operator_id] = user_display_name(session.operator_id) or _no_agent_label()
        plain, html = overdue_texts(clock=clock, session=session, operator=names[session.operator_id])
        event_publish(
            type="notification",
            users=recipients,
            payload={
                "kind": "kpi_overdue",
                "text": plain,
                "html": html,
                "url": conversation_path(session.pk),
                "session_id": session.pk,
                "clock": clock.kind,
            },
        )
        mails.append((recipients, plain))
        notified.append(clock.pk)
    if notified:
        KpiClock.objects.filter(pk__in=notified).update(notified_at=now)
        # In the outbox with the clocks' `notified_at`: the e-mails go out even if the queue is down now.
        if not _mails_muted.get():
            outbox_task_add("kpi.tasks.kpi_overdue_mails_send", [[ids, text] for ids, text in mails])
