"""JSON API for open lines: list, create, read, update (PATCH), delete — `/api/v1/lines/`.

Field names are the OpenLine field names; values are checked by `openlines.validation`, the module the
admin form uses, so the API accepts exactly what the form accepts. The queue is a list of
`{"type": "user"|"department", "id": int, "sort": int}` (plus the optional `exclude_heads`,
`display_name`, `work_position`), ordered by `sort`. Access follows the roles (`contactcenter.permissions`):
lists show the lines the caller may view; changing or deleting a line needs the modify level for it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.db import models
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _

from contactcenter.api import ApiError, api_user, api_view, json_body, page_from_request
from contactcenter.models import Connector
from contactcenter.openapi import (
    Operation,
    Parameter,
    component_register,
    model_field_schema,
    model_object_schema,
    operation_register,
    ref,
)
from contactcenter.permissions import Action, Area, can, permitted_queryset
from openlines.models import OpenLine, QueueMember, Weekday
from openlines.services.lines import line_create, line_delete, line_update
from openlines.validation import (
    INT_RANGES,
    QUEUE_KEY,
    UI_SWITCHES,
    VISIBILITY,
    parse_line_settings,
    setting_fields,
)

QUEUE_TYPES = ("user", "department")
READ_ONLY_FIELDS = ("id", "code", "created_at", "modified_at", "modified_by")
# Files are not uploaded through JSON; the API shows their URL only.
FILE_FIELDS = tuple(f.name for f in setting_fields() if isinstance(f, models.FileField))
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


# --- Output -------------------------------------------------------------------------------------


def _json_value(line: OpenLine, field: models.Field) -> Any:
    if isinstance(field, models.ManyToManyField):
        return sorted(user.pk for user in getattr(line, field.name).all())
    if isinstance(field, models.ForeignKey):
        return getattr(line, field.attname)
    if isinstance(field, models.FileField):
        file = getattr(line, field.name)
        return file.url if file else None
    value = getattr(line, field.attname)
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def queue_entry_json(member: QueueMember) -> dict[str, Any]:
    is_user = member.user_id is not None
    return {
        "type": "user" if is_user else "department",
        "id": member.user_id if is_user else member.department_id,
        "sort": member.sort,
        "exclude_heads": member.exclude_heads,
        "display_name": member.display_name,
        "work_position": member.work_position,
    }


def connector_json(connector: Connector) -> dict[str, Any]:
    """What the API tells about a connector; credentials are never part of it."""
    return {
        "id": str(connector.uuid),
        "kind": connector.kind,
        "name": connector.name,
        "account_id": connector.account_id,
        "active": connector.active,
    }


def line_json(line: OpenLine) -> dict[str, Any]:
    data: dict[str, Any] = {"id": line.pk, "code": line.code}
    for field in setting_fields():
        data[field.name] = _json_value(line, field)
    data[QUEUE_KEY] = [queue_entry_json(member) for member in line.queue.all()]
    data["connectors"] = [connector_json(c) for c in line.connectors.all()]
    data["created_at"] = line.created_at.isoformat()
    data["modified_at"] = line.modified_at.isoformat()
    data["modified_by"] = line.modified_by_id
    return data


def _lines() -> models.QuerySet[OpenLine]:
    m2m = [f.name for f in setting_fields() if isinstance(f, models.ManyToManyField)]
    return OpenLine.objects.prefetch_related("queue", "connectors", *m2m).order_by("id")


# --- Input --------------------------------------------------------------------------------------


def _queue_from_json(raw: Any) -> list[dict[str, Any]]:
    """The API's queue entries as `openlines.validation` reads them, in `sort` order."""
    message = _(
        'Enter the queue as a list of {"type": "user" or "department", "id": number, "sort": number}.'
    )
    if not isinstance(raw, list):
        raise ApiError(400, {QUEUE_KEY: [message]})
    keyed = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("type") not in QUEUE_TYPES:
            raise ApiError(400, {QUEUE_KEY: [message]})
        unknown = set(item) - {"type", "id", "sort", "exclude_heads", "display_name", "work_position"}
        if unknown:
            raise ApiError(
                400,
                {
                    QUEUE_KEY: [
                        _("Unknown queue entry keys: %(keys)s.") % {"keys": ", ".join(sorted(unknown))}
                    ]
                },
            )
        entity_id, sort = item.get("id"), item.get("sort", position)
        if not isinstance(entity_id, int) or isinstance(entity_id, bool):
            raise ApiError(400, {QUEUE_KEY: [_("Each queue entry needs a numeric id.")]})
        if not isinstance(sort, int) or isinstance(sort, bool):
            raise ApiError(400, {QUEUE_KEY: [_("The sort of a queue entry must be a whole number.")]})
        entry = {item["type"]: entity_id}
        for key in ("exclude_heads", "display_name", "work_position"):
            if key in item:
                entry[key] = item[key]
        keyed.append((sort, position, entry))
    return [entry for _sort, _position, entry in sorted(keyed, key=lambda k: (k[0], k[1]))]


