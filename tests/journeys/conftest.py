"""Door helpers for the journey tests: everything a journey does goes through a public door.

- `clock`: the engine's `timezone.now()` under the test's control; `clock.advance(s)` is the timer loop at
  that later moment (`run_due_timers`) followed by the background worker (`run_pending_tasks`, which
  delivers the REST connector's callbacks and e-mails).
- `integrator`: the external system behind a REST connector (`/api/v1/connectors/{uuid}/...`), with the
  callback recorder that stands for its endpoint (`integrator.received()`).
- `api`: per-user JSON API clients (`/api/v1/...` with a personal token, `/agent/api/...` with the login
  cookie).
- `widget_for` / `staff_socket_for` (async): the live chat widget (`/livechat/<code>/session/` and
  `/ws/livechat/<code>/`) and the staff socket (`/ws/staff/`).

Configuration (lines, queues, users, roles) is set up with the ORM or the lines API; no test calls engine
services to make something happen.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client as HttpClient
from django.utils import timezone

from contactcenter.asgi import application
from contactcenter.background import run_pending_tasks
from contactcenter.connectors import rest
from contactcenter.models import Connector
from contactcenter.services.api_tokens import api_token_create
from contactcenter.services.rest_connector import rest_connector_callback_set, rest_connector_token_rotate
from contactcenter.timers import run_due_timers
from tests.conftest import use_fresh_cache_namespace
from tests.openlines.conftest import agents, make_line  # noqa: F401
from tests.socket_events import EXPECTED_WITHIN_SECONDS, drain

CALLBACK_URL = "https://integrator.example/cc-callback"
# Monday 2 March 2026, 10:00 UTC: inside the usual working hours.
START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.fixture(autouse=True)
def _journey_defaults(settings):
    """A cache namespace of the test's own (rate-limit counters) and the test mail outbox."""
    use_fresh_cache_namespace(settings)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


class Clock:
    """`timezone.now()` during the test; `advance` is the timer loop and the worker at the later moment.

    Each reading moves it on by a microsecond: time never stands still (the embedded task queue only hands
    out a task queued strictly before "now"), and a test's own steps stay in order.
    """

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += TICK
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        run_due_timers(self.now)
        run_pending_tasks()


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    value = Clock(START)
    monkeypatch.setattr(timezone, "now", value)
    return value


# --- REST connector ---------------------------------------------------------------------------------


@dataclass
class Callbacks:
    """What our REST connector POSTed to the integrator's endpoint (always answered 200)."""

    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True})


@dataclass
class Integrator:
    """The external system behind a REST connector, as it talks to us over HTTP."""

    connector: Connector
    token: str
    callbacks: Callbacks
    clock: Clock
    http: HttpClient = field(default_factory=HttpClient)
    sent: int = 0

    @property
    def base(self) -> str:
        return f"/api/v1/connectors/{self.connector.uuid}"

    def send(self, *, user: str = "u-1", chat: str | None = None, name: str | None = None, **message: Any):
        """POST one client message; each client has a name of their own unless `name` is given (two
        clients sharing a display name is issue 17 item 6's case, not what a journey means by default)."""
        self.sent += 1
        body = {
            "user": {"id": user, "name": name or f"Client {user}", **message.pop("profile", {})},
            "chat": {"id": chat or f"chat-{user}"},
            "message": {"id": f"m-{self.sent}", "date": int(self.clock.now.timestamp()), **message},
        }
        response = self.http.post(
            f"{self.base}/messages/",
            json.dumps(body),
            content_type="application/json",
            headers={"authorization": f"Bearer {self.token}"},
        )
        run_pending_tasks()
        return response

    def say(self, text: str, *, user: str = "u-1", **kwargs: Any) -> dict[str, Any]:
        """The client writes; returns the 201 answer (`session_id`, `message_id`)."""
        response = self.send(user=user, text=text, **kwargs)
        assert response.status_code == 201, response.content
        return response.json()

    def rate(self, vote: str, *, user: str = "u-1", **kwargs: Any):
        return self.send(user=user, rating=vote, **kwargs)

    def received(self, *, user: str | None = None) -> list[dict[str, Any]]:
        """The callbacks' bodies, oldest first (only those for `user` when given)."""
        run_pending_tasks()
        bodies = [json.loads(r.content) for r in self.callbacks.requests]
        return [b for b in bodies if user is None or b["user"]["id"] == user]

    def texts(self, *, user: str | None = None) -> list[str]:
        return [b["message"]["text"] for b in self.received(user=user)]


