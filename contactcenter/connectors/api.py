"""HTTP endpoints of the generic REST connector, under `/api/v1/connectors/{uuid}/`.

For the integrator's system (authenticated with the connector's token, `Authorization: Bearer <token>`):
`messages/` (client messages in, one or a batch) and `status/` (delivery receipts of our messages).
For staff (the usual API authentication and the connectors permission): `rest-settings/` (read and set
the callback URL) and `rest-credentials/` (create or replace the token and signing secret, shown once).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from contactcenter.api import (
    NON_FIELD,
    ApiError,
    api_view,
    bearer_key,
    json_body,
    json_fields,
    token_rate_limit,
)
from contactcenter.connectors import rest
from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector
from contactcenter.openapi import (
    Operation,
    Parameter,
    component_register,
    operation_register,
    security_scheme_register,
)
from contactcenter.permissions import Action, Area, can
from contactcenter.services.rest_connector import (
    MAX_BATCH,
    rest_connector_callback_set,
    rest_connector_token_rotate,
    rest_delivery_receipts_apply,
    rest_messages_ingest,
)


def _connector(connector_uuid: UUID) -> Connector:
    connector = (
        Connector.objects.select_related("line").filter(uuid=connector_uuid, kind=ConnectorKind.REST).first()
    )
    if connector is None:
        raise ApiError(404, _("No REST connector with this id."))
    return connector


def _integrator(request: HttpRequest, connector_uuid: UUID) -> Connector:
    connector = _connector(connector_uuid)
    if not rest.token_matches(connector=connector, token=bearer_key(request)):
        raise ApiError(401, _("The token is not this connector's token."))
    token_rate_limit(f"rest:{connector.uuid}")
    if not connector.active:
        raise ApiError(403, _("This connector is switched off."))
    return connector


@api_view(methods=["POST"], staff=False)
def rest_messages(request: HttpRequest, connector_uuid: UUID) -> HttpResponse:
    connector = _integrator(request, connector_uuid)
    body = json_body(request)
    if "messages" not in body:
        result = rest_messages_ingest(connector=connector, items=[body])[0]
        if result.errors:
            raise ApiError(result.status, result.errors)
        data = result.as_json()
        del data["status"]
        return JsonResponse(data, status=result.status)
    if set(body) != {"messages"}:
        raise ApiError(400, {NON_FIELD: [_("A batch has only the key messages.")]})
    items = body["messages"]
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
        raise ApiError(400, {"messages": [_("Enter a list of 1 to %(n)d messages.") % {"n": MAX_BATCH}]})
    results = rest_messages_ingest(connector=connector, items=items)
    return JsonResponse({"results": [{"index": i, **r.as_json()} for i, r in enumerate(results)]})


@api_view(methods=["POST"], staff=False)
def rest_status(request: HttpRequest, connector_uuid: UUID) -> HttpResponse:
    connector = _integrator(request, connector_uuid)
    receipts = rest.receipts_parse(json_body(request))
    return JsonResponse({"results": rest_delivery_receipts_apply(connector=connector, receipts=receipts)})


def _managed(request: HttpRequest, connector_uuid: UUID, action: Action) -> Connector:
    """The connector if the staff member may see it (else 404) and do `action` with it (else 403)."""
    connector = _connector(connector_uuid)
    if not can(request.user, Area.CONNECTORS, Action.VIEW, connector):
        raise ApiError(404, _("No REST connector with this id."))
    if not can(request.user, Area.CONNECTORS, action, connector):
        raise ApiError(403, _("You may not change this connector."))
    return connector


def settings_json(request: HttpRequest, connector: Connector) -> dict[str, Any]:
    def url(name: str) -> str:
        return request.build_absolute_uri(reverse(f"connectors_api:{name}", args=[connector.uuid]))

    return {
        "connector_id": str(connector.uuid),
        "line_id": connector.line_id,
        "callback_url": connector.secrets.get(rest.CALLBACK_URL, ""),
        "token_set": connector.secret_is_set(rest.TOKEN_HASH),
        "messages_url": url("rest_messages"),
        "status_url": url("rest_status"),
    }


@api_view(methods=["GET", "PATCH"])
def rest_settings(request: HttpRequest, connector_uuid: UUID) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        return JsonResponse(settings_json(request, _managed(request, connector_uuid, Action.VIEW)))
    connector = _managed(request, connector_uuid, Action.MODIFY)
    data = json_fields(request, {"callback_url"})
    callback_url = data.get("callback_url", "")
    if not isinstance(callback_url, str):
        raise ApiError(400, {"callback_url": [_("Enter a URL.")]})
    rest_connector_callback_set(connector=connector, callback_url=callback_url)
    return JsonResponse(settings_json(request, connector))


@api_view(methods=["POST"])
def rest_credentials(request: HttpRequest, connector_uuid: UUID) -> HttpResponse:
    connector = _managed(request, connector_uuid, Action.MODIFY)
    json_fields(request, set())
    credentials = rest_connector_token_rotate(connector=connector)
    response = JsonResponse(
        {"token": credentials.token, "signing_secret": credentials.signing_secret}, status=201
    )
    response["Cache-Control"] = "no-store"
    return response


# --- OpenAPI ------------------------------------------------------------------------------------------------

security_scheme_register(
    "connectorToken",
    {
        "type": "http",
        "scheme": "bearer",
        "description": "The REST connector's token (from rest-credentials).",
    },
)


def _inbound_item_schema() -> dict[str, Any]:
    text = {"type": "string"}
    ident = {"type": ["string", "integer"], "maxLength": rest.MAX_ID_LENGTH}
    return {
        "type": "object",
        "description": "One client message; ids are your system's. `message.id` makes a replay harmless.",
        "properties": {
            "user": {
                "type": "object",
                "properties": {
                    "id": ident,
                    "name": {**text, "maxLength": rest.MAX_NAME_LENGTH},
                    "last_name": text,
                    "email": {**text, "format": "email"},
                    "phone": {**text, "maxLength": rest.MAX_PHONE_LENGTH},
                    "picture": {"type": "object", "properties": {"url": {**text, "format": "uri"}}},
                    "url": {**text, "format": "uri", "description": "The client's profile page."},
                },
                "required": ["id", "name"],
                "additionalProperties": False,
            },
            "chat": {
                "type": "object",
                "properties": {"id": ident, "name": text, "url": {**text, "format": "uri"}},
                "required": ["id"],
                "additionalProperties": False,
            },
            "message": {
                "type": "object",
                "properties": {
                    "id": ident,
                    "date": {
                        "type": ["integer", "number", "string"],
                        "description": "Unix seconds, or an ISO 8601 date and time (UTC if no offset).",
                    },
                    "text": {**text, "maxLength": 20000},
                    "files": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/FileByUrl"},
                        "maxItems": 10,
                    },
                    "rating": {
                        "type": "string",
                        "enum": ["like", "dislike"],
                        "description": "Instead of text: the client's rating of the conversation.",
                    },
                },
                "required": ["id", "date"],
                "additionalProperties": False,
            },
        },
        "required": ["user", "chat", "message"],
        "additionalProperties": False,
    }


_RESULT_PROPERTIES = {
    "session_id": {"type": "integer"},
    "message_id": {"type": "integer", "description": "Our id of the stored message."},
    "duplicate": {"type": "boolean", "description": "True for a replay: nothing was stored again."},
    "rating_refused": {"type": "string", "description": "Set when the time for rating had passed."},
}

component_register("RestInboundMessage", _inbound_item_schema)
component_register(
    "RestInboundBatch",
    lambda: {
        "type": "object",
        "properties": {
            "messages": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/RestInboundMessage"},
                "minItems": 1,
                "maxItems": MAX_BATCH,
            }
        },
        "required": ["messages"],
        "additionalProperties": False,
    },
)
component_register("RestInboundResult", lambda: {"type": "object", "properties": _RESULT_PROPERTIES})
component_register(
    "RestInboundBatchResult",
    lambda: {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "status": {"type": "integer", "enum": [200, 201, 400, 409]},
                        **_RESULT_PROPERTIES,
                        "errors": {
                            "type": "object",
                            "additionalProperties": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
            }
        },
    },
)


component_register(
    "RestReceipts",
    lambda: {
        "type": "object",
        "properties": {
            "messages": {
                "type": "array",
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer", "description": "Our message id (from the callback)."},
                        "status": {"type": "string", "enum": list(rest.RECEIPT_STATUSES)},
                    },
                    "required": ["id", "status"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["messages"],
        "additionalProperties": False,
    },
)
component_register(
    "RestReceiptResults",
    lambda: {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "result": {"type": "string", "enum": ["ok", "not_found"]},
                    },
                },
            }
        },
    },
)
component_register(
    "RestSettings",
    lambda: {
        "type": "object",
        "properties": {
            "connector_id": {"type": "string", "format": "uuid", "readOnly": True},
            "line_id": {"type": "integer", "readOnly": True},
            "callback_url": {
                "type": "string",
                "format": "uri",
                "description": "Where agent messages are POSTed.",
            },
            "token_set": {"type": "boolean", "readOnly": True},
            "messages_url": {"type": "string", "format": "uri", "readOnly": True},
            "status_url": {"type": "string", "format": "uri", "readOnly": True},
        },
    },
)
component_register(
    "RestSettingsUpdate",
    lambda: {
        "type": "object",
        "properties": {
            "callback_url": {"type": "string", "format": "uri", "description": "Empty to remove."}
        },
        "additionalProperties": False,
    },
)
component_register(
    "RestCredentials",
    lambda: {
        "type": "object",
        "description": "Shown once. The token authenticates your calls; the signing secret verifies ours.",
        "properties": {"token": {"type": "string"}, "signing_secret": {"type": "string"}},
    },
)

TAG = "REST connector"
_UUID = Parameter("connector_id", "path", {"type": "string", "format": "uuid"}, "The connector's public id.")
_INTEGRATOR = {
    401: ("Missing or wrong connector token.", "Errors"),
    403: ("The connector is switched off.", "Errors"),
    404: ("No REST connector with this id.", "Errors"),
}
_STAFF = {
    401: ("Not authenticated.", "Errors"),
    403: ("Not allowed, or CSRF token missing.", "Errors"),
    404: ("No REST connector you may see.", "Errors"),
}

operation_register(
    Operation(
        "POST",
        "/connectors/{connector_id}/messages/",
        "rest_connector_messages",
        "Send client messages into the line",
        TAG,
        description=(
            "One message (body `RestInboundMessage`, answered 201 when stored, 200 for a replay) or a batch "
            '`{"messages": [...]}` (body `RestInboundBatch`, answered 200 with a result per item in order). '
            "A rating (`message.rating`) no conversation waits for is refused with 409. Errors name "
            "the field path, e.g. `message.date` or `message.files[0].url`."
        ),
        parameters=(_UUID,),
        request_schema="RestInboundMessage",
        responses={
            201: ("Stored.", "RestInboundResult"),
            200: ("A replay (nothing stored), or the results of a batch.", "RestInboundBatchResult"),
            400: ("Invalid message.", "Errors"),
            409: ("A rating no conversation can take now.", "Errors"),
            **_INTEGRATOR,
        },
        security=("connectorToken",),
    )
)
operation_register(
    Operation(
        "POST",
        "/connectors/{connector_id}/status/",
        "rest_connector_status",
        "Report that the client received or read our messages",
        TAG,
        description="A status never moves backwards: `delivered` after `read` changes nothing.",
        parameters=(_UUID,),
        request_schema="RestReceipts",
        responses={
            200: ("One result per receipt.", "RestReceiptResults"),
            400: ("Invalid.", "Errors"),
            **_INTEGRATOR,
        },
        security=("connectorToken",),
    )
)
operation_register(
    Operation(
        "GET",
        "/connectors/{connector_id}/rest-settings/",
        "rest_connector_settings_read",
        "Read a REST connector's endpoints and callback URL",
        TAG,
        parameters=(_UUID,),
        responses={200: ("The settings.", "RestSettings"), **_STAFF},
    )
)
operation_register(
    Operation(
        "PATCH",
        "/connectors/{connector_id}/rest-settings/",
        "rest_connector_settings_update",
        "Set the callback URL",
        TAG,
        parameters=(_UUID,),
        request_schema="RestSettingsUpdate",
        responses={200: ("The settings.", "RestSettings"), 400: ("Not an http(s) URL.", "Errors"), **_STAFF},
    )
)
operation_register(
    Operation(
        "POST",
        "/connectors/{connector_id}/rest-credentials/",
        "rest_connector_credentials_create",
        "Create or replace the token and signing secret",
        TAG,
        description="The old token and secret stop working at once. They are shown in this answer only.",
        parameters=(_UUID,),
        responses={201: ("The new credentials.", "RestCredentials"), **_STAFF},
    )
)
