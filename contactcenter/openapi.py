"""OpenAPI 3.1 schema of the JSON API, built at request time from what the code declares.

API modules register their operations and the schemas of their bodies here. Body schemas are derived
from model fields (type, choices, length, null, default, validators) plus the extra limits the
validation module states, so the documentation cannot drift from what the API accepts. The schema is
served as JSON at /api/v1/schema/ and rendered as a readable page at /api/v1/docs/.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core import validators as dj_validators
from django.db import models
from django.db.models.fields import NOT_PROVIDED
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.encoding import force_str
from django.views.decorators.http import require_GET

from contactcenter.api import NON_FIELD

JsonSchema = dict[str, Any]

API_TITLE = "Contact center API"
API_VERSION = "1.0.0"


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "path" | "query"
    schema: JsonSchema
    description: str = ""
    required: bool = False

    def as_openapi(self) -> JsonSchema:
        return {
            "name": self.name,
            "in": self.location,
            "required": self.required or self.location == "path",
            "description": self.description,
            "schema": self.schema,
        }


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    description: str = ""
    parameters: tuple[Parameter, ...] = ()
    request_schema: str | None = None
    # status -> (description, component schema name or None)
    responses: Mapping[int, tuple[str, str | None]] = field(default_factory=dict)
    # Security scheme names when not the staff default (token or session), e.g. a connector's own token.
    security: tuple[str, ...] | None = None


_operations: list[Operation] = []
_components: dict[str, Callable[[], JsonSchema]] = {}
_security_schemes: dict[str, JsonSchema] = {}


def security_scheme_register(name: str, scheme: JsonSchema) -> None:
    """Declare an authentication scheme other than the staff ones, for operations that name it."""
    _security_schemes[name] = scheme


def operation_register(operation: Operation) -> None:
    if any(o.method == operation.method and o.path == operation.path for o in _operations):
        return
    _operations.append(operation)


def component_register(name: str, build: Callable[[], JsonSchema]) -> None:
    """Register a schema by name; `build` runs when the schema is served, after all apps are loaded."""
    _components[name] = build


def ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


# --- Schemas from model fields ------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_json_default(v) for v in value]
    return value


def model_field_schema(model_field: models.Field, *, extra: JsonSchema | None = None) -> JsonSchema:
    """The JSON schema of one model field as the API reads and writes it."""
    schema: JsonSchema
    if isinstance(model_field, models.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(model_field, models.ForeignKey):
        schema = {"type": "integer", "description": f"id of {model_field.related_model._meta.verbose_name}"}
    elif isinstance(model_field, models.ManyToManyField):
        schema = {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}
    elif isinstance(model_field, models.IntegerField):
        schema = {"type": "integer"}
        if isinstance(
            model_field,
            models.PositiveIntegerField | models.PositiveSmallIntegerField | models.PositiveBigIntegerField,
        ):
            schema["minimum"] = 0
    elif isinstance(model_field, models.DecimalField | models.FloatField):
        schema = {"type": "number"}
    elif isinstance(model_field, models.TimeField):
        schema = {"type": "string", "format": "time", "pattern": r"^\d{2}:\d{2}(:\d{2})?$"}
    elif isinstance(model_field, models.DateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(model_field, models.DateField):
        schema = {"type": "string", "format": "date"}
    elif isinstance(model_field, models.UUIDField):
        schema = {"type": "string", "format": "uuid"}
    elif isinstance(model_field, models.URLField):
        schema = {"type": "string", "format": "uri"}
    elif isinstance(model_field, models.EmailField):
        schema = {"type": "string", "format": "email"}
    elif isinstance(model_field, models.FileField):
        schema = {"type": "string", "format": "uri"}
    elif isinstance(model_field, models.JSONField):
        schema = {}
    else:
        schema = {"type": "string"}
    if getattr(model_field, "max_length", None) and schema.get("type") == "string":
        schema["maxLength"] = model_field.max_length
    # Only declared validators: the integer range Django adds per database backend is not an API rule.
    for validator in [*model_field.default_validators, *getattr(model_field, "_validators", [])]:
        if isinstance(validator, dj_validators.MinValueValidator):
            schema["minimum"] = max(schema.get("minimum", validator.limit_value), validator.limit_value)
        elif isinstance(validator, dj_validators.MaxValueValidator):
            schema["maximum"] = validator.limit_value
        elif isinstance(validator, dj_validators.MinLengthValidator):
            schema["minLength"] = validator.limit_value
    if model_field.choices and not isinstance(model_field, models.ForeignKey | models.ManyToManyField):
        values = [value for value, _label in model_field.flatchoices]
        schema["enum"] = values
        schema["x-enum-labels"] = {str(v): force_str(label) for v, label in model_field.flatchoices}
    if model_field.verbose_name:
        schema["title"] = force_str(model_field.verbose_name)
    if model_field.help_text:
        schema["description"] = force_str(model_field.help_text)
    if model_field.has_default() and not callable(model_field.default):
        schema["default"] = _json_default(model_field.default)
    elif model_field.default is NOT_PROVIDED and isinstance(model_field, models.BooleanField):
        schema["default"] = False
    if extra:
        schema.update(extra)
    if model_field.null and "type" in schema:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def model_object_schema(
    model: type[models.Model],
    *,
    fields: Iterable[str],
    read_only: Iterable[str] = (),
    extra: Mapping[str, JsonSchema] | None = None,
    additional: Mapping[str, JsonSchema] | None = None,
    required: Iterable[str] = (),
    description: str = "",
) -> JsonSchema:
    """An object schema whose properties are the named model fields (plus `additional` ones)."""
    extra = extra or {}
    read_only = set(read_only)
    properties: dict[str, JsonSchema] = {}
    for name in fields:
        model_field = model._meta.get_field(name)
        assert isinstance(model_field, models.Field)
        schema = model_field_schema(model_field, extra=extra.get(name))
        if name in read_only:
            schema["readOnly"] = True
        properties[name] = schema
    for name, schema in (additional or {}).items():
        properties[name] = schema
    result: JsonSchema = {"type": "object", "properties": properties, "additionalProperties": False}
    if description:
        result["description"] = description
    required = list(required)
    if required:
        result["required"] = required
    return result


ERRORS_SCHEMA: JsonSchema = {
    "type": "object",
    "description": f"Messages per field; `{NON_FIELD}` holds those that belong to no field.",
    "properties": {
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    },
    "required": ["errors"],
}


TOO_MANY_REQUESTS: JsonSchema = {
    "description": "Too many requests with this token (API_RATE_LIMIT_PER_MINUTE); retry after Retry-After.",
    "headers": {
        "Retry-After": {"description": "Seconds until the limit lifts.", "schema": {"type": "integer"}}
    },
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}},
}


# --- The document -------------------------------------------------------------------------------


def schema_build(*, server_url: str = "/api/v1") -> JsonSchema:
    paths: dict[str, dict[str, Any]] = {}
    for op in _operations:
        entry: JsonSchema = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [p.as_openapi() for p in op.parameters],
            "responses": {},
        }
        if op.description:
            entry["description"] = op.description
        if op.security is not None:
            entry["security"] = [{name: []} for name in op.security]
        if op.request_schema:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.request_schema)}},
            }
        for status, (text, component) in sorted(op.responses.items()):
            response: JsonSchema = {"description": text}
            if component:
                response["content"] = {"application/json": {"schema": ref(component)}}
            entry["responses"][str(status)] = response
        # Every API call is authenticated, and every token is rate limited (contactcenter.ratelimit).
        entry["responses"].setdefault("429", TOO_MANY_REQUESTS)
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    components = {name: build() for name, build in sorted(_components.items())}
    components.setdefault("Errors", ERRORS_SCHEMA)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": API_TITLE,
            "version": API_VERSION,
            "description": (
                "JSON API of the contact center. Authenticate with a personal API token "
                "(header Authorization: Bearer <key>) or with the staff session cookie plus the "
                'X-CSRFToken header on unsafe methods. Errors: {"errors": {field: [messages]}}.'
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer", "description": "A personal API token."},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                **_security_schemes,
            },
        },
        "security": [{"bearerToken": []}, {"session": []}],
    }


# --- Readable documentation ---------------------------------------------------------------------


def _resolve(schema: JsonSchema, components: Mapping[str, JsonSchema]) -> JsonSchema:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _type_text(schema: JsonSchema, components: Mapping[str, JsonSchema]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    kind = schema.get("type", "any")
    kinds = [kind] if isinstance(kind, str) else list(kind)
    text = " | ".join(kinds)
    if "array" in kinds and "items" in schema:
        text = text.replace("array", f"array of {_type_text(schema['items'], components)}")
    if schema.get("format"):
        text += f" ({schema['format']})"
    return text


def _constraints_text(schema: JsonSchema) -> list[str]:
    notes = []
    if "minimum" in schema and "maximum" in schema:
        notes.append(f"{schema['minimum']} … {schema['maximum']}")
    elif "minimum" in schema:
        notes.append(f"≥ {schema['minimum']}")
    elif "maximum" in schema:
        notes.append(f"≤ {schema['maximum']}")
    if "maxLength" in schema:
        notes.append(f"≤ {schema['maxLength']} chars")
    if "pattern" in schema:
        notes.append(f"pattern {schema['pattern']}")
    return notes


def _property_rows(schema: JsonSchema, components: Mapping[str, JsonSchema]) -> list[dict[str, Any]]:
    schema = _resolve(schema, components)
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        labels = prop.get("x-enum-labels", {})
        rows.append(
            {
                "name": name,
                "type": _type_text(prop, components),
                "required": name in required,
                "read_only": prop.get("readOnly", False),
                "title": prop.get("title", ""),
                "description": prop.get("description", ""),
                "enum": [{"value": v, "label": labels.get(str(v), "")} for v in prop.get("enum", [])],
                "constraints": _constraints_text(prop),
                "has_default": "default" in prop,
                "default": prop.get("default"),
            }
        )
    return rows


def docs_context(schema: JsonSchema) -> dict[str, Any]:
    """The schema flattened for the docs template: operations with their parameters and body fields."""
    components = schema["components"]["schemas"]
    operations = []
    for path, methods in schema["paths"].items():
        for method, entry in methods.items():
            body = entry.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            operations.append(
                {
                    "anchor": entry["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "summary": entry["summary"],
                    "description": entry.get("description", ""),
                    "parameters": entry["parameters"],
                    "body_name": _type_text(body, components) if body else "",
                    "responses": [
                        {
                            "status": status,
                            "description": response["description"],
                            "schema": _type_text(
                                response["content"]["application/json"]["schema"], components
                            )
                            if "content" in response
                            else "",
                        }
                        for status, response in entry["responses"].items()
                    ],
                }
            )
    schemas = [
        {"name": name, "description": s.get("description", ""), "rows": _property_rows(s, components)}
        for name, s in components.items()
    ]
    return {"info": schema["info"], "operations": operations, "schemas": schemas}


@require_GET
def schema_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse(schema_build(), json_dumps_params={"ensure_ascii": False, "indent": 1})


@require_GET
def docs_view(request: HttpRequest) -> HttpResponse:
    return render(request, "contactcenter/api_docs.html", docs_context(schema_build()))
