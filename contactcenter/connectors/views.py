"""The Contact Center page: channel kinds as tiles with their connected lines; connect, edit, disconnect,
reconnect, and re-register every channel's webhook."""

from __future__ import annotations

import mimetypes
import uuid
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, ProtectedError
from django.forms import ChoiceField
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from contactcenter.connectors.channels import app_webhook_url, webhook_url
from contactcenter.connectors.forms import ConnectForm, ConnectorEditForm
from contactcenter.connectors.kinds import ConnectorKind, KindSpec
from contactcenter.connectors.selectors import connector_health, reply_window_for, unrouted_webhooks
from contactcenter.models import Connector
from contactcenter.permissions import Action, Area, can, permitted_queryset
from contactcenter.services import connectors as services
from contactcenter.services.connectors import Connection, connector_update
from contactcenter.services.provisioning import connector_provision, connectors_refresh
from openlines.models import OpenLine
from openlines.services.actions import session_can_view
from openlines.services.lines import line_create
from openlines.session_models import Message, Session
from openlines.validation import QUEUE_KEY, parse_line_settings


@dataclass
class ConnectorRow:
    connector: Connector
    may_modify: bool
    may_view_line: bool


@dataclass
class Tile:
    kind: ConnectorKind
    spec: KindSpec
    rows: list[ConnectorRow]


