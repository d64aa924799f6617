"""What agents and supervisors do with a conversation (reference §2.4), with access checks.

Each action locks the session, checks the caller's relation to it (agent, offered, participant) or their
role permissions, applies the transition through `lifecycle`, and frees the agent's slot for waiting
enquiries after commit where the action does that.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.permissions import can
from contactcenter.text import text_accept
from openlines import signals
from openlines.models import CannedResponse, OpenLine
from openlines.services import lifecycle, routing
from openlines.services.events import event_publish
from openlines.session_models import (
    Chat,
    Message,
    Session,
    SessionOffer,
    SessionParticipant,
    SessionStatus,
    Transfer,
)

User = AbstractBaseUser | AnonymousUser
MAX_MESSAGE_LENGTH = 20000


class ActionRefused(ValidationError):
    """The action does not apply to the session as it is now (409 in the API)."""


def _uid(user: User) -> int:
    if not user.is_authenticated or user.pk is None:
        raise PermissionDenied(_("Log in first."))
    return int(user.pk)


def _relation(user: User, session: Session) -> str:
    if session.operator_id == _uid(user):
        return "operator"
    if SessionOffer.objects.filter(session=session, user_id=_uid(user)).exists():
        return "offered"
    if SessionParticipant.objects.filter(session=session, user_id=_uid(user)).exists():
        return "participant"
    return ""


def session_can_view(user: User, session: Session) -> bool:
    """Its agents and participants see a conversation; others need the history or join permission."""
    if not user.is_authenticated:
        return False
    return (
        bool(_relation(user, session))
        or can(user, "history", "view", session)
        or can(user, "join", "perform", session)
    )


# --- Who may do what: the one place for each rule, used by the actions and by the pages and APIs that show
# what a user may do (so a button is offered exactly when its action would be accepted).


def transfer_target_users() -> Any:
    """Who a conversation may be handed to (reference §2.4 "transfer"): active employees with staff access,
    the people who can open the workspace and the conversation afterwards. Dismissed users (inactive),
    clients, bots and connector users are never staff."""
    return get_user_model().objects.filter(is_active=True, is_staff=True)


def user_may_take_transfer(user_id: int) -> bool:
    return bool(transfer_target_users().filter(pk=user_id).exists())


def may_answer(relation: str, session: Session) -> bool:
    return relation in ("offered", "operator") and session.wait_answer and not session.closed


def may_write(relation: str, session: Session) -> bool:
    if session.closed or relation not in ("offered", "operator", "participant"):
        return False
    bot_talking = session.bot_id is not None and session.bot_started_at is not None
    return not bot_talking or relation == "participant"


def may_skip(relation: str, session: Session) -> bool:
    return relation in ("offered", "operator") and not session.closed


def may_pin(relation: str, session: Session) -> bool:
    return relation == "operator" and not session.closed


def may_manage(user: User, relation: str, session: Session) -> bool:
    """Transfer, mark as spam, close: the conversation's agent, or whoever may join it."""
    return not session.closed and (relation == "operator" or can(user, "join", "perform", session))


def may_join(user: User, relation: str, session: Session) -> bool:
    return not session.closed and not relation and can(user, "join", "perform", session)


def may_intercept(user: User, session: Session) -> bool:
    return (
        not session.closed
        and session.operator_id not in (None, user.pk)
        and can(user, "join", "perform", session)
    )


def session_permissions(user: User, session: Session) -> dict[str, bool]:
    """What `user` may do with `session` now, by the same rules the actions apply."""
    relation = _relation(user, session)
    manage = may_manage(user, relation, session)
    return {
        "answer": may_answer(relation, session),
        "write": may_write(relation, session),
        "skip": may_skip(relation, session),
        "transfer": manage,
        "pin": may_pin(relation, session),
        "spam": manage,
        "close": manage,
        "join": may_join(user, relation, session),
        "intercept": may_intercept(user, session),
    }


