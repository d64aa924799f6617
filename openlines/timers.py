"""Session deadlines applied by the timer loop (see contactcenter.timers).

Each due row is claimed by deleting it inside the transaction that applies it: whoever deletes it applies
it, so several timer processes never apply one deadline twice, and a crash before commit leaves the row
for the next tick. On PostgreSQL each transaction claims the next unlocked due row (SKIP LOCKED).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from contactcenter.timers import register_timer
from openlines.attachments import anonymous_uploads_clean
from openlines.models import OpenLine
from openlines.services import bots, lifecycle, routing
from openlines.session_models import DeadlineKind, SessionDeadline, SessionStatus

logger = logging.getLogger(__name__)

BATCH = 500


def _transition_time(tick: datetime) -> datetime:
    """When a due deadline is applied: the tick's time, or now if the tick has been running for a while.

    The rows due are chosen by the tick's time, but each transition is dated when it happens; dated with the
    tick's start, a forward late in a long tick would give the next agent less than the queue time.
    """
    return max(tick, timezone.now())


def _due(now: datetime) -> list[tuple[int, int, str]]:
    qs = SessionDeadline.objects.filter(due_at__lte=now).order_by("due_at")
    return list(qs.values_list("pk", "session_id", "kind")[:BATCH])


@register_timer("session_deadlines")
def session_deadlines_apply(now: datetime) -> int:
    if connection.features.has_select_for_update_skip_locked:
        return _apply_claiming(now)
    applied = 0
    for pk, session_id, kind in _due(now):
        try:
            with transaction.atomic():
                session = lifecycle.session_lock(session_id)
                deleted, _ = SessionDeadline.objects.filter(pk=pk, due_at__lte=now).delete()
                if not deleted:
                    continue  # applied by another process, or moved by a newer transition
                deadline_apply(session, DeadlineKind(kind), _transition_time(now))
                applied += 1
        except Exception:
            logger.exception("deadline %s of session %s failed", kind, session_id)
    return applied


def _apply_claiming(now: datetime) -> int:
    """PostgreSQL: each transaction claims the next due deadline nobody else is applying (SKIP LOCKED), so
    several timer processes share the work instead of queueing behind each other on the same rows. The
    session is locked without waiting either (an agent's action or another process holds it: the deadline
    is left for the next tick), so the timer never waits while holding a lock and cannot deadlock with an
    action that locks the session first and then moves its deadlines."""
    applied = 0
    passed_over: list[int] = []
    for _ in range(BATCH):
        claim = None
        try:
            with transaction.atomic():
                claim = (
                    SessionDeadline.objects.select_for_update(skip_locked=True)
                    .filter(due_at__lte=now)
                    .exclude(pk__in=passed_over)
                    .order_by("due_at")
                    .values_list("pk", "session_id", "kind")
                    .first()
                )
                if claim is None:
                    break
                pk, session_id, kind = claim
                session = lifecycle.session_try_lock(session_id)
                if session is None:
                    passed_over.append(pk)
                    continue
                SessionDeadline.objects.filter(pk=pk).delete()
                deadline_apply(session, DeadlineKind(kind), _transition_time(now))
                applied += 1
        except Exception:
            if claim is None:
                raise
            passed_over.append(claim[0])
            logger.exception("deadline %s of session %s failed", claim[2], claim[1])
    return applied


def deadline_apply(session: lifecycle.Session, kind: DeadlineKind, now: datetime) -> None:
    """What a due deadline does; each re-checks the state, so a late or stale deadline is harmless."""
    if session.closed:
        return
    line = session.line
    if kind == DeadlineKind.QUEUE:
        if session.wait_answer and not (session.pause or session.undistributed or session.wait_action):
            routing.session_forward(session, at=now)
    elif kind == DeadlineKind.NO_ANSWER:
        if session.date_first_answer is None:
            if (
                line.no_answer_rule == OpenLine.Rule.TEXT
                and not session.send_no_answer_text
                and not session.send_no_work_time_text
            ):
                lifecycle.client_text_message(session, "no_answer")
                session.send_no_answer_text = True
                lifecycle.session_save(session)
    elif kind == DeadlineKind.CLOSE:
        if session.status == SessionStatus.WAIT_CLIENT:
            lifecycle.session_close(session, at=now)
        elif session.status == SessionStatus.OPERATOR:
            lifecycle.session_finish(session, at=now, auto=True)
        if session.closed:
            transaction.on_commit(lambda: routing.line_distribute(line.pk))
    elif kind == DeadlineKind.BOT:
        if session.bot_started_at is not None:
            bots.bot_hand_over(session, at=now)


UPLOAD_CLEANUP_EVERY = timedelta(seconds=60)
_last_upload_cleanup: datetime | None = None


@register_timer("livechat_uploads_cleanup")
def livechat_uploads_cleanup(now: datetime) -> int:
    """Unattached widget uploads and expired attachments (openlines.attachments), once a minute: the
    deadlines are hours or days, so the loop's second-by-second ticks would only repeat the query."""
    global _last_upload_cleanup
    if _last_upload_cleanup is not None and timedelta(0) <= now - _last_upload_cleanup < UPLOAD_CLEANUP_EVERY:
        return 0
    _last_upload_cleanup = now
    return anonymous_uploads_clean(now=now)