@pytest.fixture
def callbacks(monkeypatch) -> Callbacks:
    recorder = Callbacks()
    monkeypatch.setattr(
        rest, "http_client_factory", lambda: httpx.Client(transport=httpx.MockTransport(recorder.handle))
    )
    return recorder


@pytest.fixture
def line(make_line):  # noqa: F811
    """Three available agents in an evenly distributed queue; no bots, CRM and automatic texts defaults."""
    return make_line()


@pytest.fixture
def integrator(line, callbacks, clock) -> Integrator:
    connector = Connector.objects.create(kind="rest", line=line, name="REST")
    credentials = rest_connector_token_rotate(connector=connector)
    rest_connector_callback_set(connector=connector, callback_url=CALLBACK_URL)
    return Integrator(connector, credentials.token, callbacks, clock)


# --- Staff HTTP ---------------------------------------------------------------------------------------


class Api:
    """One staff member at the JSON APIs: `/api/v1/` with a personal token, `/agent/api/` logged in."""

    def __init__(self, user: Any) -> None:
        self.user = user
        _token, key = api_token_create(user=user, name="journey")
        self.http = HttpClient(headers={"authorization": f"Bearer {key}"})
        self.browser = HttpClient(enforce_csrf_checks=False)
        self.browser.force_login(user)

    def get(self, url: str, params: dict[str, Any] | None = None):
        return self.http.get(url, params or {})

    def post(self, url: str, body: dict[str, Any] | None = None):
        response = self.http.post(url, json.dumps(body or {}), content_type="application/json")
        run_pending_tasks()
        return response

    def patch(self, url: str, body: dict[str, Any]):
        response = self.http.patch(url, json.dumps(body), content_type="application/json")
        run_pending_tasks()
        return response

    def session(self, session_id: int) -> dict[str, Any]:
        response = self.get(f"/api/v1/sessions/{session_id}/")
        assert response.status_code == 200, response.content
        return response.json()

    def sees(self, session_id: int) -> bool:
        return self.get(f"/api/v1/sessions/{session_id}/").status_code == 200

    def act(self, session_id: int, action: str, body: dict[str, Any] | None = None):
        return self.post(f"/api/v1/sessions/{session_id}/{action}/", body)

    def write(self, session_id: int, text: str) -> dict[str, Any]:
        response = self.post(f"/api/v1/sessions/{session_id}/messages/", {"text": text})
        assert response.status_code == 201, response.content
        return response.json()

    def messages(self, session_id: int) -> list[dict[str, Any]]:
        response = self.get(f"/api/v1/sessions/{session_id}/messages/", {"limit": 200})
        assert response.status_code == 200, response.content
        return response.json()["results"]

    def notes(self, session_id: int) -> list[str]:
        """The system notes agents see in the conversation."""
        return [m["text"] for m in self.messages(session_id) if m["author_type"] == "system"]

    def status(self, action: str):
        """The agent's own status in the workspace (`pause`, `resume`, `clock_in`, `clock_out`, ...)."""
        response = self.browser.post(
            "/agent/api/status/", json.dumps({"action": action}), content_type="application/json"
        )
        run_pending_tasks()
        return response

    def waiting(self) -> list[int]:
        """Ids of the conversations this agent sees waiting for an agent."""
        listing = self.get("/api/v1/sessions/", {"status_group": "waiting_agent", "closed": "false"})
        return [s["id"] for s in listing.json()["results"]]


@pytest.fixture
def api() -> Callable[[Any], Api]:
    return Api


def _form_post_data(form: Any) -> dict[str, Any]:
    """What a browser posts for a rendered Django form left as it is."""
    data: dict[str, Any] = {}
    for bound in form:
        if bound.field.disabled:
            continue
        value = bound.value()
        widget = bound.field.widget
        parts = (
            widget.decompress(value) if hasattr(widget, "widgets") and not isinstance(value, list) else None
        )
        if parts is not None:
            for index, part in enumerate(parts):
                if part is not None:
                    data[f"{bound.html_name}_{index}"] = str(part)
        elif value is True:
            data[bound.html_name] = "on"
        elif value is None or value is False:
            continue
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(getattr(item, "pk", item)) for item in value]
        else:
            data[bound.html_name] = str(getattr(value, "pk", value))
    return data