def session_for_user(user: User, session_id: int) -> Session:
    """The session, locked, if the user may see it (404 semantics otherwise are the caller's)."""
    session = lifecycle.session_lock(session_id)
    if not session_can_view(user, session):
        raise PermissionDenied(_("You cannot see this conversation."))
    return session


def _free_slot_after_commit(line_id: int) -> None:
    transaction.on_commit(partial(routing.line_distribute, line_id))


def _open(session: Session) -> None:
    if session.closed:
        raise ActionRefused(_("The conversation is closed."))


@transaction.atomic
def session_answer(*, user: User, session_id: int, at: datetime | None = None) -> Session:
    """Take an offered conversation; in "to everybody" mode the others lose it."""
    at = at or timezone.now()
    session = lifecycle.session_lock(session_id)
    relation = _relation(user, session)
    if not session.closed and not session.wait_answer:
        # Said plainly even to an agent who just lost a "to everybody" offer to a faster colleague.
        if relation == "operator":
            raise ActionRefused(_("You already answer this conversation."))
        raise ActionRefused(_("Another agent already took this conversation."))
    if not session_can_view(user, session):
        raise PermissionDenied(_("You cannot see this conversation."))
    _open(session)
    if not may_answer(relation, session):
        raise PermissionDenied(_("This conversation was not offered to you."))
    lifecycle.session_accept(session, user_id=_uid(user), at=at)
    lifecycle.system_message(
        session, "agent_joined", internal=True, user=lifecycle.user_display_name(_uid(user))
    )
    if session.line.type_max_chat == OpenLine.TypeMaxChat.ANSWERED_NEW:
        _free_slot_after_commit(session.line_id)
    return session


@transaction.atomic
def session_intercept(*, user: User, session_id: int, at: datetime | None = None) -> Session:
    """Take a conversation that another agent holds (needs the join permission)."""
    at = at or timezone.now()
    session = session_for_user(user, session_id)
    _open(session)
    if not can(user, "join", "perform", session):
        raise PermissionDenied(_("You may not take conversations from other agents."))
    previous = session.operator_id
    if previous is None or previous == _uid(user):
        raise ActionRefused(_("Nobody else holds this conversation; answer it instead."))
    session.wait_answer = True  # accepting from scratch records the interceptor as the one who answered
    lifecycle.session_accept(session, user_id=_uid(user), at=at)
    lifecycle.system_message(
        session,
        "intercepted",
        internal=True,
        user_1=lifecycle.user_display_name(_uid(user)),
        user_2=lifecycle.user_display_name(previous),
    )
    _free_slot_after_commit(session.line_id)  # the agent who lost it has room for a waiting client
    return session


@transaction.atomic
def session_skip(*, user: User, session_id: int, at: datetime | None = None) -> Session:
    """Pass the conversation on by the queue rules; if nobody else can take it the agent keeps it."""
    at = at or timezone.now()
    session = session_for_user(user, session_id)
    _open(session)
    if not may_skip(_relation(user, session), session):
        raise PermissionDenied(_("This conversation is not yours to skip."))
    line = routing.line_lock(session.line_id)
    session.line = line
    user_id = _uid(user)
    if (
        line.queue_type == OpenLine.QueueType.ALL
        and session.wait_answer
        and session.offers.exclude(user_id=user_id).exists()
    ):
        # Others still have the offer: this agent just drops out of it.
        session.offers.filter(user_id=user_id).delete()
        event_publish(type="offer.withdrawn", session=session, users=[user_id], payload={})
        return session
    eligibility = routing.Eligibility(line, now=at)
    if not routing.STRATEGIES[line.queue_type].choose(line, session, eligibility, exclude={user_id}).user_ids:
        event_publish(type="notification", session=session, users=[user_id], payload={"kind": "only_agent"})
        raise ActionRefused(_("You are the only agent available for this conversation; it stays with you."))
    lifecycle.system_message(
        session, "agent_skipped", internal=True, user=lifecycle.user_display_name(user_id)
    )
    lifecycle.session_return_to_queue(session, at=at, undistributed=False)
    choice = routing.route_choice(line, session, eligibility, exclude={user_id}, at=at)
    if not choice.user_ids:
        # Everyone else reached a limit on another line in the meantime: the client waits in the queue.
        lifecycle.session_unassign(session, at=at, undistributed=True)
        lifecycle.system_message(session, "no_agents_available", internal=True)
        return session
    Transfer.objects.create(
        session=session,
        mode=Transfer.Mode.AUTO,
        from_user_id=_uid(user),
        to_user_id=choice.user_ids[0],
        from_line=line,
        to_line=line,
        reason="skip",
    )
    _free_slot_after_commit(line.pk)
    return session


