"""Chat bots on a line (Chat bots tab, reference §1.8, §3.3, §4.1).

A welcome bot takes a new session before any agent: always, or only on the chat's first session
(`welcome_bot_join`). It hands over to the queue when the client sends `0`, when the script says so, or
after `welcome_bot_time` (0 = never by itself). With `welcome_bot_left = close` it stays in the
conversation until it closes. Bot time is recorded separately so that KPIs exclude it.

Two kinds:
- scripted (built in): `ChatBot.script` is
  `{"start": node, "nodes": {name: {"text": str, "buttons": [{"label": str, "goto": node} |
  {"label": str, "action": "operator" | "close"}]}}, "free_text": "operator" | "repeat"}`;
  the client answers with a button's label or its number (1, 2, ...).
- webhook: every event is POSTed to `webhook_url` as JSON signed with HMAC-SHA256 of the body under
  `secret` (header `X-Bot-Signature: sha256=<hex>`); the bot answers through the sessions API. The event is
  written to the task outbox with the change that causes it (contactcenter.background.outbox_task_add),
  so it is posted even when the task queue was unreachable at commit; a network error, a timeout, a 5xx,
  408 or 429 is retried with backoff (about an hour), other answers are final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.background import outbox_task_add
from openlines.models import ChatBot, OpenLine
from openlines.outbound_guard import DestinationRefused, guarded_http_client
from openlines.services import lifecycle
from openlines.services.events import event_publish
from openlines.session_models import DeadlineKind, Message, Session, Transfer

logger = logging.getLogger(__name__)

TO_AGENT = "0"
WEBHOOK_TIMEOUT_SECONDS = 10.0


def bot_should_join(session: Session) -> bool:
    line = session.line
    if not (line.welcome_bot_enable and line.welcome_bot_id is not None):
        return False  # without reading the bot's row
    bot = line.welcome_bot
    if not (bot is not None and bot.active):
        return False
    return line.welcome_bot_join == OpenLine.WelcomeBotJoin.ALWAYS or session.is_first


def bot_join(session: Session, *, at: datetime) -> None:
    line = session.line
    bot = line.welcome_bot
    assert bot is not None
    session.bot = bot
    session.bot_started_at = at
    session.undistributed = False
    if line.welcome_bot_time:
        lifecycle.deadline_set(session, DeadlineKind.BOT, at + timedelta(seconds=line.welcome_bot_time))
    lifecycle.session_save(session)
    if bot.kind == ChatBot.Kind.SCRIPTED:
        start = (bot.script or {}).get("start")
        if start:
            _show_node(session, bot, str(start))
    else:
        webhook_notify(session, bot, "session.start", {})


def bot_on_client_message(session: Session, message: Message, *, at: datetime) -> None:
    bot = session.bot
    if bot is None:
        return
    if message.text.strip() == TO_AGENT:
        bot_hand_over(session, at=at)
        return
    if bot.kind == ChatBot.Kind.WEBHOOK:
        webhook_notify(session, bot, "message.new", {"message": lifecycle.message_payload(message)})
        return
    script = bot.script or {}
    node_name = str(session.chat.client.extra.get(_node_key(bot), script.get("start", "")))
    node = script.get("nodes", {}).get(node_name, {})
    buttons: list[dict[str, Any]] = node.get("buttons", [])
    picked = _match_button(buttons, message.text)
    if picked is None:
        if script.get("free_text", "operator") == "operator":
            bot_hand_over(session, at=at)
        else:
            _show_node(session, bot, node_name)
        return
    if picked.get("action") == "operator":
        bot_hand_over(session, at=at)
    elif picked.get("action") == "close":
        lifecycle.session_close(session, at=at)
    elif picked.get("goto"):
        _show_node(session, bot, str(picked["goto"]))


def _node_key(bot: ChatBot) -> str:
    return f"bot_{bot.pk}_node"


def _match_button(buttons: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    answer = text.strip().casefold()
    for index, button in enumerate(buttons, start=1):
        if answer in (str(index), str(button.get("label", "")).strip().casefold()):
            return button
    return None


def _show_node(session: Session, bot: ChatBot, node_name: str) -> None:
    node = (bot.script or {}).get("nodes", {}).get(node_name)
    if not node:
        return
    client = session.chat.client
    client.extra = {**client.extra, _node_key(bot): node_name}
    client.save(update_fields=["extra"])
    buttons = [str(b.get("label", "")) for b in node.get("buttons", [])]
    bot_message_post(session, text=str(node.get("text", "")), buttons=buttons)


def bot_message_post(session: Session, *, text: str, buttons: Sequence[str] = ()) -> Message:
    """A bot's message; buttons are also numbered in the text, since most channels show no buttons and
    the client answers with the label or the number."""
    lines = [text, *(f"{i}. {label}" for i, label in enumerate(buttons, start=1))]
    attachments = [{"kind": "buttons", "buttons": list(buttons)}] if buttons else []
    return lifecycle.message_post(
        session=session,
        author_type=Message.Author.BOT,
        text="\n".join(line for line in lines if line),
        attachments=attachments,
    )


def bot_hand_over(session: Session, *, at: datetime) -> None:
    """The bot passes the conversation to the queue ("Bot has forwarded conversation to an agent")."""
    from openlines.services import routing

    line = session.line
    lifecycle.bot_time_stop(session, at=at)
    lifecycle.deadline_clear(session, DeadlineKind.BOT)
    # The no-answer clock starts when a human can answer (reference §3.3).
    lifecycle.deadline_set(session, DeadlineKind.NO_ANSWER, at + timedelta(seconds=line.no_answer_time))
    Transfer.objects.create(
        session=session, mode=Transfer.Mode.BOT, from_line=line, to_line=line, reason="bot"
    )
    if line.welcome_bot_left == OpenLine.WelcomeBotLeft.QUEUE:
        session.bot = None
    lifecycle.system_message(session, "bot_forwarded", internal=True)
    routing.session_route_new(session, at=at)


def webhook_notify(session: Session, bot: ChatBot, event: str, data: dict[str, Any]) -> None:
    body = {
        "event": event,
        "bot_id": bot.pk,
        "session_id": session.pk,
        "chat_id": session.chat_id,
        "line_id": session.line_id,
        "at": timezone.now().isoformat(),
        **data,
    }
    outbox_task_add("openlines.tasks.bot_webhook_post", bot.pk, body)


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class BotWebhookUnavailable(Exception):
    """The bot's endpoint could not take the event now (retried by the outbox)."""