def admin_change(browser: HttpClient, url: str, **changes: Any):
    """An administrator opens an admin change page, changes some fields and saves (inlines as they are).
    A change to `False` unticks a checkbox."""
    page = browser.get(url)
    assert page.status_code == 200, page.status_code
    data = _form_post_data(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_post_data(formset.management_form))
        for form in formset.forms:
            data.update(_form_post_data(form))
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    response = browser.post(url, data)
    run_pending_tasks()
    return response


def configure(line: Any, **settings: Any) -> dict[str, Any]:
    """An administrator changes the line's settings through the lines API (the admin form's rules)."""
    admin = get_user_model().objects.filter(username="line-admin").first()
    if admin is None:
        admin = get_user_model().objects.create_superuser("line-admin", "line-admin@example.com", "pw-123456")
    response = Api(admin).patch(f"/api/v1/lines/{line.pk}/", settings)
    assert response.status_code == 200, response.content
    line.refresh_from_db()
    return response.json()


# --- Sockets (async tests) ------------------------------------------------------------------------------


class Socket:
    """A websocket door. Everything it received is kept in `events` (the events of a `resync` reply are
    unpacked in order); `expect` takes the first one it wants from those not taken yet, so nothing that
    arrived early (or in another order than the test reads them) is missed."""

    def __init__(self, ws: WebsocketCommunicator) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._pending: list[dict[str, Any]] = []

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_json_to(payload)

    def _keep(self, frame: dict[str, Any]) -> None:
        frames = [frame, *frame.get("events", [])] if frame.get("type") == "resync" else [frame]
        self.events += frames
        self._pending += frames

    def _take(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        for index, event in enumerate(self._pending):
            if wanted(event):
                del self._pending[index]
                return event
        return None

    async def expect(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The next event `wanted` accepts, received already or arriving within the waiting time."""
        while True:
            found = self._take(wanted)
            if found is not None:
                return found
            self._keep(await self.ws.receive_json_from(timeout=EXPECTED_WITHIN_SECONDS))

    async def settle(self) -> list[dict[str, Any]]:
        """What arrives until the socket is quiet (and was not consumed yet)."""
        for frame in await drain(self.ws):
            self._keep(frame)
        fresh, self._pending = self._pending, []
        return fresh

    def texts(self) -> list[str]:
        return [e["message"]["text"] for e in self.events if e.get("type") == "message.new"]

    async def close(self) -> None:
        await self.ws.disconnect()


def livechat_start(code: str, token: str | None = None) -> dict[str, Any]:
    response = HttpClient().post(
        f"/livechat/{code}/session/", json.dumps({"token": token}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


async def widget_open(code: str, token: str | None = None) -> tuple[Socket, dict[str, Any]]:
    """A visitor opens the widget on a page: the session endpoint, then the socket."""
    data = await database_sync_to_async(livechat_start)(code, token)
    ws = WebsocketCommunicator(
        application,
        f"/ws/livechat/{code}/?token={data['token']}",
        headers=[(b"origin", b"https://shop.example")],
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    return Socket(ws), data


async def widget_say(socket: Socket, text: str) -> dict[str, Any]:
    """The visitor sends a message; returns the ack."""
    client_id = uuid.uuid4().hex
    await socket.send({"type": "message", "client_id": client_id, "text": text, "since": 0})
    return await socket.expect(lambda e: e.get("type") == "ack" and e.get("client_id") == client_id)


def _login_cookie(user: Any) -> bytes:
    http = HttpClient()
    http.force_login(user)
    return f"sessionid={http.cookies['sessionid'].value}".encode()


async def staff_socket_open(user: Any) -> Socket:
    cookie = await database_sync_to_async(_login_cookie)(user)
    ws = WebsocketCommunicator(
        application,
        "/ws/staff/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)],
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    return Socket(ws)


def in_thread(func: Callable[..., Any]) -> Callable[..., Any]:
    """A door call (HTTP client, timer loop) from an async test: on the database thread, pushes included."""
    return database_sync_to_async(func)