@transaction.atomic
def session_transfer(
    *,
    user: User,
    session_id: int,
    to_user_id: int | None = None,
    to_line_id: int | None = None,
    at: datetime | None = None,
) -> Session:
    """Hand the conversation to a colleague (who then holds it as accepted) or to another line's queue."""
    at = at or timezone.now()
    if (to_user_id is None) == (to_line_id is None):
        raise ValidationError(_("Transfer to exactly one of an agent or a line."))
    session = session_for_user(user, session_id)
    _open(session)
    if not may_manage(user, _relation(user, session), session):
        raise PermissionDenied(_("Only the conversation's agent can transfer it."))
    from_line = session.line
    previous = session.operator_id
    if to_user_id is not None:
        if to_user_id == _uid(user):
            raise ValidationError({"user": [_("You cannot transfer a conversation to yourself.")]})
        if not user_may_take_transfer(to_user_id):
            raise ValidationError({"user": [_("No active employee with this id.")]})
        session.wait_answer = True
        session._manual_transfer = True  # type: ignore[attr-defined]
        lifecycle.session_accept(session, user_id=to_user_id, at=at)
        Transfer.objects.create(
            session=session,
            mode=Transfer.Mode.MANUAL,
            from_user_id=_uid(user),
            to_user_id=to_user_id,
            from_line=from_line,
            to_line=from_line,
        )
        lifecycle.system_message(
            session,
            "transfer",
            internal=True,
            user_from=lifecycle.user_display_name(_uid(user)),
            user_to=lifecycle.user_display_name(to_user_id),
        )
        event_publish(
            type="offer.new",
            session=session,
            users=[to_user_id],
            payload={"session": lifecycle.session_summary(session), "transferred": True},
        )
    else:
        to_line = OpenLine.objects.filter(pk=int(to_line_id or 0)).first()
        if to_line is None or not to_line.active:
            raise ValidationError({"line": [_("No active line with this id.")]})
        if to_line.pk == from_line.pk:
            raise ValidationError({"line": [_("The conversation is already on this line.")]})
        session.line = to_line
        session.queue_history = []
        lifecycle.session_return_to_queue(session, at=at, undistributed=True)
        Transfer.objects.create(
            session=session,
            mode=Transfer.Mode.MANUAL,
            from_user_id=_uid(user),
            from_line=from_line,
            to_line=to_line,
        )
        lifecycle.system_message(
            session,
            "transfer",
            internal=True,
            user_from=lifecycle.user_display_name(_uid(user)),
            user_to=to_line.line_name,
        )
        transaction.on_commit(partial(routing.line_distribute, to_line.pk))
    if previous and previous != to_user_id:
        event_publish(type="session.lost", session=session, users=[previous], payload={})
    _free_slot_after_commit(from_line.pk)
    return session


@transaction.atomic
def session_join(*, user: User, session_id: int) -> Session:
    """Join without taking over (supervisor, colleague); needs the join permission."""
    session = lifecycle.session_lock(session_id)
    _open(session)
    if not can(user, "join", "perform", session):
        raise PermissionDenied(_("You may not join this conversation."))
    if _relation(user, session):
        raise ActionRefused(_("You are already in this conversation."))
    SessionParticipant.objects.create(session=session, user_id=_uid(user))
    lifecycle.system_message(
        session, "participant_joined", internal=True, user=lifecycle.user_display_name(_uid(user))
    )
    lifecycle.session_save(session)
    return session