def bot_webhook_post(bot_id: int, body: dict[str, Any], client: httpx.Client | None = None) -> int:
    """Task body: POST one signed event to the bot's webhook. Returns the HTTP status (0 when the bot is
    gone or has no URL any more); raises on what is worth retrying."""
    bot = ChatBot.objects.filter(pk=bot_id).first()
    if bot is None or not bot.webhook_url:
        return 0
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Bot-Signature": webhook_signature(bot.secret, raw)}
    http = client or guarded_http_client(timeout=WEBHOOK_TIMEOUT_SECONDS)
    try:
        response = http.post(bot.webhook_url, content=raw, headers=headers)
    except DestinationRefused as error:
        logger.warning("bot %s webhook not called: %s", bot_id, error)
        return 0
    finally:
        if client is None:
            http.close()
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise BotWebhookUnavailable(f"bot {bot_id} webhook answered HTTP {response.status_code}")
    if response.status_code >= 400:
        logger.warning("bot %s webhook answered %s", bot_id, response.status_code)
    return response.status_code


# --- What a webhook bot does through the bot API (reference §3.3) -----------------------------------------

MAX_BUTTONS = 10
MAX_BUTTON_LENGTH = 100


def _bot_session(bot: ChatBot, session_id: int) -> Session:
    """The session, locked, if `bot` is its bot; otherwise it does not exist for this bot."""
    from openlines.services.actions import ActionRefused

    session = Session.objects.filter(pk=session_id, bot=bot).first()
    if session is None:
        raise Session.DoesNotExist
    session = lifecycle.session_lock(session.pk)
    if session.bot_id != bot.pk:
        raise Session.DoesNotExist
    if session.closed:
        raise ActionRefused(_("The conversation is closed."))
    return session


def _bot_in_charge(session: Session) -> None:
    from openlines.services.actions import ActionRefused

    if session.bot_started_at is None:
        raise ActionRefused(_("The bot already handed this conversation over to the agents."))


@transaction.atomic
def bot_session_message_send(
    *, bot: ChatBot, session_id: int, text: str, buttons: Sequence[str] = ()
) -> Message:
    """The bot writes to the client; it may do so as long as it is in the conversation."""
    from openlines.services.actions import MAX_MESSAGE_LENGTH

    text = text.strip()
    errors: dict[str, list[str]] = {}
    if not text:
        errors["text"] = [_("Write a message.")]
    elif len(text) > MAX_MESSAGE_LENGTH:
        errors["text"] = [_("A message can be at most %(n)d characters.") % {"n": MAX_MESSAGE_LENGTH}]
    if len(buttons) > MAX_BUTTONS:
        errors["buttons"] = [_("At most %(n)d buttons.") % {"n": MAX_BUTTONS}]
    elif any(not label.strip() or len(label) > MAX_BUTTON_LENGTH for label in buttons):
        errors["buttons"] = [_("A button label is 1 to %(n)d characters.") % {"n": MAX_BUTTON_LENGTH}]
    if errors:
        raise ValidationError(errors)
    session = _bot_session(bot, session_id)
    return bot_message_post(session, text=text, buttons=[label.strip() for label in buttons])


