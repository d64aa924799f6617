"""The agent workspace: its page and the small JSON endpoints it calls (all thin over `actions.*`).

Live updates come over the staff websocket (`contactcenter.consumers.StaffConsumer`); these endpoints
are for reads on demand and for actions. Errors: 400 bad input, 403 not allowed, 404 unknown, 409 the
action does not apply to the conversation as it is now.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie

from contactcenter.api import NON_FIELD, ApiError, api_view, is_id, json_body, query_text
from contactcenter.models import EmployeeProfile
from contactcenter.numbers import id_from_text
from contactcenter.selectors import agent_availability, open_work_day
from contactcenter.services import availability
from contactcenter.services.agent_files import agent_attachments_from_json, file_limits_json
from openlines import selectors
from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import Message, Session, SessionStatus

View = Callable[..., HttpResponse]


@staff_member_required
@ensure_csrf_cookie
def workspace(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "openlines/agent.html",
        {"title": _("Conversations"), "strings": workspace_strings(), "user_id": request.user.pk},
    )


def workspace_strings() -> dict[str, Any]:
    """The workspace script's interface strings, translated in the staff member's language."""
    return {
        "groups": {
            "offered": _("New"),
            "in_progress": _("In progress"),
            "waiting_client": _("Waiting for the client"),
            "closing": _("Closing"),
            "supervised": _("Other agents' conversations"),
        },
        "actions": {
            "answer": _("Answer"),
            "skip": _("Skip"),
            "transfer": _("Transfer"),
            "join": _("Join"),
            "intercept": _("Intercept"),
            "pin": _("Pin"),
            "unpin": _("Unpin"),
            "spam": _("Spam"),
            "close": _("Close"),
        },
        "delivery": {
            "pending": _("Sending"),
            "sent": _("Sent"),
            "delivered": _("Delivered"),
            "read": _("Read"),
            "failed": _("Failed"),
        },
        # %(reason)s and %(time)s are filled in by the workspace script.
        "delivery_retrying": _("Not delivered yet: %(reason)s, next try at %(time)s"),
        "delivery_failed": _("Not delivered: %(reason)s"),
        "delivery_retry": _("Retry"),
        "delivery_cancel": _("Cancel sending"),
        "empty": _("Choose a conversation on the left."),
        "no_sessions": _("No conversations."),
        "load_earlier": _("Load earlier messages"),
        "placeholder": _(
            "Write a message. Enter sends, Shift+Enter starts a new line, / finds a canned response."
        ),
        "send": _("Send"),
        "client_typing": _("The client is typing…"),
        "confirm_close": _("Close this conversation?"),
        "confirm": _("Close the conversation"),
        "cancel": _("Cancel"),
        "transfer_title": _("Transfer the conversation"),
        "search": _("Search agents and lines"),
        "agents": _("Agents"),
        "lines": _("Lines"),
        "available": _("available"),
        "client": _("Client"),
        "channel": _("Channel"),
        "phone": _("Phone"),
        "email": _("E-mail"),
        "page": _("Page"),
        "previous": _("Previous conversations"),
        "crm": _("CRM"),
        "create_lead": _("Create lead"),
        "none": _("None"),
        "online": _("Online"),
        "paused": _("Paused"),
        "offline": _("Reconnecting…"),
        "connected": _("Connected"),
        "logged_out": _("You were logged out. Sign in again."),
        "clock_in": _("Clock in"),
        "work_pause": _("Pause the work day"),
        "work_resume": _("Resume the work day"),
        "clock_out": _("Clock out"),
        "work_day": _("Work day"),
        "new_assignment": _("New conversation"),
        "lost": _("This conversation is no longer yours."),
        "internal": _("Only staff see this"),
        "attach": _("Attach files"),
        "attach_limits": _("You can send %(limits)s."),
        "no_files": _("Files cannot be sent on this channel."),
        "file_too_large": _("%(name)s is too large: this channel takes %(limits)s."),
        "file_type": _("%(name)s cannot be sent: this channel takes %(limits)s."),
        "uploading": _("Uploading %(name)s…"),
        "remove_file": _("Remove"),
        "drop_files": _("Drop files to attach them"),
    }


def _me(request: HttpRequest) -> int:
    """The authenticated staff member's id (the API wrapper has checked the login)."""
    assert request.user.pk is not None
    return int(request.user.pk)


