"""The OpenAPI schema and the readable docs are served and follow the model and validation rules."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from openlines.models import OpenLine, Weekday
from openlines.validation import INT_CHOICES, INT_RANGES, setting_fields

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_schema_is_openapi_3_1_with_the_lines_endpoints(schema):
    assert schema["openapi"] == "3.1.0"
    assert set(schema["paths"]["/lines/"]) == {"get", "post"}
    assert set(schema["paths"]["/lines/{id}/"]) == {"get", "patch", "delete"}
    assert schema["servers"] == [{"url": "/api/v1"}]
    assert {"bearerToken", "session"} <= set(schema["components"]["securitySchemes"])


def test_every_setting_of_the_model_is_in_the_schema(schema):
    line = schema["components"]["schemas"]["OpenLine"]["properties"]
    update = schema["components"]["schemas"]["OpenLineUpdate"]["properties"]
    for field in setting_fields():
        assert field.name in line
        if not field.name.endswith("avatar"):
            assert field.name in update
    assert schema["components"]["schemas"]["OpenLineCreate"]["required"] == ["queue"]


def test_option_lists_and_ranges_come_from_the_validation_rules(schema):
    props = schema["components"]["schemas"]["OpenLineUpdate"]["properties"]
    for name, options in INT_CHOICES.items():
        assert props[name]["enum"] == options, name
    for name, (low, high) in INT_RANGES.items():
        assert (props[name]["minimum"], props[name]["maximum"]) == (low, high), name
    assert props["max_chat"]["maximum"] == 1000
    assert props["queue_type"]["enum"] == list(OpenLine.QueueType.values)
    assert props["worktime_dayoff"]["items"]["enum"] == list(Weekday.values)
    assert props["vote_message_1_text"]["maxLength"] == 100
    assert props["check_available"] == {**props["check_available"], "type": "boolean", "default": False}
    assert "queue_type is evenly or strictly" in props["queue_time"]["description"]


def test_queue_entries_and_errors_are_described(schema):
    entry = schema["components"]["schemas"]["QueueEntry"]
    assert entry["properties"]["type"]["enum"] == ["user", "department"]
    assert entry["required"] == ["type", "id"]
    errors = schema["components"]["schemas"]["Errors"]
    assert errors["required"] == ["errors"]
    assert schema["paths"]["/lines/"]["post"]["responses"]["400"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/Errors"}


def test_every_reference_in_the_schema_resolves(schema):
    text = str(schema)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in schema["components"]["schemas"]


def test_docs_page_renders_endpoints_fields_and_enums_from_the_schema_without_external_assets():
    response = Client().get("/api/v1/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "/lines/{id}/",
        "PATCH",
        "queue_time",
        "Exactly as enqueued",
        "full_close_time",
        "QueueEntry",
    ):
        assert text in page
    assert "/api/v1/schema/" in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(not s.startswith(("http:", "https:", "//")) for s in sources), sources
