"""Supervisor rating of a conversation (reference §5): 1-5 stars and a comment (VOTE_HEAD permission)."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from contactcenter.permissions import can
from kpi.forms import COMMENT_MAX_LENGTH
from openlines.services.events import event_publish
from openlines.services.lifecycle import user_display_name
from openlines.session_models import Session

AnyUser = AbstractBaseUser | AnonymousUser


@transaction.atomic
def session_head_vote(*, user: AnyUser, session_id: int, vote: int | None, comment: str = "") -> Session:
    """Store the supervisor's rating and comment and tell the conversation's agent.

    Stars, a comment, or both (reference §3.2): without `vote` the stars given before are kept.
    """
    session = Session.objects.select_for_update().filter(pk=session_id).first()
    if session is None or not can(user, "vote_head", "perform", session):
        raise PermissionDenied(_("You may not rate this conversation."))
    if vote is None:
        if not comment.strip():
            raise ValidationError({"__all__": [_("Give a rating, write a comment, or both.")]})
        vote = session.vote_head
    elif not isinstance(vote, int) or not 1 <= vote <= 5:
        raise ValidationError({"vote_head": [_("Choose from one to five stars.")]})
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            {
                "comment_head": [
                    _("The comment may have at most %(n)d characters.") % {"n": COMMENT_MAX_LENGTH}
                ]
            }
        )
    changed_vote = session.vote_head != vote
    changed_comment = session.comment_head != comment
    # Only these two columns: the supervisor's note is not a state change of the conversation.
    Session.objects.filter(pk=session.pk).update(
        vote_head=vote, comment_head=comment, revision=F("revision") + 1
    )
    session.vote_head, session.comment_head = vote, comment
    if session.operator_id and (changed_vote or changed_comment):
        who = user_display_name(cast(int, user.pk))
        if changed_vote and changed_comment:
            text = _("%(who)s rated conversation #%(id)d with %(stars)d stars and commented on it.")
        elif changed_vote:
            text = _("%(who)s rated conversation #%(id)d with %(stars)d stars.")
        else:
            text = _("%(who)s commented on conversation #%(id)d.")
        event_publish(
            type="notification",
            users=[session.operator_id],
            payload={
                "kind": "head_vote",
                "text": text % {"who": who, "id": session.pk, "stars": vote},
                "session_id": session.pk,
                "vote_head": vote,
                "comment_head": comment,
            },
        )
    return session
