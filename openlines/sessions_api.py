"""JSON API for conversations: `/api/v1/sessions/` (list, read, messages, every agent action) and
`/api/v1/chats/{id}/sessions/` (start an outgoing conversation).

Staff authenticate as for the lines API (session + CSRF, or a personal token). Which sessions exist for a
caller is `openlines.selectors.sessions_visible_to` (their own, offered and joined ones plus what their
statistics / history / join levels allow); others answer 404. Reading messages needs more than the chat
list's statistics level: the caller must be in the conversation or have the history or join permission
(`actions.session_can_view`), otherwise 403. Actions go through `openlines.services.actions`; their
refusals map to one status each: permission 403, "not now" (`ActionRefused`) 409, bad input 400 with the
field, missing 404.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from contactcenter.api import (
    ID_MAX,
    NON_FIELD,
    ApiError,
    api_view,
    is_id,
    json_fields,
    optional_id,
    page_from_request,
    query_text,
)
from contactcenter.openapi import Operation, Parameter, component_register, operation_register, ref
from contactcenter.services.agent_files import agent_attachments_from_json, agent_file_store
from openlines.attachments import MAX_FILES
from openlines.models import CannedResponse
from openlines.selectors import sessions_visible_to
from openlines.services import actions
from openlines.services.delivery import message_delivery_payload
from openlines.services.lifecycle import user_name
from openlines.session_models import Chat, Message, Session, SessionStatus, StatusGroup

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY_LENGTH = 255
TYPING_PREVIEW_MAX = 500
VOTES = {5: "like", 1: "dislike"}
LIST_FILTERS = (
    "line",
    "status",
    "status_group",
    "operator",
    "closed",
    "mode",
    "created_from",
    "created_to",
    "client_name",
)
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


# --- Output ---------------------------------------------------------------------------------------------


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _user_name(user: AbstractBaseUser | None) -> str:
    return user_name(user) if user is not None else ""


def session_json(session: Session) -> dict[str, Any]:
    client = session.chat.client
    operator = session.operator
    return {
        "id": session.pk,
        "line": {"id": session.line_id, "name": session.line.line_name},
        "chat_id": session.chat_id,
        "client": {
            "id": client.pk,
            "external_id": client.external_id,
            "name": client.name,
            "phone": client.phone,
            "email": client.email,
            "avatar_url": client.avatar_url,
        },
        "source": session.source,
        "mode": session.mode,
        "status": session.status,
        "status_label": str(SessionStatus(session.status).label),
        "status_group": str(session.status_group.value),
        "operator": {"id": operator.pk, "name": _user_name(operator)} if operator is not None else None,
        "offered_to": sorted(offer.user_id for offer in session.offers.all()),
        "participants": sorted(p.user_id for p in session.participants.all()),
        "bot_id": session.bot_id,
        "pinned": session.pause,
        "spam": session.spam,
        "closed": session.closed,
        "wait_answer": session.wait_answer,
        "wait_vote": session.wait_vote,
        "undistributed": session.undistributed,
        "vote": VOTES.get(session.vote),
        "vote_head": session.vote_head or None,
        "message_count": session.message_count,
        "created_at": _iso(session.created_at),
        "date_operator": _iso(session.date_operator),
        "date_operator_answer": _iso(session.date_operator_answer),
        "date_first_answer": _iso(session.date_first_answer),
        "date_last_message": _iso(session.date_last_message),
        "date_operator_close": _iso(session.date_operator_close),
        "date_close": _iso(session.date_close),
        "time_answer": session.time_answer,
        "time_first_answer": session.time_first_answer,
        "time_close": session.time_close,
        "time_dialog": session.time_dialog,
        "time_bot": session.time_bot,
        "parent_id": session.parent_id,
        "extra_url": session.extra_url,
    }


def message_json(message: Message) -> dict[str, Any]:
    author = message.author
    return {
        "id": message.pk,
        "session_id": message.session_id,
        "author_type": message.author_type,
        "author": {"id": author.pk, "name": _user_name(author)} if author is not None else None,
        "text": message.text,
        "attachments": message.attachments,
        "internal": message.internal,
        **message_delivery_payload(message),
        "created_at": _iso(message.created_at),
    }


def _sessions() -> QuerySet[Session]:
    return Session.objects.select_related("line", "chat__client", "operator__profile").prefetch_related(
        "offers", "participants"
    )


def _session_response(session_id: int, *, status: int = 200) -> JsonResponse:
    return JsonResponse(session_json(_sessions().get(pk=session_id)), status=status)


# --- Input ----------------------------------------------------------------------------------------------


def _int(raw: str) -> int:
    value = int(raw)
    if not 0 <= value <= ID_MAX:
        raise ValueError
    return value


def _moment(raw: str, *, end_of_day: bool) -> datetime.datetime:
    """An ISO date-time, or a date meaning its whole day in the server's time zone."""
    moment = parse_datetime(raw)
    if moment is None:
        day = parse_date(raw)
        if day is None:
            raise ValueError
        if end_of_day:
            day += datetime.timedelta(days=1)
        moment = datetime.datetime.combine(day, datetime.time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _list_filter(request: HttpRequest) -> Q:
    """The list's filters as one condition; every bad value is reported next to its parameter."""
    errors: dict[str, list[str]] = {}
    condition = Q()
    unknown = sorted(set(request.GET) - {*LIST_FILTERS, "limit", "offset"})
    if unknown:
        errors[NON_FIELD] = [_("Unknown parameters: %(names)s.") % {"names": ", ".join(unknown)}]

    def values(name: str) -> list[str]:
        return [v for raw in request.GET.getlist(name) for v in raw.split(",") if v.strip()]

    try:
        if values("line"):
            condition &= Q(line_id__in=[_int(v) for v in values("line")])
    except ValueError:
        errors["line"] = [_("Enter line ids (whole numbers).")]
    try:
        if values("status"):
            codes = [int(v) for v in values("status")]
            if any(code not in SessionStatus.values for code in codes):
                raise ValueError
            condition &= Q(status__in=codes)
    except ValueError:
        errors["status"] = [
            _("Enter status codes from: %(codes)s.")
            % {"codes": ", ".join(str(v) for v in SessionStatus.values)}
        ]
    groups = values("status_group")
    if groups:
        if any(group not in StatusGroup.values for group in groups):
            errors["status_group"] = [
                _("Enter one of: %(values)s.") % {"values": ", ".join(StatusGroup.values)}
            ]
        else:
            by_group = Q()
            if StatusGroup.WAITING_AGENT in groups:
                by_group |= Q(status__lt=SessionStatus.OPERATOR)
            if StatusGroup.AGENT_ANSWERED in groups:
                by_group |= Q(status__gte=SessionStatus.OPERATOR, status__lt=SessionStatus.CLOSE)
            if StatusGroup.CLOSED in groups:
                by_group |= Q(status__gte=SessionStatus.CLOSE)
            condition &= by_group
    try:
        if values("operator"):
            condition &= Q(operator_id__in=[_int(v) for v in values("operator")])
    except ValueError:
        errors["operator"] = [_("Enter user ids (whole numbers).")]
    closed = request.GET.get("closed")
    if closed is not None:
        if closed.lower() not in BOOLEANS:
            errors["closed"] = [_("Enter true or false.")]
        else:
            condition &= Q(closed=BOOLEANS[closed.lower()])
    mode = request.GET.get("mode")
    if mode is not None:
        if mode not in Session.Mode.values:
            errors["mode"] = [_("Enter one of: %(values)s.") % {"values": ", ".join(Session.Mode.values)}]
        else:
            condition &= Q(mode=mode)
    for name, lookup, end in (
        ("created_from", "created_at__gte", False),
        ("created_to", "created_at__lt", True),
    ):
        raw = request.GET.get(name)
        if raw is None:
            continue
        try:
            moment = _moment(raw.strip(), end_of_day=end)
        except ValueError:
            errors[name] = [_("Enter a date (YYYY-MM-DD) or an ISO 8601 date and time.")]
            continue
        if name == "created_to" and parse_datetime(raw.strip()) is not None:
            lookup = "created_at__lte"
        condition &= Q(**{lookup: moment})
    try:
        client_name = query_text(request, "client_name", max_length=MAX_QUERY_LENGTH)
    except ApiError as error:
        errors.update(error.errors)
    else:
        if client_name:
            condition &= Q(chat__client__name__icontains=client_name)
    if errors:
        raise ApiError(400, errors)
    return condition


# --- Running actions -------------------------------------------------------------------------------------


def perform_action(action: Callable[[], T], *, field_names: dict[str, str] | None = None) -> T:
    """Run an action service and turn its refusals into the API's statuses."""
    try:
        return action()
    except actions.ActionRefused as refused:
        raise ApiError(409, {NON_FIELD: refused.messages}) from None
    except PermissionDenied as denied:
        raise ApiError(403, str(denied) or _("You may not do this.")) from None
    except ObjectDoesNotExist:
        raise ApiError(404, _("Not found.")) from None
    except ValidationError as invalid:
        if not hasattr(invalid, "error_dict"):
            raise
        renames = field_names or {}
        raise ApiError(400, {renames.get(k, k): v for k, v in invalid.message_dict.items()}) from None


def _visible(request: HttpRequest, session_id: int) -> Session:
    """The session if the caller may know about it; 404 otherwise (existence is not revealed)."""
    session = None
    if is_id(session_id):
        session = sessions_visible_to(user=request.user, queryset=_sessions()).filter(pk=session_id).first()
    if session is None:
        raise ApiError(404, _("Not found."))
    return session


def _visible_id(request: HttpRequest, session_id: int) -> int:
    """Like `_visible` for the actions, which load (and lock) the session themselves: one query."""
    visible = is_id(session_id) and (
        sessions_visible_to(user=request.user, queryset=Session.objects.all()).filter(pk=session_id).exists()
    )
    if not visible:
        raise ApiError(404, _("Not found."))
    return session_id


def _may_read(request: HttpRequest, session: Session) -> None:
    if not actions.session_can_view(request.user, session):
        raise ApiError(403, _("You may see this conversation in the list but not its messages."))


# --- Views ------------------------------------------------------------------------------------------------


@api_view(methods=["GET"])
def sessions_collection(request: HttpRequest) -> HttpResponse:
    page = page_from_request(request, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT)
    condition = _list_filter(request)
    sessions = sessions_visible_to(user=request.user, queryset=_sessions()).filter(condition).order_by("-id")
    results = [session_json(s) for s in sessions[page.offset : page.offset + page.limit]]
    return JsonResponse(
        {"count": sessions.count(), "limit": page.limit, "offset": page.offset, "results": results}
    )


@api_view(methods=["GET"])
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return JsonResponse(session_json(_visible(request, pk)))


@api_view(methods=["GET", "POST"])
def session_messages(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        session_id = _visible_id(request, pk)
        data = json_fields(request, {"text", "attachments"})
        text = data.get("text", "")
        if not isinstance(text, str):
            raise ApiError(400, {"text": [_("Enter text.")]})
        files = agent_attachments_from_json(data.get("attachments"), session_id=session_id)
        message = perform_action(
            lambda: actions.message_send(
                user=request.user, session_id=session_id, text=text, attachments=files
            )
        )
        return JsonResponse(message_json(message), status=201)
    session = _visible(request, pk)
    _may_read(request, session)
    return JsonResponse(_messages_page(request, session))


@api_view(methods=["POST"])
def session_files(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload a file to send in this conversation (multipart, field `file`); the message refers to it by
    the returned `file` token. Checked at once against the channel's size and type limits."""
    session_id = _visible_id(request, pk)
    try:
        upload = request.FILES.get("file")
    except RequestDataTooBig:
        raise ApiError(413, _("The body is too large.")) from None
    except (TooManyFieldsSent, TooManyFilesSent):
        raise ApiError(400, {"file": [_("Send one file.")]}) from None
    stored = perform_action(
        lambda: agent_file_store(user=request.user, session_id=session_id, upload=upload)
    )
    return JsonResponse(stored, status=201)


def _messages_page(request: HttpRequest, session: Session) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cursors: dict[str, int] = {}
    unknown = sorted(set(request.GET) - {"before_id", "after_id", "limit"})
    if unknown:
        errors[NON_FIELD] = [_("Unknown parameters: %(names)s.") % {"names": ", ".join(unknown)}]
    for name in ("before_id", "after_id"):
        raw = request.GET.get(name)
        if raw is None:
            continue
        try:
            cursors[name] = _int(raw)
        except ValueError:
            errors[name] = [_("Enter a message id (a whole number).")]
    if errors:
        raise ApiError(400, errors)
    limit = page_from_request(request, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT).limit
    messages = Message.objects.filter(session=session).select_related("author__profile")
    if "before_id" in cursors:
        messages = messages.filter(pk__lt=cursors["before_id"])
    if "after_id" in cursors:
        # Forward from the cursor: the oldest first.
        rows = list(messages.filter(pk__gt=cursors["after_id"]).order_by("id")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
    else:
        # Backward (latest, or older than `before_id`): the newest page, shown oldest first.
        rows = list(messages.order_by("-id")[: limit + 1])
        has_more = len(rows) > limit
        rows = list(reversed(rows[:limit]))
    return {"results": [message_json(m) for m in rows], "has_more": has_more, "limit": limit}


def _action_view(name: str, run: Callable[[HttpRequest, int, dict[str, Any]], Any], allowed: set[str]) -> Any:
    @api_view(methods=["POST"])
    def view(request: HttpRequest, pk: int) -> HttpResponse:
        session_id = _visible_id(request, pk)
        data = json_fields(request, allowed)
        run(request, session_id, data)
        return _session_response(session_id)

    view.__name__ = view.__qualname__ = f"session_{name}"
    return view


def _answer(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    perform_action(lambda: actions.session_answer(user=request.user, session_id=session_id))


def _intercept(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    perform_action(lambda: actions.session_intercept(user=request.user, session_id=session_id))


def _skip(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    perform_action(lambda: actions.session_skip(user=request.user, session_id=session_id))


def _transfer(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    user_id, line_id = optional_id(data, "user_id"), optional_id(data, "line_id")
    if (user_id is None) == (line_id is None):
        raise ApiError(400, {NON_FIELD: [_("Give exactly one of user_id or line_id.")]})
    perform_action(
        lambda: actions.session_transfer(
            user=request.user, session_id=session_id, to_user_id=user_id, to_line_id=line_id
        ),
        field_names={"user": "user_id", "line": "line_id"},
    )


def _join(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    perform_action(lambda: actions.session_join(user=request.user, session_id=session_id))


def _pin(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    perform_action(lambda: actions.session_pin(user=request.user, session_id=session_id, pinned=True))


def _unpin(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    perform_action(lambda: actions.session_pin(user=request.user, session_id=session_id, pinned=False))


def _spam(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    perform_action(lambda: actions.session_spam(user=request.user, session_id=session_id))


def _close(request: HttpRequest, session_id: int, data: dict[str, Any]) -> None:
    confirm = data.get("confirm", False)
    if not isinstance(confirm, bool):
        raise ApiError(400, {"confirm": [_("Enter true or false.")]})
    perform_action(lambda: actions.session_close(user=request.user, session_id=session_id, confirmed=confirm))


session_answer = _action_view("answer", _answer, set())
session_intercept = _action_view("intercept", _intercept, set())
session_skip = _action_view("skip", _skip, set())
session_transfer = _action_view("transfer", _transfer, {"user_id", "line_id"})
session_join = _action_view("join", _join, set())
session_pin = _action_view("pin", _pin, set())
session_unpin = _action_view("unpin", _unpin, set())
session_spam = _action_view("spam", _spam, set())
session_close = _action_view("close", _close, {"confirm"})


@api_view(methods=["POST"])
def session_typing(request: HttpRequest, pk: int) -> HttpResponse:
    session = _visible(request, pk)
    data = json_fields(request, {"preview"})
    preview = data.get("preview", "")
    if not isinstance(preview, str) or len(preview) > TYPING_PREVIEW_MAX:
        raise ApiError(400, {"preview": [_("At most %(n)d characters.") % {"n": TYPING_PREVIEW_MAX}]})
    # The client is told that the agent types, never what: `preview` is accepted and not forwarded.
    perform_action(lambda: actions.session_typing(user=request.user, session_id=session.pk))
    return HttpResponse(status=204)


def _message_delivery_action(request: HttpRequest, pk: int, message_id: int, action: str) -> HttpResponse:
    session_id = _visible_id(request, pk)
    json_fields(request, set())
    if not is_id(message_id):
        raise ApiError(404, _("Not found."))
    run = actions.message_delivery_retry if action == "retry" else actions.message_delivery_cancel
    message = perform_action(lambda: run(user=request.user, session_id=session_id, message_id=message_id))
    return JsonResponse(message_json(message))


@api_view(methods=["POST"])
def session_message_retry(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    return _message_delivery_action(request, pk, message_id, "retry")


@api_view(methods=["POST"])
def session_message_cancel(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    return _message_delivery_action(request, pk, message_id, "cancel")


@api_view(methods=["GET"])
def session_canned_responses(request: HttpRequest, pk: int) -> HttpResponse:
    session = _visible(request, pk)
    _may_read(request, session)
    query = query_text(request, "q", max_length=MAX_QUERY_LENGTH)
    responses = actions.canned_responses_for(session=session, query=query)
    return JsonResponse({"results": [canned_response_json(r) for r in responses]})


def canned_response_json(response: CannedResponse) -> dict[str, Any]:
    return {"id": response.pk, "title": response.title, "text": response.text, "shortcut": response.shortcut}


@api_view(methods=["POST"])
def chat_sessions(request: HttpRequest, chat_id: int) -> HttpResponse:
    chat = Chat.objects.filter(pk=chat_id).first() if is_id(chat_id) else None
    if chat is None or not sessions_visible_to(user=request.user).filter(chat=chat).exists():
        raise ApiError(404, _("Not found."))
    json_fields(request, set())
    session = perform_action(lambda: actions.session_start_outgoing(user=request.user, chat_id=chat.pk))
    response = _session_response(session.pk, status=201)
    response["Location"] = reverse("openlines_api:session_detail", args=[session.pk])
    return response


# --- OpenAPI ------------------------------------------------------------------------------------------------


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


_DATE = {"type": "string", "format": "date-time"}
_SECONDS = {"type": ["integer", "null"], "minimum": 0, "description": "seconds"}


def _session_schema() -> dict[str, Any]:
    person = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    return {
        "type": "object",
        "description": "A conversation (session) with its client, agent and timings (reference §2.5).",
        "properties": {
            "id": {"type": "integer"},
            "line": person,
            "chat_id": {"type": "integer", "description": "The client's chat; start a new session in it."},
            "client": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "external_id": {"type": "string", "description": "The client's id on the channel."},
                    "name": {"type": "string"},
                    "phone": {"type": "string"},
                    "email": {"type": "string"},
                    "avatar_url": {"type": "string"},
                },
            },
            "source": {"type": "string", "description": "Channel kind (livechat, telegram, rest, ...)."},
            "mode": {"type": "string", "enum": list(Session.Mode.values)},
            "status": {
                "type": "integer",
                "enum": list(SessionStatus.values),
                "x-enum-labels": {str(v): str(label) for v, label in SessionStatus.choices},
            },
            "status_label": {"type": "string"},
            "status_group": {"type": "string", "enum": list(StatusGroup.values)},
            "operator": {**person, "type": ["object", "null"], "description": "The agent holding it."},
            "offered_to": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "Agents offered to.",
            },
            "participants": {"type": "array", "items": {"type": "integer"}, "description": "Joined staff."},
            "bot_id": {"type": ["integer", "null"]},
            "pinned": {"type": "boolean"},
            "spam": {"type": "boolean"},
            "closed": {"type": "boolean"},
            "wait_answer": {"type": "boolean", "description": "Waiting for an agent to accept."},
            "wait_vote": {"type": "boolean", "description": "Waiting for the client's rating."},
            "undistributed": {"type": "boolean", "description": "Waiting in the queue for a free agent."},
            "vote": {"type": ["string", "null"], "enum": ["like", "dislike", None]},
            "vote_head": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
            "message_count": {"type": "integer"},
            "created_at": _DATE,
            **{
                name: _nullable(_DATE)
                for name in (
                    "date_operator",
                    "date_operator_answer",
                    "date_first_answer",
                    "date_last_message",
                    "date_operator_close",
                    "date_close",
                )
            },
            **{name: _SECONDS for name in ("time_answer", "time_first_answer", "time_close", "time_dialog")},
            "time_bot": {"type": "integer", "minimum": 0},
            "parent_id": {"type": ["integer", "null"], "description": "The previous session of the chat."},
            "extra_url": {"type": "string", "description": "The page the client wrote from."},
        },
    }


def _message_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "session_id": {"type": "integer"},
            "author_type": {"type": "string", "enum": list(Message.Author.values)},
            "author": {
                "type": ["object", "null"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                "description": "The staff member who wrote it (agent messages).",
            },
            "text": {"type": "string"},
            "attachments": {"type": "array", "items": {"type": "object"}},
            "internal": {"type": "boolean", "description": "A system note the client never sees."},
            "delivery": {"type": "string", "enum": list(Message.Delivery.values)},
            "delivery_error": {
                "type": "string",
                "description": "Why the last attempt failed: while retrying (pending) or the final failure.",
            },
            "next_attempt_at": {
                **_DATE,
                "type": ["string", "null"],
                "description": "When a pending message is tried again; null when no retry is scheduled.",
            },
            "attempts": {"type": "integer", "minimum": 0, "description": "Send attempts made so far."},
            "created_at": _DATE,
        },
    }


def _file_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri", "maxLength": 1000},
            "name": {"type": "string", "maxLength": 255},
        },
        "required": ["url"],
        "additionalProperties": False,
    }


component_register("Session", _session_schema)
component_register(
    "SessionPage",
    lambda: {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "results": {"type": "array", "items": ref("Session")},
        },
    },
)
component_register("Message", _message_schema)
component_register(
    "MessagePage",
    lambda: {
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": ref("Message"), "description": "Oldest first."},
            "has_more": {"type": "boolean", "description": "More messages exist in the paging direction."},
            "limit": {"type": "integer"},
        },
    },
)
component_register("FileByUrl", _file_schema)
component_register(
    "FileUpload",
    lambda: {
        "type": "object",
        "properties": {
            "file": {"type": "string", "description": "The token `POST /sessions/{id}/files/` returned."}
        },
        "required": ["file"],
        "additionalProperties": False,
    },
)
component_register(
    "StoredFile",
    lambda: {
        "type": "object",
        "properties": {
            "file": {"type": "string", "description": "Refer to the file by this token when sending."},
            "kind": {"type": "string", "enum": ["photo", "video", "audio", "document"]},
            "name": {"type": "string"},
            "mime": {"type": "string"},
            "size": {"type": "integer"},
            "url": {"type": "string", "description": "Where staff open the file."},
        },
    },
)
component_register(
    "MessageCreate",
    lambda: {
        "type": "object",
        "properties": {
            "text": {"type": "string", "maxLength": actions.MAX_MESSAGE_LENGTH},
            "attachments": {
                "type": "array",
                "items": {"oneOf": [ref("FileUpload"), ref("FileByUrl")]},
                "maxItems": MAX_FILES,
            },
        },
        "additionalProperties": False,
        "description": "Text, files, or both.",
    },
)
component_register(
    "SessionTransfer",
    lambda: {
        "type": "object",
        "properties": {
            "user_id": {"type": "integer", "description": "A colleague, who then holds it as accepted."},
            "line_id": {"type": "integer", "description": "Another line, whose queue routes it."},
        },
        "additionalProperties": False,
        "description": "Exactly one of user_id or line_id.",
    },
)
component_register(
    "SessionClose",
    lambda: {
        "type": "object",
        "properties": {
            "confirm": {
                "type": "boolean",
                "default": False,
                "description": "Required true on lines that ask to confirm closing (confirm_close).",
            }
        },
        "additionalProperties": False,
    },
)
component_register(
    "Typing",
    lambda: {
        "type": "object",
        "properties": {
            "preview": {
                "type": "string",
                "maxLength": TYPING_PREVIEW_MAX,
                "description": "Accepted; clients are told that the agent types, never what.",
            }
        },
        "additionalProperties": False,
    },
)
component_register(
    "CannedResponseList",
    lambda: {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "text": {"type": "string"},
                        "shortcut": {"type": "string"},
                    },
                },
            }
        },
    },
)
component_register("Empty", lambda: {"type": "object", "additionalProperties": False})

TAG = "Conversations"
_ID = Parameter("id", "path", {"type": "integer"}, "The session's id.")
_COMMON = {
    401: ("Not authenticated.", "Errors"),
    403: ("Not allowed, or CSRF token missing.", "Errors"),
    404: ("No such conversation you may see.", "Errors"),
}
_ACTION_RESPONSES = {
    200: ("The conversation after the action.", "Session"),
    400: ("Invalid body.", "Errors"),
    409: ("The action does not apply to the conversation as it is now.", "Errors"),
    **_COMMON,
}


def _query(name: str, schema: dict[str, Any], description: str) -> Parameter:
    return Parameter(name, "query", schema, description)


operation_register(
    Operation(
        "GET",
        "/sessions/",
        "sessions_list",
        "List conversations",
        TAG,
        description=(
            "Newest first. You see conversations you hold, are offered or joined, plus those your "
            "statistics, history or join permission level (own / department / any) allows. List parameters "
            "accept several values, repeated or comma separated."
        ),
        parameters=(
            _query("line", {"type": "integer"}, "Line id."),
            _query(
                "status", {"type": "integer", "enum": list(SessionStatus.values)}, "Detailed status code."
            ),
            _query("status_group", {"type": "string", "enum": list(StatusGroup.values)}, "Grouped status."),
            _query("operator", {"type": "integer"}, "The agent's user id."),
            _query("closed", {"type": "boolean"}, "true or false."),
            _query("mode", {"type": "string", "enum": list(Session.Mode.values)}, "input or output."),
            _query("created_from", {"type": "string"}, "A date (from its start) or an ISO date-time."),
            _query("created_to", {"type": "string"}, "A date (to its end, inclusive) or an ISO date-time."),
            _query(
                "client_name", {"type": "string", "maxLength": MAX_QUERY_LENGTH}, "Part of the client's name."
            ),
            _query(
                "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, ""
            ),
            _query("offset", {"type": "integer", "minimum": 0, "default": 0}, ""),
        ),
        responses={
            200: ("A page of conversations.", "SessionPage"),
            400: ("Bad filter or paging.", "Errors"),
            401: _COMMON[401],
            403: _COMMON[403],
        },
    )
)
operation_register(
    Operation(
        "GET",
        "/sessions/{id}/",
        "sessions_read",
        "Read a conversation",
        TAG,
        parameters=(_ID,),
        responses={200: ("The conversation.", "Session"), **_COMMON},
    )
)
operation_register(
    Operation(
        "GET",
        "/sessions/{id}/messages/",
        "sessions_messages_list",
        "Read a conversation's messages",
        TAG,
        description=(
            "Without a cursor: the latest messages. `before_id` pages back, `after_id` forward (for catching "
            "up). Internal system notes are included. Needs to be in the conversation, or the history or "
            "join permission for it (the statistics level alone shows the conversation, not its messages: "
            "403)."
        ),
        parameters=(
            _ID,
            _query("before_id", {"type": "integer"}, "Messages older than this id."),
            _query("after_id", {"type": "integer"}, "Messages newer than this id."),
            _query(
                "limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, ""
            ),
        ),
        responses={
            200: ("Messages, oldest first.", "MessagePage"),
            400: ("Bad cursor.", "Errors"),
            **_COMMON,
        },
    )
)
operation_register(
    Operation(
        "POST",
        "/sessions/{id}/messages/",
        "sessions_messages_send",
        "Write to the client",
        TAG,
        description="The agent's first message also accepts the conversation. Participants may write too.",
        parameters=(_ID,),
        request_schema="MessageCreate",
        responses={
            201: ("The stored message; sending to the channel follows.", "Message"),
            400: ("Empty or invalid message.", "Errors"),
            409: ("Closed, or a bot is talking to the client.", "Errors"),
            **_COMMON,
        },
    )
)
operation_register(
    Operation(
        "POST",
        "/sessions/{id}/files/",
        "sessions_files_upload",
        "Upload a file to send to the client",
        TAG,
        description=(
            "A `multipart/form-data` body with one field, `file`. Checked against the channel's size and "
            "type limits (400 naming them); then send it with `{\"attachments\": [{\"file\": \"<token>\"}]}` "
            "within a day. Needs to be able to write in the conversation."
        ),
        parameters=(_ID,),
        responses={
            201: ("The stored file and its token.", "StoredFile"),
            400: ("No file, or beyond the channel's limits.", "Errors"),
            409: ("The conversation is closed.", "Errors"),
            **_COMMON,
        },
    )
)
_MESSAGE_ID = Parameter("message_id", "path", {"type": "integer"}, "The message's id.")
for _name, _summary, _description in (
    (
        "retry",
        "Try sending a message again now",
        "For a message to a channel that retries (messengers, REST connector) whose delivery is `pending` "
        "between attempts or `failed`: the next attempt is made now; a failed message gets a fresh retry "
        "schedule. 409 while an attempt is running or once the message was sent. Allowed to whoever may "
        "write in the conversation.",
    ),
    (
        "cancel",
        "Stop retrying a message",
        "For a `pending` message: no more attempts, delivery becomes `failed` with the reason \"Cancelled "
        "by agent.\". 409 while an attempt is running, or when the message is not pending. Allowed to "
        "whoever may write in the conversation.",
    ),
):
    operation_register(
        Operation(
            "POST",
            f"/sessions/{{id}}/messages/{{message_id}}/{_name}/",
            f"sessions_messages_{_name}",
            _summary,
            TAG,
            description=_description,
            parameters=(_ID, _MESSAGE_ID),
            request_schema=None,
            responses={
                200: ("The message with its delivery fields after the action.", "Message"),
                400: ("Unknown fields in the body (none are accepted).", "Errors"),
                409: ("The action does not apply to the message's delivery as it is now.", "Errors"),
                **_COMMON,
                404: ("No such conversation you may see, or no such message sent in it.", "Errors"),
            },
        )
    )
for _name, _summary, _body_schema, _description in (
    ("answer", "Take an offered conversation", None, ""),
    ("intercept", "Take a conversation another agent holds", None, "Needs the join permission."),
    ("skip", "Pass the conversation to the next agent", None, "409 when nobody else can take it."),
    ("transfer", "Transfer to a colleague or another line", "SessionTransfer", ""),
    ("join", "Join without taking over", None, "Needs the join permission."),
    ("pin", "Pin: keep it from being forwarded or re-queued", None, ""),
    ("unpin", "Unpin", None, ""),
    ("spam", "Mark as spam and close", None, ""),
    (
        "close",
        "Close the conversation",
        "SessionClose",
        "Starts the closing phase (close text, rating request).",
    ),
):
    operation_register(
        Operation(
            "POST",
            f"/sessions/{{id}}/{_name}/",
            f"sessions_{_name}",
            _summary,
            TAG,
            description=_description,
            parameters=(_ID,),
            request_schema=_body_schema,
            responses=_ACTION_RESPONSES,
        )
    )
operation_register(
    Operation(
        "POST",
        "/sessions/{id}/typing/",
        "sessions_typing",
        "Tell the client that you are typing",
        TAG,
        parameters=(_ID,),
        request_schema="Typing",
        responses={
            204: ("Sent.", None),
            400: ("Invalid body.", "Errors"),
            409: ("Closed.", "Errors"),
            **_COMMON,
        },
    )
)
operation_register(
    Operation(
        "GET",
        "/sessions/{id}/canned-responses/",
        "sessions_canned_responses",
        "Search the line's canned responses",
        TAG,
        parameters=(
            _ID,
            _query("q", {"type": "string", "maxLength": MAX_QUERY_LENGTH}, "Shortcut, title or text."),
        ),
        responses={
            200: ("Up to 50 responses.", "CannedResponseList"),
            400: ("Query too long.", "Errors"),
            **_COMMON,
        },
    )
)
operation_register(
    Operation(
        "POST",
        "/chats/{chat_id}/sessions/",
        "chats_sessions_start",
        "Start an outgoing conversation with a known client",
        TAG,
        description="You become its agent. 409 while the client has an open conversation.",
        parameters=(
            Parameter("chat_id", "path", {"type": "integer"}, "The client's chat (see Session.chat_id)."),
        ),
        responses={
            201: ("The new conversation.", "Session"),
            409: ("The client has an open conversation.", "Errors"),
            **_COMMON,
        },
    )
)