@transaction.atomic
def session_pin(*, user: User, session_id: int, pinned: bool, at: datetime | None = None) -> Session:
    session = session_for_user(user, session_id)
    _open(session)
    if not may_pin(_relation(user, session), session):
        raise PermissionDenied(_("Only the conversation's agent can pin it."))
    if session.pause == pinned:
        raise ActionRefused(
            _("The conversation is already pinned.") if pinned else _("The conversation is not pinned.")
        )
    lifecycle.session_pin(session, pinned=pinned, at=at or timezone.now())
    return session


@transaction.atomic
def session_spam(*, user: User, session_id: int, at: datetime | None = None) -> Session:
    session = session_for_user(user, session_id)
    _open(session)
    if not may_manage(user, _relation(user, session), session):
        raise PermissionDenied(_("Only the conversation's agent can mark it as spam."))
    session.spam = True
    lifecycle.session_close(session, at=at or timezone.now(), status=SessionStatus.SPAM)
    _free_slot_after_commit(session.line_id)
    return session


@transaction.atomic
def session_close(
    *, user: User, session_id: int, confirmed: bool = False, at: datetime | None = None
) -> Session:
    """Close by the agent; someone else needs the join permission. Lines with `confirm_close` need
    `confirmed`."""
    at = at or timezone.now()
    session = session_for_user(user, session_id)
    _open(session)
    relation = _relation(user, session)
    own = relation == "operator"
    if not may_manage(user, relation, session):
        raise PermissionDenied(_("You may not close this conversation."))
    if session.line.confirm_close and not confirmed:
        raise ActionRefused(_("This line asks you to confirm before closing the conversation."))
    if not own:
        lifecycle.system_message(
            session, "closed_by_another", internal=True, user=lifecycle.user_display_name(_uid(user))
        )
    lifecycle.session_finish(session, at=at)
    _free_slot_after_commit(session.line_id)
    return session


@transaction.atomic
def session_start_outgoing(*, user: User, chat_id: int, at: datetime | None = None) -> Session:
    """An agent starts a new conversation with a known client (mode output, already accepted)."""
    at = at or timezone.now()
    chat = (
        Chat.objects.select_for_update(no_key=True, of=("self",))
        .select_related("line", "client__connector")
        .filter(pk=chat_id)
        .first()
    )
    if chat is None:
        raise ValidationError({"chat": [_("No such chat.")]})
    last = Session.objects.filter(chat=chat).order_by("-id").first()
    if last is None or not (
        last.operator_id == _uid(user)
        or can(user, "history", "view", last)
        or can(user, "join", "perform", last)
    ):
        raise PermissionDenied(_("You may not start a conversation with this client."))
    if Session.objects.filter(chat=chat, closed=False).exists():
        raise ActionRefused(_("This client already has an open conversation."))
    session = Session.objects.create(
        line=chat.line,
        chat=chat,
        mode=Session.Mode.OUTPUT,
        source=chat.client.connector.kind,
        status=SessionStatus.ANSWER,
        operator_id=_uid(user),
        wait_answer=False,
        is_first=False,
        parent=last,
        created_at=at,
        modified_at=at,
        date_operator=at,
        date_operator_answer=at,
        time_answer=0,
    )
    signals.session_created.send(sender=Session, session=session)
    lifecycle.session_save(session)
    return session


