"""The API a webhook chat bot answers through (reference §3.3): `/api/v1/bots/{bot_id}/sessions/{id}/...`.

The bot receives events at its webhook (`openlines.services.bots.webhook_notify`, signed with its secret)
and acts with `Authorization: Bearer <the bot's secret>`, compared in constant time. It acts only on
sessions whose bot it is; any other session does not exist for it (404).
"""

from __future__ import annotations

import hmac
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

from contactcenter.api import (
    NON_FIELD,
    ApiError,
    api_view,
    bearer_key,
    is_id,
    json_fields,
    optional_id,
    token_rate_limit,
)
from contactcenter.openapi import (
    Operation,
    Parameter,
    component_register,
    operation_register,
    security_scheme_register,
)
from openlines.models import ChatBot
from openlines.services import bots
from openlines.session_models import Session
from openlines.sessions_api import message_json, perform_action

# Compared against when the bot id is unknown, so that an unknown id and a wrong secret take the same time.
_NO_SECRET = "x" * 43


def _bot(request: HttpRequest, bot_id: int, session_id: int) -> ChatBot:
    key = bearer_key(request)
    bot = ChatBot.objects.filter(pk=bot_id).first() if is_id(bot_id) else None
    secret = bot.secret if bot is not None and bot.secret else _NO_SECRET
    if not hmac.compare_digest(secret.encode(), key.encode()) or bot is None or not bot.secret:
        raise ApiError(401, _("The bot id or its secret is wrong."))
    token_rate_limit(f"bot:{bot.pk}")
    if not bot.active:
        raise ApiError(403, _("This bot is switched off."))
    if bot.kind != ChatBot.Kind.WEBHOOK:
        raise ApiError(403, _("Only webhook bots use this API."))
    if not is_id(session_id):
        raise ApiError(404, _("Not found."))
    return bot


def bot_session_json(session: Session) -> dict[str, Any]:
    # Read again: routing after a hand-over changes the row through its own instance.
    session = Session.objects.get(pk=session.pk)
    return {
        "session_id": session.pk,
        "chat_id": session.chat_id,
        "line_id": session.line_id,
        "status": session.status,
        "closed": session.closed,
        "operator_id": session.operator_id,
        "bot_in_charge": session.bot_id is not None and session.bot_started_at is not None,
    }


@api_view(methods=["POST"], staff=False)
def bot_message(request: HttpRequest, bot_id: int, session_id: int) -> HttpResponse:
    bot = _bot(request, bot_id, session_id)
    data = json_fields(request, {"text", "buttons"})
    text, buttons = data.get("text", ""), data.get("buttons", [])
    if not isinstance(text, str):
        raise ApiError(400, {"text": [_("Enter text.")]})
    if not isinstance(buttons, list) or not all(isinstance(label, str) for label in buttons):
        raise ApiError(400, {"buttons": [_("Enter a list of button labels.")]})
    message = perform_action(
        lambda: bots.bot_session_message_send(bot=bot, session_id=session_id, text=text, buttons=buttons)
    )
    return JsonResponse(message_json(message), status=201)


@api_view(methods=["POST"], staff=False)
def bot_operator(request: HttpRequest, bot_id: int, session_id: int) -> HttpResponse:
    bot = _bot(request, bot_id, session_id)
    json_fields(request, set())
    session = perform_action(lambda: bots.bot_session_operator(bot=bot, session_id=session_id))
    return JsonResponse(bot_session_json(session))


@api_view(methods=["POST"], staff=False)
def bot_finish(request: HttpRequest, bot_id: int, session_id: int) -> HttpResponse:
    bot = _bot(request, bot_id, session_id)
    json_fields(request, set())
    session = perform_action(lambda: bots.bot_session_finish(bot=bot, session_id=session_id))
    return JsonResponse(bot_session_json(session))


@api_view(methods=["POST"], staff=False)
def bot_transfer(request: HttpRequest, bot_id: int, session_id: int) -> HttpResponse:
    bot = _bot(request, bot_id, session_id)
    data = json_fields(request, {"user_id", "line_id"})
    user_id, line_id = optional_id(data, "user_id"), optional_id(data, "line_id")
    if (user_id is None) == (line_id is None):
        raise ApiError(400, {NON_FIELD: [_("Give exactly one of user_id or line_id.")]})
    session = perform_action(
        lambda: bots.bot_session_transfer(
            bot=bot, session_id=session_id, to_user_id=user_id, to_line_id=line_id
        ),
        field_names={"user": "user_id", "line": "line_id"},
    )
    return JsonResponse(bot_session_json(session))


# --- OpenAPI ------------------------------------------------------------------------------------------------

security_scheme_register(
    "botSecret",
    {
        "type": "http",
        "scheme": "bearer",
        "description": "The chat bot's secret (shown in the bot's settings).",
    },
)
component_register(
    "BotMessage",
    lambda: {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "buttons": {
                "type": "array",
                "items": {"type": "string", "maxLength": bots.MAX_BUTTON_LENGTH},
                "maxItems": bots.MAX_BUTTONS,
                "description": "Choices, also numbered in the text; the client answers with one.",
            },
        },
        "required": ["text"],
        "additionalProperties": False,
    },
)
component_register(
    "BotSession",
    lambda: {
        "type": "object",
        "properties": {
            "session_id": {"type": "integer"},
            "chat_id": {"type": "integer"},
            "line_id": {"type": "integer"},
            "status": {"type": "integer"},
            "closed": {"type": "boolean"},
            "operator_id": {"type": ["integer", "null"]},
            "bot_in_charge": {"type": "boolean", "description": "False once handed over to agents."},
        },
    },
)

TAG = "Chat bots"
_PARAMS = (
    Parameter("bot_id", "path", {"type": "integer"}, "The bot's id."),
    Parameter("session_id", "path", {"type": "integer"}, "A session the bot is in (from the webhook event)."),
)
_COMMON = {
    400: ("Invalid body.", "Errors"),
    401: ("Missing or wrong bot secret.", "Errors"),
    403: ("The bot is off or not a webhook bot.", "Errors"),
    404: ("No such session for this bot.", "Errors"),
    409: ("The conversation is closed, or the bot already handed it over.", "Errors"),
}
for _name, _summary, _schema, _ok in (
    ("message", "Write to the client", "BotMessage", (201, ("The stored message.", "Message"))),
    (
        "operator",
        "Hand the conversation over to the line's queue",
        None,
        (200, ("Handed over.", "BotSession")),
    ),
    ("finish", "Close the conversation", None, (200, ("Closing or closed.", "BotSession"))),
    (
        "transfer",
        "Transfer to an agent or another line",
        "SessionTransfer",
        (200, ("Transferred.", "BotSession")),
    ),
):
    operation_register(
        Operation(
            "POST",
            f"/bots/{{bot_id}}/sessions/{{session_id}}/{_name}/",
            f"bots_sessions_{_name}",
            _summary,
            TAG,
            parameters=_PARAMS,
            request_schema=_schema,
            responses={_ok[0]: _ok[1], **_COMMON},
            security=("botSecret",),
        )
    )