def _errors(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    return {NON_FIELD: [str(m) for m in error.messages]}


def agent_api(*, methods: list[str]) -> Callable[[View], View]:
    """`api_view` plus the action errors: PermissionDenied -> 403, ActionRefused -> 409."""

    def decorator(view: View) -> View:
        @wraps(view)
        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied as error:
                raise ApiError(403, str(error) or _("You may not do this.")) from None
            except Session.DoesNotExist:
                raise ApiError(404, _("No such conversation.")) from None
            except actions.ActionRefused as error:
                raise ApiError(409, _errors(error)) from None

        return api_view(methods=methods)(inner)

    return decorator


def _viewable(request: HttpRequest, session_id: int) -> Session:
    session = Session.objects.select_related("line", "chat__client__connector").filter(pk=session_id).first()
    if session is None:
        raise ApiError(404, _("No such conversation."))
    if not actions.session_can_view(request.user, session):
        raise ApiError(403, _("You cannot see this conversation."))
    return session


def _session_detail(request: HttpRequest, session: Session) -> dict[str, Any]:
    user = request.user
    row = selectors.workspace_session_row(session, user_id=_me(request))
    row.update(
        {
            "relation": actions._relation(user, session),
            "confirm_close": session.line.confirm_close,
            "client": selectors.client_panel(session=session),
            # What the attach button takes on this channel (shown before sending, checked before uploading).
            "files": file_limits_json(session.chat.client.connector.kind),
            "may": actions.session_permissions(user, session),
        }
    )
    return row


@agent_api(methods=["GET"])
def sessions_list(request: HttpRequest) -> HttpResponse:
    # Read before the lists: they show at least what these events brought (`staff_resume_point`).
    resume = selectors.staff_resume_point(user_id=_me(request))
    rows = selectors.workspace_sessions(user_id=_me(request))
    counters: dict[str, int] = {}
    for row in rows:
        counters[row["group"]] = counters.get(row["group"], 0) + 1
    return JsonResponse(
        {
            "sessions": rows,
            "counters": counters,
            "supervised": selectors.supervised_sessions(user=request.user),
            # Where a freshly loaded page resumes the event stream after a reconnect.
            **resume,
        }
    )


@agent_api(methods=["GET"])
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    return JsonResponse(_session_detail(request, _viewable(request, session_id)))


@agent_api(methods=["GET", "POST"])
def session_messages(request: HttpRequest, session_id: int) -> HttpResponse:
    if request.method == "POST":
        body = json_body(request)
        text = body.get("text", "")
        if not isinstance(text, str):
            raise ApiError(400, {"text": [_("Send the text as a string.")]})
        files = agent_attachments_from_json(body.get("attachments"), session_id=session_id)
        message = actions.message_send(user=request.user, session_id=session_id, text=text, attachments=files)
        from openlines.services.lifecycle import message_payload

        return JsonResponse({"message": message_payload(message)}, status=201)
    _viewable(request, session_id)
    before = request.GET.get("before_id", "")
    before_id = id_from_text(before) if before else None
    if before and before_id is None:
        raise ApiError(400, {"before_id": [_("Enter a whole number.")]})
    return JsonResponse(selectors.session_messages_page(session_id=session_id, before_id=before_id))


@agent_api(methods=["POST"])
def message_delivery_action(
    request: HttpRequest, session_id: int, message_id: int, action: str
) -> HttpResponse:
    """Retry (now) or cancel the channel send of a message, as whoever may write in the conversation."""
    from openlines.services.lifecycle import message_payload

    runs = {"retry": actions.message_delivery_retry, "cancel": actions.message_delivery_cancel}
    if action not in runs or not is_id(message_id):
        raise ApiError(404, _("Unknown action or message."))
    _viewable(request, session_id)
    try:
        message = runs[action](user=request.user, session_id=session_id, message_id=message_id)
    except Message.DoesNotExist:
        raise ApiError(404, _("No such message in this conversation.")) from None
    return JsonResponse({"message": message_payload(message)})


@agent_api(methods=["GET"])
def canned_responses(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _viewable(request, session_id)
    query = query_text(request, "q")[:100]
    items = actions.canned_responses_for(session=session, query=query)
    return JsonResponse(
        {"results": [{"id": r.pk, "shortcut": r.shortcut, "title": r.title, "text": r.text} for r in items]}
    )


def _int_field(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    number = (
        id_from_text(str(value)) if isinstance(value, int | str) and not isinstance(value, bool) else None
    )
    if number is None:
        raise ApiError(400, {name: [_("Enter a whole number.")]})
    return number


@agent_api(methods=["POST"])
def session_action(request: HttpRequest, session_id: int, action: str) -> HttpResponse:
    user = request.user
    body = json_body(request) if request.body else {}
    if action == "answer":
        actions.session_answer(user=user, session_id=session_id)
    elif action == "intercept":
        actions.session_intercept(user=user, session_id=session_id)
    elif action == "skip":
        actions.session_skip(user=user, session_id=session_id)
    elif action == "transfer":
        actions.session_transfer(
            user=user,
            session_id=session_id,
            to_user_id=_int_field(body, "user"),
            to_line_id=_int_field(body, "line"),
        )
    elif action == "join":
        actions.session_join(user=user, session_id=session_id)
    elif action in ("pin", "unpin"):
        actions.session_pin(user=user, session_id=session_id, pinned=action == "pin")
    elif action == "spam":
        actions.session_spam(user=user, session_id=session_id)
    elif action == "close":
        actions.session_close(user=user, session_id=session_id, confirmed=body.get("confirmed") is True)
    else:
        raise ApiError(404, _("Unknown action."))
    session = Session.objects.select_related("line", "chat__client__connector").get(pk=session_id)
    if not actions.session_can_view(user, session):
        return JsonResponse({"id": session.pk, "gone": True})
    return JsonResponse(_session_detail(request, session))


@agent_api(methods=["GET"])
def transfer_targets(request: HttpRequest) -> HttpResponse:
    """Agents and lines a conversation can be transferred to, searchable by name."""
    query = query_text(request, "q")[:100]
    users = actions.transfer_target_users().exclude(pk=_me(request))
    lines = OpenLine.objects.filter(active=True)
    if query:
        users = users.filter(
            Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(username__icontains=query)
            | Q(profile__display_name__icontains=query)
        )
        lines = lines.filter(line_name__icontains=query)
    profiles = {p.user_id: p for p in EmployeeProfile.objects.filter(user__in=users[:50])}
    agents = []
    for user in users.order_by("first_name", "last_name", "username")[:50]:
        profile = profiles.get(user.pk)
        agents.append(
            {
                "id": user.pk,
                "name": profile.name if profile else (user.get_full_name() or user.get_username()),
                "position": profile.work_position if profile else "",
                "available": agent_availability(user=user, check_available=True).available,
            }
        )
    return JsonResponse(
        {"agents": agents, "lines": [{"id": line.pk, "name": line.line_name} for line in lines[:50]]}
    )


def _status(user_id: int) -> dict[str, Any]:
    profile = EmployeeProfile.objects.filter(user_id=user_id).first()
    work_day = open_work_day(user_id=user_id)
    return {
        "paused": bool(profile and profile.openlines_paused),
        "uses_time_tracking": bool(profile and profile.uses_time_tracking),
        "work_day": work_day.state if work_day is not None else "closed",
        "work_day_started_at": work_day.started_at.isoformat() if work_day is not None else None,
    }


STATUS_ACTIONS: dict[str, Callable[[int], Any]] = {
    "pause": lambda uid: availability.openlines_pause_set(user_id=uid, paused=True),
    "resume": lambda uid: availability.openlines_pause_set(user_id=uid, paused=False),
    "clock_in": lambda uid: availability.work_day_clock_in(user_id=uid),
    "work_pause": lambda uid: availability.work_day_pause(user_id=uid),
    "work_resume": lambda uid: availability.work_day_resume(user_id=uid),
    "clock_out": lambda uid: availability.work_day_clock_out(user_id=uid),
}


@agent_api(methods=["GET", "POST"])
def agent_status(request: HttpRequest) -> HttpResponse:
    """The agent's own status: online/paused for open lines and the work day clock."""
    user_id = _me(request)
    if request.method == "POST":
        action = json_body(request).get("action")
        if not isinstance(action, str) or action not in STATUS_ACTIONS:
            raise ApiError(400, {"action": [_("Choose one of: %s.") % ", ".join(STATUS_ACTIONS)]})
        try:
            STATUS_ACTIONS[action](user_id)
        except ValidationError as error:
            raise ApiError(409, _errors(error)) from None
    return JsonResponse(_status(user_id))


# Statuses the page labels; kept here so the template and the JS share one source.
STATUS_LABELS = {value: str(label) for value, label in SessionStatus.choices}
