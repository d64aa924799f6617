"""Chat list (/chats/) and reports (/reports/): thin views over kpi.selectors, kpi.reports and services."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contactcenter.numbers import id_from_text, is_decimal
from contactcenter.permissions import can
from kpi import reports
from kpi.columns import COLUMNS, COLUMNS_BY_KEY, cell_display
from kpi.forms import PAGE_SIZES, ChatListFilterForm, HeadVoteForm
from kpi.models import ChatExport
from kpi.selectors import chat_list_columns, session_list, session_page, sessions_visible
from kpi.services.exports import FORMATS, chat_export_start, csv_stream, export_path, xlsx_bytes
from kpi.services.group_actions import sessions_group_apply
from kpi.services.preferences import chat_list_columns_set
from kpi.services.ratings import session_head_vote
from openlines.services.actions import session_can_view, transfer_target_users
from openlines.session_models import Message, Session


def _require_statistics(request: HttpRequest) -> None:
    if not can(request.user, "statistics", "view"):
        raise PermissionDenied(_("You may not see communication statistics."))


def _query_without(request: HttpRequest, *keys: str) -> str:
    query = request.GET.copy()
    for key in keys:
        query.pop(key, None)
    return query.urlencode()


@staff_member_required
@require_GET
def chat_list(request: HttpRequest) -> HttpResponse:
    _require_statistics(request)
    form = ChatListFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    page = filters.get("page", 1)
    per_page = filters.get("per_page", PAGE_SIZES[0])
    rows, has_next = session_page(user=request.user, filters=filters, page=page, per_page=per_page)
    keys = chat_list_columns(user=request.user)
    columns = [COLUMNS_BY_KEY[key] for key in keys]
    # Lazy labels resolved once per request, not once per use in the template.
    headers = [{"key": c.key, "label": str(c.label), "order_by": c.order_by} for c in columns]
    menu = [{"key": c.key, "label": str(c.label)} for c in COLUMNS]
    table = [
        {"session": session, "cells": [(column.key, cell_display(column, session)) for column in columns]}
        for session in rows
    ]
    history_id = request.GET.get("history", "")
    context: dict[str, Any] = {
        "title": _("Conversations"),
        "form": form,
        "columns": headers,
        "all_columns": menu,
        "chosen": set(keys),
        "table": table,
        "page": page,
        "has_next": has_next,
        "query": _query_without(request, "page", "history"),
        "export_query": _query_without(request, "page", "history", "per_page"),
        "may_vote": can(request.user, "vote_head", "perform"),
        "agents": transfer_target_users().order_by("username"),
        "history_id": history_id if is_decimal(history_id) else "",
    }
    return render(request, "kpi/chat_list.html", context)


@staff_member_required
@require_POST
def chat_columns(request: HttpRequest) -> HttpResponse:
    _require_statistics(request)
    chat_list_columns_set(user_id=cast(int, request.user.pk), columns=request.POST.getlist("columns"))
    back = request.POST.get("next", "")
    return redirect(f"{reverse('kpi:chat_list')}?{back}" if back else reverse("kpi:chat_list"))


def _session_for_history(request: HttpRequest, pk: int) -> Session:
    """Messages are "communication history" (reference §7): the statistics level that lists a
    conversation does not open it; the same rule as the workspace and the API (`session_can_view`)."""
    session = get_object_or_404(Session.objects.select_related("line", "chat__client", "operator"), pk=pk)
    if session_can_view(request.user, session):
        return session
    raise PermissionDenied(_("You cannot see this conversation."))


@staff_member_required
@require_GET
def chat_history(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_for_history(request, pk)
    history = Message.objects.filter(session=session).select_related("author").order_by("id")
    return render(
        request,
        "kpi/history.html",
        {
            "session": session,
            "messages_": history,
            "may_vote": can(request.user, "vote_head", "perform", session),
        },
    )


@staff_member_required
@require_POST
def chat_rate(request: HttpRequest, pk: int) -> HttpResponse:
    form = HeadVoteForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    try:
        session = session_head_vote(
            user=request.user,
            session_id=pk,
            vote=form.cleaned_data["vote_head"],
            comment=form.cleaned_data["comment_head"],
        )
    except ValidationError as exc:
        return JsonResponse({"errors": exc.message_dict}, status=400)
    return JsonResponse(
        {"id": session.pk, "vote_head": session.vote_head, "comment_head": session.comment_head}
    )


@staff_member_required
@require_POST
def chat_group(request: HttpRequest) -> HttpResponse:
    _require_statistics(request)
    ids = [pk for pk in map(id_from_text, request.POST.getlist("ids")) if pk is not None]
    visible = set(sessions_visible(user=request.user).filter(pk__in=ids).values_list("pk", flat=True))
    try:
        result = sessions_group_apply(
            user=request.user,
            action=request.POST.get("action", ""),
            session_ids=[pk for pk in ids if pk in visible],
            to_user_id=id_from_text(request.POST.get("to_user", "")),
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        if result.done:
            messages.success(request, _("Done for %(n)d conversations.") % {"n": len(result.done)})
        for pk, reason in result.refused.items():
            messages.warning(request, _("#%(id)d: %(reason)s") % {"id": pk, "reason": reason})
        for pk in set(ids) - visible:
            messages.warning(request, _("#%(id)d: you cannot see this conversation.") % {"id": pk})
    back = request.POST.get("next", "")
    return redirect(f"{reverse('kpi:chat_list')}?{back}" if back else reverse("kpi:chat_list"))


@staff_member_required
@require_GET
def chat_export(request: HttpRequest) -> HttpResponseBase:
    _require_statistics(request)
    export_format = request.GET.get("format", "csv")
    if export_format not in FORMATS:
        return HttpResponseBadRequest(_("Unknown export format."))
    form = ChatListFilterForm(request.GET)
    filters = form.filters()
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if export_format == "csv":
        response = StreamingHttpResponse(
            csv_stream(user=request.user, filters=filters), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="conversations-{stamp}.csv"'
        return response
    total = session_list(user=request.user, filters=filters).count()
    if total > settings.KPI_EXPORT_INLINE_MAX_ROWS:
        job = chat_export_start(
            user=request.user,
            export_format=export_format,
            query=_query_without(request, "format"),
            total=total,
        )
        return redirect("kpi:chat_export_progress", pk=job.pk)
    workbook = HttpResponse(
        xlsx_bytes(user=request.user, filters=filters),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    workbook["Content-Disposition"] = f'attachment; filename="conversations-{stamp}.xlsx"'
    return workbook


def _own_job(request: HttpRequest, pk: UUID) -> ChatExport:
    job = ChatExport.objects.filter(pk=pk, user_id=cast(int, request.user.pk)).first()
    if job is None:
        raise Http404
    return job


@staff_member_required
@require_GET
def chat_export_progress(request: HttpRequest, pk: UUID) -> HttpResponse:
    job = _own_job(request, pk)
    status = {
        "state": job.state,
        "done": job.done,
        "total": job.total,
        "error": job.error,
        "url": reverse("kpi:chat_export_file", args=[job.pk]) if job.state == ChatExport.State.DONE else "",
    }
    if request.GET.get("json"):
        return JsonResponse(status)
    return render(request, "kpi/export_progress.html", {"title": _("Export"), "job": job, "status": status})


@staff_member_required
@require_GET
def chat_export_file(request: HttpRequest, pk: UUID) -> HttpResponseBase:
    job = _own_job(request, pk)
    path = export_path(job)
    if job.state != ChatExport.State.DONE or not path.exists():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"conversations.{job.format}")


# --- Reports --------------------------------------------------------------------------------------


@staff_member_required
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    _require_statistics(request)
    form = reports.ReportForm(request.GET or None)
    params = form.params()
    data = reports.report_build(user=request.user, params=params)
    return render(
        request,
        "kpi/reports.html",
        {
            "title": _("Reports"),
            "form": form,
            "data": data,
            "charts": reports.CHARTS,
            "query": request.GET.urlencode(),
        },
    )


@staff_member_required
@require_GET
def report_csv(request: HttpRequest, chart: str) -> HttpResponse:
    _require_statistics(request)
    if chart not in reports.CHARTS:
        raise Http404
    params = reports.ReportForm(request.GET).params()
    data = reports.report_build(user=request.user, params=params)
    response = HttpResponse(reports.chart_csv(data[chart]), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chart}.csv"'
    return response