@transaction.atomic
def message_send(
    *,
    user: User,
    session_id: int,
    text: str,
    attachments: list[dict[str, Any]] | None = None,
    at: datetime | None = None,
) -> Message:
    """An agent's (or participant's) message to the client; the agent's first one also answers."""
    at = at or timezone.now()
    text = text_accept(text or "").strip()
    if not text and not attachments:
        raise ValidationError({"text": [_("Write a message or attach a file.")]})
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ValidationError(
            {"text": [_("A message can be at most %(n)d characters.") % {"n": MAX_MESSAGE_LENGTH}]}
        )
    session = session_for_user(user, session_id)
    _open(session)
    relation = _relation(user, session)
    if relation not in ("operator", "offered", "participant"):
        raise PermissionDenied(_("Join the conversation before writing in it."))
    if session.bot_id is not None and session.bot_started_at is not None and relation != "participant":
        raise ActionRefused(_("A chat bot is talking to the client; wait until it hands over."))
    message = lifecycle.message_post(
        session=session,
        author_type=Message.Author.AGENT,
        author=user if isinstance(user, AbstractBaseUser) else None,
        author_id=_uid(user),
        text=text,
        attachments=attachments,
        at=at,
    )
    if relation in ("operator", "offered"):
        was_waiting, status = session.wait_answer, session.status
        lifecycle.session_on_agent_message(session, user_id=_uid(user), at=at)
        if was_waiting or routing.slot_freed(session.line, status, session.status):
            _free_slot_after_commit(session.line_id)
    return message


def _outgoing_message_for(user: User, session_id: int, message_id: int) -> Message:
    """A message sent to the client in this session, if `user` may write in it (as for sending)."""
    session = session_for_user(user, session_id)
    _open(session)
    if _relation(user, session) not in ("operator", "offered", "participant"):
        raise PermissionDenied(_("Join the conversation before writing in it."))
    message = (
        Message.objects.filter(pk=message_id, session=session, internal=False)
        .exclude(author_type=Message.Author.CLIENT)
        .first()
    )
    if message is None:
        raise Message.DoesNotExist
    return message


def message_delivery_retry(*, user: User, session_id: int, message_id: int) -> Message:
    """Try a failed or retrying message again now (a failed one gets a fresh retry schedule)."""
    from contactcenter.services.outbound import outbound_delivery_retry_now

    return _message_delivery_act(user, session_id, message_id, outbound_delivery_retry_now)


def message_delivery_cancel(*, user: User, session_id: int, message_id: int) -> Message:
    """Stop retrying a pending message: it fails as cancelled by the agent."""
    from contactcenter.services.outbound import outbound_delivery_cancel

    return _message_delivery_act(user, session_id, message_id, outbound_delivery_cancel)


def _message_delivery_act(
    user: User, session_id: int, message_id: int, act: Callable[..., object]
) -> Message:
    from contactcenter.services.outbound import DeliveryRefused

    with transaction.atomic():
        message = _outgoing_message_for(user, session_id, message_id)
        try:
            act(message_id=message.pk)
        except DeliveryRefused as refused:
            raise ActionRefused(str(refused)) from None
    message.refresh_from_db()
    return message


def canned_responses_for(*, session: Session, query: str = "") -> list[CannedResponse]:
    """The line's canned responses matching `query` by shortcut or text (for the `/` search)."""
    if session.line.canned_responses_id is None:
        return []
    responses = CannedResponse.objects.filter(response_list_id=session.line.canned_responses_id)
    if query:
        from django.db.models import Q

        responses = responses.filter(
            Q(shortcut__icontains=query) | Q(title__icontains=query) | Q(text__icontains=query)
        )
    return list(responses.order_by("sort", "id")[:50])


def typing_publish(
    *, session: Session, by_client: bool, text_preview: str = "", user_id: int | None = None
) -> None:
    """Typing notifications both ways; staff see the client's text while typed if the line watches typing."""
    from openlines.services.events import typing_push

    if by_client:
        preview = text_preview[:500] if session.line.watch_typing else ""
        typing_push(session=session, to_client=False, payload={"by": "client", "preview": preview})
    else:
        typing_push(session=session, to_client=True, payload={"by": "agent", "user_id": user_id})


@transaction.atomic
def session_typing(*, user: User, session_id: int) -> Session:
    """An agent (or participant) types: the client sees it. Only those who may write in the conversation."""
    session = session_for_user(user, session_id)
    _open(session)
    if _relation(user, session) not in ("operator", "offered", "participant"):
        raise PermissionDenied(_("Join the conversation before writing in it."))
    typing_publish(session=session, by_client=False, user_id=user.pk)
    return session
