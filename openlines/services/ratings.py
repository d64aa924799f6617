"""Client ratings (reference §5): like / dislike from the widget, `1` / `0` from messengers."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.connectors.kinds import ConnectorKind
from openlines.services import lifecycle
from openlines.services.events import event_publish
from openlines.session_models import Chat, Session

LIKE, DISLIKE = lifecycle.VOTE_LIKE, lifecycle.VOTE_DISLIKE


class RatingRefused(ValidationError):
    """A rating sent as data (not a typed `1` / `0`) that no conversation can take now."""


def rating_from_text(kind: str, text: str) -> int | None:
    """A messenger client's `1` (good) or `0` (bad); the live chat rates with buttons, never with text."""
    if kind == ConnectorKind.LIVECHAT:
        return None
    return {"1": LIKE, "0": DISLIKE}.get(text.strip())


def session_awaiting_rating(chat: Chat) -> Session | None:
    """The session a typed `1` / `0` rates: the open one once it asked for a rating, else the last closed
    one that still waits for one. (Before the request a `1` is just a message: a menu choice, a number.)"""
    open_session = Session.objects.filter(chat=chat, closed=False).select_related("line").first()
    if open_session is not None:
        if open_session.line.vote_message and open_session.wait_vote:
            return lifecycle.session_lock(open_session.pk)
        return None
    last = Session.objects.filter(chat=chat).order_by("-id").first()
    if last is not None and last.wait_vote and last.line.vote_message:
        return lifecycle.session_lock(last.pk)
    return None


def session_rateable_before_finish(chat: Chat) -> Session | None:
    """The open session a rating sent as data applies to on lines that let clients rate before the close."""
    open_session = Session.objects.filter(chat=chat, closed=False).select_related("line").first()
    if open_session is not None and open_session.line.vote_message and open_session.line.vote_before_finish:
        return lifecycle.session_lock(open_session.pk)
    return None


def session_rate(*, session: Session, vote: int, at: datetime | None = None) -> None:
    """Apply a client rating; refuses ratings after `vote_time_limit`, reopens a closed session."""
    at = at or timezone.now()
    line = session.line
    if vote not in (LIKE, DISLIKE):
        raise ValidationError(_("A rating is like or dislike."))
    if not line.vote_message:
        raise ValidationError(_("This line does not ask for ratings."))
    if session.closed:
        if not session.wait_vote:
            raise ValidationError(_("This conversation is not waiting for a rating."))
        if session.date_close_vote is not None and at > session.date_close_vote:
            lifecycle.client_text_message(session, "vote_refused")
            raise ValidationError(_("The time for rating this conversation has passed."))
        lifecycle.session_reopen_for_rating(session, at=at)
    elif not (session.wait_vote or line.vote_before_finish):
        raise ValidationError(_("This conversation cannot be rated yet."))
    session.vote = vote
    session.wait_vote = False
    messenger = session.source != ConnectorKind.LIVECHAT
    suffix = "like" if vote == LIKE else "dislike"
    lifecycle.client_text_message(session, f"vote_message_{2 if messenger else 1}_{suffix}")
    lifecycle.session_save(session)
    event_publish(type="rating.received", session=session, payload={"vote": vote}, for_client=True)
    if session.operator_id:
        event_publish(
            type="notification",
            session=session,
            users=[session.operator_id],
            payload={"kind": "client_rating", "vote": vote},
        )
    if session.wait_action and line.vote_closing_delay:
        lifecycle.session_close(session, at=at)