def _apply_errors(form: ConnectForm | ConnectorEditForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            for message in messages_:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _line_create_for(user: Any, name: str) -> OpenLine:
    """A new line with default settings and the current user as its queue (checked like any line)."""
    values, errors = parse_line_settings({"line_name": name, QUEUE_KEY: [{"user": user.pk}]})
    if errors:
        placed: dict[str, list[str]] = {}
        for field, messages_ in errors.items():
            placed.setdefault("new_line_name" if field == "line_name" else NON_FIELD_ERRORS, []).extend(
                messages_
            )
        raise ValidationError(placed)
    queue = values.pop(QUEUE_KEY)
    return line_create(values=values, queue=queue, by=user)


@staff_member_required
@require_http_methods(["GET", "HEAD"])
def contact_center(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, Area.CONNECTORS, Action.VIEW):
        raise PermissionDenied
    visible = permitted_queryset(
        user=user,
        area=Area.CONNECTORS,
        action=Action.VIEW,
        queryset=Connector.objects.select_related("line").order_by(
            F("disconnected_at").desc(nulls_first=True), "line__line_name", "name", "id"
        ),
    )
    tiles = [Tile(kind=kind, spec=kind.spec, rows=[]) for kind in ConnectorKind]
    by_kind = {tile.kind.value: tile for tile in tiles}
    for connector in visible:
        tile = by_kind.get(connector.kind)
        if tile is None:  # a kind this version no longer offers
            continue
        tile.rows.append(
            ConnectorRow(
                connector=connector,
                may_modify=can(user, Area.CONNECTORS, Action.MODIFY, connector),
                may_view_line=can(user, Area.LINES, Action.VIEW, connector.line),
            )
        )
    context = {
        "title": _("Contact Center"),
        "tiles": tiles,
        "may_connect": can(user, Area.CONNECTORS, Action.MODIFY),
        "may_create_line": can(user, Area.LINES, Action.MODIFY),
        "unrouted": unrouted_webhooks(),
    }
    return render(
        request, "contactcenter/contact_center.html", {**admin.site.each_context(request), **context}
    )


@staff_member_required
@sensitive_post_parameters()
@require_http_methods(["GET", "HEAD", "POST"])
def connector_connect(request: HttpRequest, kind: str) -> HttpResponse:
    try:
        channel = ConnectorKind(kind)
    except ValueError:
        raise Http404 from None
    user = request.user
    if not can(user, Area.CONNECTORS, Action.MODIFY):
        raise PermissionDenied
    lines = permitted_queryset(
        user=user, area=Area.CONNECTORS, action=Action.MODIFY, queryset=OpenLine.objects.all()
    )
    may_create_line = can(user, Area.LINES, Action.MODIFY)
    form = ConnectForm(
        request.POST if request.method == "POST" else None,
        kind=channel,
        lines=lines,
        may_create_line=may_create_line,
        # "Connect again" of a disconnected account names it.
        initial={"account_id": request.GET.get("account_id", "")[:255]},
    )
    if request.method == "POST" and form.is_valid():
        line = form.chosen_line()
        created = line is None
        connection: Connection | None = None
        try:
            with transaction.atomic():
                if line is None:
                    name = (
                        form.cleaned_data.get("new_line_name")
                        or form.cleaned_data.get("name")
                        or channel.label
                    )
                    line = _line_create_for(user, str(name).strip())
                connection = services.connector_connect(
                    kind=channel,
                    line=line,
                    name=form.cleaned_data.get("name") or "",
                    account_id=form.cleaned_data.get("account_id") or "",
                    secrets=form.secret_values(),
                )
            # Committed before registering: the platform may call the new webhook URL meanwhile.
            connector_provision(connector=connection.connector, base_url=request.build_absolute_uri("/"))
        except ValidationError as error:
            if connection is not None:
                # The platform refused: nothing of this attempt is kept.
                services.connector_connect_undo(connection=connection)
                if created and line is not None:
                    try:
                        line.delete()
                    except ProtectedError:
                        pass  # a conversation arrived on it meanwhile: it stays
            _apply_errors(form, error)
        else:
            connector = connection.connector
            if connection.reconnected:
                messages.success(
                    request,
                    _(
                        "%(channel)s is connected again, to the line “%(line)s”; its clients continue "
                        "their conversation history."
                    )
                    % {"channel": connector.name, "line": line},
                )
            else:
                messages.success(
                    request,
                    _("%(channel)s is connected to the line “%(line)s”.")
                    % {"channel": connector.name, "line": line},
                )
            if channel in (ConnectorKind.WHATSAPP, ConnectorKind.MESSENGER, ConnectorKind.INSTAGRAM):
                return redirect("contactcenter:connector_status", connector.pk)
            if created:
                return redirect("admin:openlines_openline_change", line.pk)
            return redirect("contactcenter:contact_center")
    context = {
        "title": _("Connect %(channel)s") % {"channel": channel.label},
        "kind": channel,
        "spec": channel.spec,
        "form": form,
        "has_lines": bool(cast(ChoiceField, form.fields["line"]).choices),
    }
    return render(
        request, "contactcenter/connector_form.html", {**admin.site.each_context(request), **context}
    )


def _connector_for(request: HttpRequest, pk: int) -> Connector:
    connector = get_object_or_404(Connector.objects.select_related("line"), pk=pk)
    if not can(request.user, Area.CONNECTORS, Action.VIEW, connector):
        raise Http404
    if not can(request.user, Area.CONNECTORS, Action.MODIFY, connector):
        raise PermissionDenied
    return connector


@staff_member_required
@sensitive_post_parameters()
@require_http_methods(["GET", "HEAD", "POST"])
def connector_edit(request: HttpRequest, pk: int) -> HttpResponse:
    connector = _connector_for(request, pk)
    form = ConnectorEditForm(request.POST if request.method == "POST" else None, instance=connector)
    if request.method == "POST" and form.is_valid():
        try:
            connector_update(
                connector=connector,
                name=form.cleaned_data.get("name") or "",
                account_id=form.cleaned_data.get("account_id") or "",
                active=form.cleaned_data["active"],
                secrets=form.secret_values(),
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("The connector “%(name)s” was saved.") % {"name": connector.name})
            return redirect("contactcenter:contact_center")
    context = {
        "title": _("Edit %(name)s") % {"name": connector},
        "kind": ConnectorKind(connector.kind),
        "spec": connector.kind_spec,
        "connector": connector,
        "form": form,
        "has_lines": True,
    }
    return render(
        request, "contactcenter/connector_form.html", {**admin.site.each_context(request), **context}
    )


@staff_member_required
@require_http_methods(["GET", "HEAD", "POST"])
def connector_disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    connector = _connector_for(request, pk)
    if connector.is_disconnected:
        messages.info(request, _("%(channel)s is already disconnected.") % {"channel": connector.name})
        return redirect("contactcenter:contact_center")
    if request.method == "POST":
        refused = services.connector_disconnect(connector=connector)
        if refused:
            messages.warning(
                request,
                _("The platform did not confirm removing the webhook: %(reason)s") % {"reason": refused},
            )
        messages.success(
            request,
            _("%(channel)s was disconnected from the line “%(line)s”. Its conversations are kept.")
            % {"channel": connector.name, "line": connector.line},
        )
        return redirect("contactcenter:contact_center")
    context = {
        "title": _("Disconnect %(name)s?") % {"name": connector},
        "connector": connector,
        "is_messenger": connector.kind_spec.is_messenger_account,
        "clients": connector.clients.count(),
        "cancel_url": reverse("contactcenter:contact_center"),
    }
    return render(
        request, "contactcenter/connector_disconnect.html", {**admin.site.each_context(request), **context}
    )


@staff_member_required
@require_http_methods(["POST"])
def connector_reconnect_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch a disconnected live chat or REST connector on again (messenger accounts: the connect form)."""
    connector = _connector_for(request, pk)
    if not connector.is_disconnected:
        messages.info(request, _("%(channel)s is connected.") % {"channel": connector.name})
        return redirect("contactcenter:contact_center")
    if connector.kind_spec.is_messenger_account:
        query = urlencode({"account_id": connector.account_id})
        return redirect(f"{reverse('contactcenter:connector_connect', args=[connector.kind])}?{query}")
    services.connector_reconnect(connector=connector)
    messages.success(
        request,
        _("%(channel)s is connected again to the line “%(line)s”.")
        % {"channel": connector.name, "line": connector.line},
    )
    return redirect("contactcenter:contact_center")


@staff_member_required
@require_http_methods(["POST"])
def connectors_refresh_view(request: HttpRequest) -> HttpResponse:
    """Register the webhooks of the channels the user may change again with the current public URL."""
    user = request.user
    if not can(user, Area.CONNECTORS, Action.MODIFY):
        raise PermissionDenied
    mine = permitted_queryset(
        user=user,
        area=Area.CONNECTORS,
        action=Action.MODIFY,
        queryset=Connector.objects.select_related("line").order_by("kind", "id"),
    )
    outcomes = connectors_refresh(connectors=mine, base_url=request.build_absolute_uri("/"))
    for outcome in outcomes:
        names = {"channel": str(outcome.connector), "line": outcome.connector.line, "detail": outcome.detail}
        if outcome.status == "ok":
            messages.success(
                request, _("%(channel)s (line “%(line)s”): webhook registered at %(detail)s") % names
            )
        elif outcome.status == "failed":
            messages.error(request, _("%(channel)s (line “%(line)s”): failed: %(detail)s") % names)
        else:
            messages.info(request, _("%(channel)s (line “%(line)s”): skipped, %(detail)s") % names)
    if not outcomes:
        messages.info(request, _("No connected channel to register."))
    return redirect("contactcenter:contact_center")


@staff_member_required
@require_http_methods(["GET", "HEAD"])
def connector_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The channel page: its health, and for Meta kinds what to paste into the App Dashboard."""
    connector = get_object_or_404(Connector.objects.select_related("line"), pk=pk)
    if not can(request.user, Area.CONNECTORS, Action.VIEW, connector):
        raise Http404
    may_modify = can(request.user, Area.CONNECTORS, Action.MODIFY, connector)
    meta = connector.kind in (ConnectorKind.WHATSAPP, ConnectorKind.MESSENGER, ConnectorKind.INSTAGRAM)
    base_url = request.build_absolute_uri("/")
    context = {
        "title": str(connector),
        "connector": connector,
        "health": connector_health(connector),
        "may_modify": may_modify,
        "callback_url": app_webhook_url(connector.kind, base_url=base_url) if meta else "",
        "channel_url": webhook_url(connector, base_url=base_url) if meta else "",
        # The verify token is ours, made for this channel, and must be pasted into Meta's dashboard.
        "verify_token": connector.secrets.get("verify_token", "") if meta and may_modify else "",
    }
    return render(
        request, "contactcenter/connector_status.html", {**admin.site.each_context(request), **context}
    )


def _attachment_visible_to(user: Any, connector_uuid: uuid.UUID, path: str) -> dict[str, Any] | None:
    """The attachment stored at `path` in a conversation `user` may see, if there is one."""
    candidates = Message.objects.filter(
        chat__client__connector__uuid=connector_uuid, attachments__icontains=path
    ).select_related("session")
    for message in candidates:
        for attachment in message.attachments:
            if attachment.get("path") == path and session_can_view(user, message.session):
                return cast(dict[str, Any], attachment)
    return None


@staff_member_required
@require_http_methods(["GET", "HEAD"])
def connector_media(request: HttpRequest, path: str) -> HttpResponseBase:
    """A file a client sent through a messenger, to staff who may see a conversation it belongs to."""
    parts = path.split("/")
    if len(parts) != 4 or parts[0] != "connectors" or not all(parts) or ".." in parts or "\x00" in path:
        raise Http404
    try:
        connector_uuid = uuid.UUID(parts[1])
    except ValueError:
        raise Http404 from None
    entry = _attachment_visible_to(request.user, connector_uuid, path)
    if entry is None:
        raise Http404
    if not default_storage.exists(path):
        raise Http404
    response = FileResponse(
        default_storage.open(path, "rb"),
        content_type=entry.get("mime") or "application/octet-stream",
        as_attachment=True,
        filename=entry.get("name") or parts[3],
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_http_methods(["GET", "HEAD"])
def file_link(request: HttpRequest, token: str, name: str) -> HttpResponseBase:
    """An agent's file behind a signed, expiring link, for platforms and integrators that fetch files from
    us (Viber, REST callbacks). No login: the signature is the key. Always a download with `nosniff` and a
    sandbox, so a stored page never runs on this origin."""
    from contactcenter.services.agent_files import file_link_path

    path = file_link_path(token)
    if path is None or path.rsplit("/", 1)[-1] != name:
        raise Http404
    try:
        stored = default_storage.open(path, "rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise Http404 from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(stored, as_attachment=True, filename=name, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@staff_member_required
@require_http_methods(["GET", "HEAD"])
def session_reply_window(request: HttpRequest, session_id: int) -> JsonResponse:
    """Whether the agent may still write to the client (shown before they type), and whether the client
    blocked the channel."""
    session = get_object_or_404(Session.objects.select_related("chat__client"), pk=session_id)
    if not session_can_view(request.user, session):
        raise Http404
    blocked_at = session.chat.client.blocked_at
    return JsonResponse(
        {
            **reply_window_for(session).as_dict(),
            "client_blocked_at": blocked_at.isoformat() if blocked_at else None,
        }
    )
