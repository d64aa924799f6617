"""Fuzz pass over the JSON API described by the OpenAPI schema (/api/v1/schema/): no 500, whatever is sent.

Schemathesis reads the schema the product serves and generates requests from it, valid ones and, in the
negative mode, ones that break it on purpose (wrong types, out of range, missing fields, extra fields).
They run in-process against Django's WSGI application, authenticated with a personal API token of a staff
member who holds every level, in a world with lines, connectors and conversations so that generated ids
meet real objects.

The default run keeps the example count small (a few seconds per operation); the long form is marked
slow: `pytest -m slow tests/contactcenter/test_fuzz_api.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.urls import get_resolver
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode

from contactcenter.models import Connector
from contactcenter.openapi import schema_build
from contactcenter.services.api_tokens import api_token_create
from contactcenter.services.rest_connector import rest_connector_token_rotate
from openlines.models import ChatBot
from openlines.session_models import Session
from tests.access_helpers import drop_default_assignments, fast_passwords, grant, grant_everything, make_line  # noqa: F401
from tests.kpi.factories import add_message, make_session

FAST = 12
LONG = 100


@pytest.fixture
def api_world(db, make_user) -> dict[str, Any]:
    drop_default_assignments()
    integrator = make_user("integrator", is_staff=True)
    agent = make_user("agent", is_staff=True)
    grant_everything(integrator)
    bot = ChatBot.objects.create(name="hook", kind=ChatBot.Kind.WEBHOOK, webhook_url="https://bot.example/")
    world: dict[str, Any] = {"lines": [], "sessions": [], "chats": [], "connectors": [], "bots": [bot.pk]}
    for n in range(3):
        line = make_line(f"line {n}", users=(agent, integrator))
        world["lines"].append(line.pk)
        for status, closed in ((0, False), (40, False), (60, True)):
            session = make_session(line, status=status, closed=closed, operator=agent if status else None)
            add_message(session, f"message in {session.pk}")
            world["sessions"].append(session.pk)
            world["chats"].append(session.chat_id)
        connector = Connector.objects.get(line=line, kind="rest")
        world["connectors"].append(str(connector.uuid))
    # One conversation is with the bot, so the bot API meets a session of its own.
    Session.objects.filter(pk=world["sessions"][0]).update(bot=bot)
    world["connector_token"] = rest_connector_token_rotate(
        connector=Connector.objects.get(uuid=world["connectors"][0])
    ).token
    world["bot_secret"] = bot.secret
    world["staff_token"] = api_token_create(user=integrator, name="fuzz")[1]
    return world


# Which objects a path parameter names, by the path's first segment and the parameter's name.
POOLS = {
    ("lines", "id"): "lines",
    ("sessions", "id"): "sessions",
    ("chats", "chat_id"): "chats",
    ("connectors", "connector_id"): "connectors",
    ("bots", "bot_id"): "bots",
    ("bots", "session_id"): "sessions",
}


def _aim(case: Any, world: dict[str, Any]) -> None:
    """Point three generated ids in four at existing objects, so requests get past the 404."""
    root = case.path.strip("/").split("/")[0]
    for name, value in list((case.path_parameters or {}).items()):
        pool = POOLS.get((root, name))
        if pool is None:
            continue
        seed = value if isinstance(value, int) and not isinstance(value, bool) else sum(map(ord, str(value)))
        if seed % 4:
            case.path_parameters[name] = world[pool][seed % len(world[pool])]


def _credentials(case: Any, world: dict[str, Any]) -> str:
    if case.path.startswith("/bots/"):
        return world["bot_secret"]
    if case.path.endswith(("/messages/", "/status/")) and case.path.startswith("/connectors/"):
        return world["connector_token"]
    return world["staff_token"]


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    # The WSGI handler closes "old" connections around each request; inside the test's transaction that
    # would close the test's own connection (Django's test client disconnects the signal the same way).
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)


# The schema as the product serves it, and requests sent in-process to the WSGI application.
get_resolver().resolve("/")  # importing the URLconf makes the API modules register their operations
schema = schemathesis.openapi.from_dict(schema_build())
schema.app = get_wsgi_application()
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


def _call(case: Any, api_world: dict[str, Any]) -> None:
    _aim(case, api_world)
    response = case.call(headers={"Authorization": f"Bearer {_credentials(case, api_world)}"})
    assert response.status_code < 500, (
        case.method,
        case.formatted_path,
        case.query,
        case.body,
        response.text[:500],
    )


@schema.parametrize()
@settings(
    max_examples=FAST,
    # Without the explicit examples of schemathesis' coverage phase (hundreds for the line body's
    # boundaries); the long form below runs them.
    phases=[Phase.generate],
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_api_never_answers_500(case, api_world):
    _call(case, api_world)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_never_answers_500_long(case, api_world):
    _call(case, api_world)


@pytest.mark.parametrize("url", ["/api/v1/lines/", "/api/v1/sessions/"])
def test_regression_an_offset_beyond_64_bits_is_400_not_500(api_world, url):
    from django.test import Client

    auth = {"authorization": f"Bearer {api_world['staff_token']}"}
    response = Client().get(url, {"offset": str(2**63)}, headers=auth)
    assert response.status_code == 400
    assert "offset" in response.json()["errors"]
    assert Client().get(url, {"offset": str(2**63 - 1)}, headers=auth).status_code == 200
