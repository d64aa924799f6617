"""JSON API of the CRM in the conversation: `POST /api/v1/sessions/{id}/crm/lead/` creates a lead from
the conversation (the workspace's one-click action); `GET /api/v1/sessions/{id}/crm/` lists the records
the conversation is bound to."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from contactcenter.api import NON_FIELD, ApiError, api_view
from contactcenter.openapi import Operation, Parameter, component_register, operation_register
from crm.selectors import crm_links_for_session, record_to_link
from crm.services.leads import session_lead_create
from openlines.services.actions import ActionRefused, session_can_view
from openlines.session_models import Session


def _session_visible(request: HttpRequest, pk: int) -> Session:
    session = Session.objects.select_related("line", "chat__client").filter(pk=pk).first()
    if session is None or not session_can_view(request.user, session):
        raise ApiError(404, _("Not found."))
    return session


@api_view(methods=["GET"])
def session_crm(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_visible(request, pk)
    return JsonResponse({"results": crm_links_for_session(session)})


@api_view(methods=["POST"])
def session_crm_lead(request: HttpRequest, pk: int) -> HttpResponse:
    _session_visible(request, pk)
    try:
        lead = session_lead_create(user=request.user, session_id=pk)
    except PermissionDenied as error:
        raise ApiError(403, str(error)) from None
    except ActionRefused as error:
        raise ApiError(409, {NON_FIELD: error.messages}) from None
    response = JsonResponse(record_to_link(lead), status=201)
    response["Location"] = reverse("admin:crm_lead_change", args=[lead.pk])
    return response


def _link_schema() -> dict[str, object]:
    return {
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["deal", "lead", "company", "contact"]},
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "url": {"type": "string", "description": "The record's page."},
        },
    }


component_register("CrmLink", _link_schema)
component_register(
    "CrmLinks",
    lambda: {
        "type": "object",
        "properties": {"results": {"type": "array", "items": {"$ref": "#/components/schemas/CrmLink"}}},
    },
)
_ID = Parameter("id", "path", {"type": "integer"}, "The conversation's id.")
_COMMON = {401: ("Not authenticated.", "Errors"), 403: ("Not allowed, or CSRF token missing.", "Errors")}
operation_register(
    Operation(
        "GET",
        "/sessions/{id}/crm/",
        "session_crm_links",
        "CRM records the conversation is bound to",
        "CRM",
        parameters=(_ID,),
        responses={
            200: ("Records, primary first.", "CrmLinks"),
            404: ("No such conversation you may see.", "Errors"),
            **_COMMON,
        },
    )
)
operation_register(
    Operation(
        "POST",
        "/sessions/{id}/crm/lead/",
        "session_crm_lead_create",
        "Create a lead from the conversation",
        "CRM",
        description="The lead gets the client's name, contacts and the transcript, "
        "and is bound to the conversation.",
        parameters=(_ID,),
        responses={
            201: ("The new lead.", "CrmLink"),
            404: ("No such conversation you may see.", "Errors"),
            409: ("The conversation already has a lead.", "Errors"),
            **_COMMON,
        },
    )
)
