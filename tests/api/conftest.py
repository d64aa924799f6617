"""Fixtures for the HTTP APIs: the engine's line, agents and client (tests/openlines/conftest.py), API
clients per user, a configured REST connector, and a recorder for its callbacks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx
import pytest
from django.test import Client

from contactcenter.background import run_pending_tasks
from contactcenter.connectors import rest
from contactcenter.services.api_tokens import api_token_create
from contactcenter.services.rest_connector import rest_connector_callback_set, rest_connector_token_rotate
from tests.access_helpers import drop_default_assignments
from tests.openlines.conftest import advance, agents, connector, line, make_line, reload, write  # noqa: F401

CALLBACK_URL = "https://integrator.example/cc-callback"


@pytest.fixture(autouse=True)
def _clean_slate(db):
    """No role given to everybody (tests grant what they need)."""
    drop_default_assignments()


def api_client(user) -> Client:
    _token, key = api_token_create(user=user, name="tests")
    return Client(headers={"authorization": f"Bearer {key}"})


@pytest.fixture
def api_for():
    return api_client


def post(client: Client, url: str, body=None, **headers):
    data = "" if body is None else json.dumps(body)
    return client.post(url, data, content_type="application/json", headers=headers)


def patch(client: Client, url: str, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


@dataclass
class Callbacks:
    """Requests our REST connector sent to the integrator; `replies` answers them in order (then 200)."""

    requests: list[httpx.Request] = field(default_factory=list)
    replies: list[httpx.Response | Exception] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.replies:
            reply = self.replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return reply
        return httpx.Response(200, json={"ok": True})

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]

    def texts(self) -> list[str]:
        return [body["message"]["text"] for body in self.bodies()]


@pytest.fixture
def callbacks(monkeypatch) -> Callbacks:
    recorder = Callbacks()
    monkeypatch.setattr(
        rest, "http_client_factory", lambda: httpx.Client(transport=httpx.MockTransport(recorder.handle))
    )
    return recorder


@dataclass
class Integrator:
    """The external system behind a REST connector, as it talks to us over HTTP."""

    connector: object
    token: str
    signing_secret: str
    http: Client

    @property
    def base(self) -> str:
        return f"/api/v1/connectors/{self.connector.uuid}"

    def send(
        self, text: str | None = "Hello", *, msg_id: str, user: str = "u-1", chat: str = "c-1", **message
    ):
        if text is not None:
            message["text"] = text
        body = {
            "user": {"id": user, "name": "Carla", "last_name": "Client"},
            "chat": {"id": chat},
            "message": {"id": msg_id, "date": 1773265993, **message},
        }
        return post(self.http, f"{self.base}/messages/", body, authorization=f"Bearer {self.token}")

    def post(self, path: str, body, token: str | None = None):
        return post(self.http, f"{self.base}/{path}", body, authorization=f"Bearer {token or self.token}")


@pytest.fixture
def integrator(connector) -> Integrator:  # noqa: F811
    credentials = rest_connector_token_rotate(connector=connector)
    rest_connector_callback_set(connector=connector, callback_url=CALLBACK_URL)
    return Integrator(connector, credentials.token, credentials.signing_secret, Client())


def deliver() -> int:
    """Run the queued background tasks (channel sends) as the worker would."""
    return run_pending_tasks()
