"""The client panel fragment the workspace embeds for a conversation."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from crm.selectors import crm_links_for_session
from openlines.services.actions import session_can_view
from openlines.session_models import Session


@staff_member_required
@require_GET
def session_panel(request: HttpRequest, pk: int) -> HttpResponse:
    session = Session.objects.select_related("line", "chat__client").filter(pk=pk).first()
    if session is None or not session_can_view(request.user, session):
        raise Http404
    links = crm_links_for_session(session)
    return render(
        request,
        "crm/session_panel_page.html",
        {
            "session": session,
            "links": links,
            "can_create_lead": not any(link["type"] == "lead" for link in links),
            "lead_create_url": reverse("crm_api:session_crm_lead", args=[session.pk]),
        },
    )