@transaction.atomic
def bot_session_operator(*, bot: ChatBot, session_id: int, at: datetime | None = None) -> Session:
    """The bot passes the conversation to the line's queue."""
    session = _bot_session(bot, session_id)
    _bot_in_charge(session)
    bot_hand_over(session, at=at or timezone.now())
    return session


@transaction.atomic
def bot_session_finish(*, bot: ChatBot, session_id: int, at: datetime | None = None) -> Session:
    """The bot ends the conversation the way an agent does (close text, rating request per the line)."""
    session = _bot_session(bot, session_id)
    lifecycle.session_finish(session, at=at or timezone.now())
    return session


@transaction.atomic
def bot_session_transfer(
    *,
    bot: ChatBot,
    session_id: int,
    to_user_id: int | None = None,
    to_line_id: int | None = None,
    at: datetime | None = None,
) -> Session:
    """The bot hands the conversation to one agent (who holds it as accepted) or to another line's queue."""
    at = at or timezone.now()
    if to_user_id is not None and to_line_id is None:
        return _bot_transfer_to_user(bot, session_id, to_user_id, at)
    if to_line_id is not None and to_user_id is None:
        return _bot_transfer_to_line(bot, session_id, to_line_id, at)
    raise ValidationError(_("Transfer to exactly one of an agent or a line."))


def _bot_leaves(session: Session, *, at: datetime, leave: bool) -> None:
    line = session.line
    lifecycle.bot_time_stop(session, at=at)
    lifecycle.deadline_clear(session, DeadlineKind.BOT)
    # The no-answer clock starts when a human can answer (reference §3.3).
    lifecycle.deadline_set(session, DeadlineKind.NO_ANSWER, at + timedelta(seconds=line.no_answer_time))
    if leave or line.welcome_bot_left == OpenLine.WelcomeBotLeft.QUEUE:
        session.bot = None


def _bot_transfer_to_user(bot: ChatBot, session_id: int, to_user_id: int, at: datetime) -> Session:
    from django.contrib.auth import get_user_model

    session = _bot_session(bot, session_id)
    _bot_in_charge(session)
    if not get_user_model().objects.filter(pk=to_user_id, is_active=True, is_staff=True).exists():
        raise ValidationError({"user": [_("No active employee with this id.")]})
    line = session.line
    _bot_leaves(session, at=at, leave=False)
    session.wait_answer = True
    lifecycle.session_accept(session, user_id=to_user_id, at=at)
    Transfer.objects.create(
        session=session,
        mode=Transfer.Mode.BOT,
        to_user_id=to_user_id,
        from_line=line,
        to_line=line,
        reason="bot",
    )
    lifecycle.system_message(
        session,
        "transfer",
        internal=True,
        user_from=bot.name,
        user_to=lifecycle.user_display_name(to_user_id),
    )
    event_publish(
        type="offer.new",
        session=session,
        users=[to_user_id],
        payload={"session": lifecycle.session_summary(session), "transferred": True},
    )
    return session


def _bot_transfer_to_line(bot: ChatBot, session_id: int, to_line_id: int, at: datetime) -> Session:
    from openlines.services import routing

    session = _bot_session(bot, session_id)
    _bot_in_charge(session)
    from_line = session.line
    to_line = OpenLine.objects.filter(pk=to_line_id).first()
    if to_line is None or not to_line.active:
        raise ValidationError({"line": [_("No active line with this id.")]})
    if to_line.pk == from_line.pk:
        raise ValidationError({"line": [_("The conversation is already on this line.")]})
    _bot_leaves(session, at=at, leave=True)  # the bot belongs to the line it came with
    session.line = to_line
    session.queue_history = []
    Transfer.objects.create(
        session=session, mode=Transfer.Mode.BOT, from_line=from_line, to_line=to_line, reason="bot"
    )
    lifecycle.system_message(
        session, "transfer", internal=True, user_from=bot.name, user_to=to_line.line_name
    )
    routing.session_route_new(session, at=at)
    return session