def _settings_from_json(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body minus what the API shows but does not take (ids, audit fields, files, connectors)."""
    ignored = {*READ_ONLY_FIELDS, *FILE_FIELDS, "connectors"}
    data = {key: value for key, value in body.items() if key not in ignored}
    if QUEUE_KEY in data:
        data[QUEUE_KEY] = _queue_from_json(data[QUEUE_KEY])
    return data


def _parse_or_400(data: Mapping[str, Any], *, instance: OpenLine | None) -> tuple[dict[str, Any], Any]:
    values, errors = parse_line_settings(data, instance=instance)
    if errors:
        raise ApiError(400, errors)
    queue = values.pop(QUEUE_KEY, None)
    return values, queue


# --- Views --------------------------------------------------------------------------------------


def _line_for(request: HttpRequest, pk: int, action: Action) -> OpenLine:
    """The line, if the caller may see it (else 404) and perform `action` on it (else 403)."""
    line = get_object_or_404(_lines(), pk=pk)
    if not can(request.user, Area.LINES, Action.VIEW, line):
        raise ApiError(404, _("Not found."))
    if not can(request.user, Area.LINES, action, line):
        raise ApiError(403, _("You may not change this line."))
    return line


@api_view(methods=["GET", "POST"])
def lines_collection(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _line_create(request)
    if not can(request.user, Area.LINES, Action.VIEW):
        raise ApiError(403, _("You may not view open lines."))
    page = page_from_request(request, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT)
    lines = permitted_queryset(user=request.user, area=Area.LINES, action=Action.VIEW, queryset=_lines())
    results = [line_json(line) for line in lines[page.offset : page.offset + page.limit]]
    return JsonResponse(
        {"count": lines.count(), "limit": page.limit, "offset": page.offset, "results": results}
    )


def _line_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, Area.LINES, Action.MODIFY):
        raise ApiError(403, _("You may not create open lines."))
    data = _settings_from_json(json_body(request))
    if QUEUE_KEY not in data:
        data[QUEUE_KEY] = []  # so the queue rules report the missing queue next to the field
    values, queue = _parse_or_400(data, instance=None)
    line = line_create(values=values, queue=queue, by=api_user(request))
    response = JsonResponse(line_json(_lines().get(pk=line.pk)), status=201)
    response["Location"] = reverse("openlines_api:line_detail", args=[line.pk])
    return response


@api_view(methods=["GET", "PATCH", "DELETE"])
def line_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "GET" or request.method == "HEAD":
        return JsonResponse(line_json(_line_for(request, pk, Action.VIEW)))
    line = _line_for(request, pk, Action.MODIFY)
    if request.method == "DELETE":
        # As in the admin: deleting a line disconnects its channels, which needs the connectors right.
        if line.connectors.exists() and not can(request.user, Area.CONNECTORS, Action.MODIFY, line):
            raise ApiError(403, _("Deleting this line would disconnect its channels, which you may not do."))
        try:
            line_delete(line=line)
        except ProtectedError:
            raise ApiError(
                409,
                _(
                    "A line with conversation history cannot be deleted (history is never deleted with a "
                    "line); switch it off instead, or disconnect its channels."
                ),
            ) from None
        return HttpResponse(status=204)
    data = _settings_from_json(json_body(request))
    values, queue = _parse_or_400(data, instance=line)
    line_update(line=line, values=values, queue=queue, by=api_user(request))
    return JsonResponse(line_json(_lines().get(pk=line.pk)))


# --- OpenAPI ------------------------------------------------------------------------------------


def _applies_text(name: str) -> str:
    alternatives = VISIBILITY.get(name)
    if not alternatives:
        return ""
    described = [
        " and ".join(
            f"{field} is {' or '.join(str(v).lower() for v in allowed)}" for field, allowed in alt.items()
        )
        for alt in alternatives
    ]
    return "Applies when " + "; or when ".join(described) + "."


def _setting_extras() -> dict[str, dict[str, Any]]:
    extras: dict[str, dict[str, Any]] = {
        name: {"minimum": low, "maximum": high} for name, (low, high) in INT_RANGES.items()
    }
    extras["worktime_dayoff"] = {
        "type": "array",
        "items": {"type": "string", "enum": list(Weekday.values)},
        "uniqueItems": True,
    }
    extras["worktime_holidays"] = {
        "type": "array",
        "items": {"type": "string", "pattern": r"^\d{2}\.\d{2}$"},
        "description": "Dates in DD.MM format, repeating every year, e.g. 01.01, 25.12.",
    }
    extras["worktime_timezone"] = {"examples": ["Europe/Berlin"], "format": "IANA time zone"}
    extras["worktime_from"] = {"examples": ["09:00"]}
    extras["worktime_to"] = {"examples": ["18:30"]}
    return extras


def _queue_entry_schema() -> dict[str, Any]:
    member_fields = ["exclude_heads", "display_name", "work_position"]
    schema = model_object_schema(
        QueueMember,
        fields=member_fields,
        additional={
            "type": {"type": "string", "enum": list(QUEUE_TYPES), "title": "user or whole department"},
            "id": {"type": "integer", "title": "id of the user or department"},
            "sort": {"type": "integer", "title": "order in the queue (ascending)"},
        },
        required=["type", "id"],
        description="One queue entry; department members follow the department.",
    )
    schema["properties"] = {k: schema["properties"][k] for k in ["type", "id", "sort", *member_fields]}
    return schema


def _line_properties(*, for_output: bool) -> dict[str, Any]:
    extras = _setting_extras()
    properties: dict[str, Any] = {}
    if for_output:
        properties["id"] = {"type": "integer", "readOnly": True}
        properties["code"] = {**model_field_schema(OpenLine._meta.get_field("code")), "readOnly": True}
    for field in setting_fields():
        schema = model_field_schema(field, extra=extras.get(field.name))
        applies = _applies_text(field.name)
        if applies:
            schema["description"] = f"{schema.get('description', '')} {applies}".strip()
        if field.name in FILE_FIELDS:
            if not for_output:
                continue
            schema["readOnly"] = True
        properties[field.name] = schema
    if not for_output:
        for switch in UI_SWITCHES:
            properties[switch] = {
                "type": "boolean",
                "writeOnly": True,
                "description": {
                    "limit_max_chat": "Switch of the settings form: false sets max_chat to 0 (no limit); "
                    "true requires max_chat from 1 to 1000.",
                    "vote_enable_time_limit": "Switch of the settings form: false sets vote_time_limit to 0 "
                    "(no limit); true requires a limit.",
                }[switch]
                + " "
                + _applies_text(switch),
            }
    properties[QUEUE_KEY] = {"type": "array", "items": ref("QueueEntry"), "description": "The agent queue."}
    if for_output:
        properties["connectors"] = {"type": "array", "items": ref("Connector"), "readOnly": True}
        for name in ("created_at", "modified_at"):
            properties[name] = {"type": "string", "format": "date-time", "readOnly": True}
        properties["modified_by"] = {"type": ["integer", "null"], "readOnly": True, "title": "user id"}
    return properties


def _line_schema() -> dict[str, Any]:
    return {"type": "object", "properties": _line_properties(for_output=True), "description": "An open line."}


def _line_write_schema(*, required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": _line_properties(for_output=False),
        "additionalProperties": False,
        "required": required,
        "description": "Settings to set; on update, keys left out keep their values.",
    }


def _connector_schema() -> dict[str, Any]:
    schema = model_object_schema(
        Connector,
        fields=["kind", "name", "account_id", "active"],
        description="A channel connected to the line.",
    )
    schema["properties"] = {"id": {"type": "string", "format": "uuid"}, **schema["properties"]}
    return schema


def _page_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
            "results": {"type": "array", "items": ref("OpenLine")},
        },
    }


component_register("OpenLine", _line_schema)
component_register("OpenLineCreate", lambda: _line_write_schema(required=[QUEUE_KEY]))
component_register("OpenLineUpdate", lambda: _line_write_schema(required=[]))
component_register("QueueEntry", _queue_entry_schema)
component_register("Connector", _connector_schema)
component_register("OpenLinePage", _page_schema)

_ID = Parameter("id", "path", {"type": "integer"}, "The line's id.")
_COMMON = {401: ("Not authenticated.", "Errors"), 403: ("Not allowed, or CSRF token missing.", "Errors")}

operation_register(
    Operation(
        "GET",
        "/lines/",
        "lines_list",
        "List the open lines you may view",
        "Open lines",
        parameters=(
            Parameter(
                "limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}
            ),
            Parameter("offset", "query", {"type": "integer", "minimum": 0, "default": 0}),
        ),
        responses={200: ("A page of lines.", "OpenLinePage"), 400: ("Bad paging.", "Errors"), **_COMMON},
    )
)
operation_register(
    Operation(
        "POST",
        "/lines/",
        "lines_create",
        "Create an open line",
        "Open lines",
        description="Settings left out take their defaults; the texts come in the line's language; "
        'without a line_name the line is called "Open line", "Open line 2", ...',
        request_schema="OpenLineCreate",
        responses={201: ("The new line.", "OpenLine"), 400: ("Invalid settings.", "Errors"), **_COMMON},
    )
)
operation_register(
    Operation(
        "GET",
        "/lines/{id}/",
        "lines_read",
        "Read an open line",
        "Open lines",
        parameters=(_ID,),
        responses={200: ("The line.", "OpenLine"), 404: ("No such line you may view.", "Errors"), **_COMMON},
    )
)
operation_register(
    Operation(
        "PATCH",
        "/lines/{id}/",
        "lines_update",
        "Change settings of an open line",
        "Open lines",
        description="Only the keys given change; the rules are checked against the resulting settings. "
        "A queue given replaces the whole queue.",
        parameters=(_ID,),
        request_schema="OpenLineUpdate",
        responses={
            200: ("The changed line.", "OpenLine"),
            400: ("Invalid settings.", "Errors"),
            404: ("No such line you may view.", "Errors"),
            **_COMMON,
        },
    )
)
operation_register(
    Operation(
        "DELETE",
        "/lines/{id}/",
        "lines_delete",
        "Delete an open line with its conversations",
        "Open lines",
        parameters=(_ID,),
        responses={204: ("Deleted.", None), 404: ("No such line you may view.", "Errors"), **_COMMON},
    )
)
