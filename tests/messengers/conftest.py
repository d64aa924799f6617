"""Messenger connectors wired into the product: a fake platform behind httpx.MockTransport, signed
webhook payloads per platform, and a runner for the background tasks the webhook and senders queue."""

from __future__ import annotations

import hashlib
import hmac
import json
import pydoc
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import contactcenter.connectors.adapters as adapters_module
from contactcenter.models import Connector
from tests.openlines.conftest import agents, line, make_line  # noqa: F401  (engine fixtures)

BOT_TOKEN = "123456:" + "A" * 35
APP_SECRET = "app-secret"
VIBER_TOKEN = "viber-token"


class FakePlatform:
    """Routes requests by (method, URL regex) to responses; unrouted requests fail the test."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.routes: list[tuple[str, re.Pattern[str], list[httpx.Response]]] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self._handle))

    def on(self, method: str, pattern: str, *responses: httpx.Response) -> FakePlatform:
        self.routes.append((method, re.compile(pattern), list(responses)))
        return self

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for method, pattern, responses in self.routes:
            if method == request.method and pattern.search(str(request.url)):
                return responses.pop(0) if len(responses) > 1 else responses[0]
        if is_profile_lookup(request):
            return no_profile()
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def sent(self, pattern: str) -> list[httpx.Request]:
        return [r for r in self.requests if re.search(pattern, str(r.url))]

    def calls(self) -> list[httpx.Request]:
        """Every request except the profile lookups a new Messenger or Instagram client causes."""
        return [r for r in self.requests if not is_profile_lookup(r)]


PROFILE_FIELDS = ("first_name,last_name,profile_pic", "name,username,profile_pic")


def is_profile_lookup(request: httpx.Request) -> bool:
    """The Messenger / Instagram profile lookup made after a new client's message."""
    return request.method == "GET" and request.url.params.get("fields") in PROFILE_FIELDS


def no_profile() -> httpx.Response:
    """Unless a test routes the lookup, Meta answers as it does for a user it will not describe."""
    return httpx.Response(
        400,
        json={
            "error": {
                "message": "No profile",
                "type": "OAuthException",
                "code": 100,
                "error_subcode": 2018218,
            }
        },
    )


def _offline(request: httpx.Request) -> httpx.Response:
    if is_profile_lookup(request):
        return no_profile()
    raise httpx.ConnectError("tests reach no real platform", request=request)


@pytest.fixture(autouse=True)
def offline_platforms(monkeypatch) -> None:
    """Tests that route no platform reach none: requests fail as without a network (never leave the host)."""
    monkeypatch.setattr(
        adapters_module, "_shared_client", httpx.Client(transport=httpx.MockTransport(_offline))
    )


def ok(body: Any = None, **kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {}, **kwargs)


@pytest.fixture
def platform(monkeypatch) -> FakePlatform:
    fake = FakePlatform()
    monkeypatch.setattr(adapters_module, "_shared_client", fake.client)
    return fake


@pytest.fixture
def tasks(monkeypatch):
    """Background tasks are recorded instead of queued; `tasks.run()` executes them (and what they queue)."""
    queued: list[tuple[str, tuple, dict]] = []

    def record(func: str, *args: Any, **kwargs: Any) -> None:
        queued.append((func, args, kwargs))

    monkeypatch.setattr("contactcenter.background.async_task", record)

    class Runner:
        def __init__(self) -> None:
            self.queued = queued

        def run(self) -> int:
            done = 0
            while queued:
                func, args, kwargs = queued.pop(0)
                target = pydoc.locate(func)
                assert callable(target), func
                target(*args, **kwargs)
                done += 1
            return done

    return Runner()


@pytest.fixture
def settle(tasks, django_capture_on_commit_callbacks) -> Callable[[Callable[[], Any]], Any]:
    """Run `fn`, its after-commit callbacks and every background task it causes; returns fn's result."""

    def settle(fn: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            result = fn()
        while True:
            with django_capture_on_commit_callbacks(execute=True):
                ran = tasks.run()
            if not ran:
                return result

    return settle


def make_connector(target_line, kind: str, **extra: Any) -> Connector:
    secrets: dict[str, str] = {
        "telegram": {"bot_token": BOT_TOKEN, "secret_token": "tg-secret"},
        "whatsapp": {
            "access_token": "wa-token",
            "app_secret": APP_SECRET,
            "verify_token": "wa-verify",
            "business_account_id": "waba-1",
        },
        "messenger": {
            "page_access_token": "page-token",
            "app_secret": APP_SECRET,
            "verify_token": "fb-verify",
        },
        "instagram": {"access_token": "ig-token", "app_secret": APP_SECRET, "verify_token": "ig-verify"},
        "viber": {"auth_token": VIBER_TOKEN},
    }[kind]
    account = {
        "telegram": "123456",
        "whatsapp": "1061",
        "messenger": "PAGE1",
        "instagram": "IG1",
        "viber": "vb",
    }[kind]
    return Connector.objects.create(
        kind=kind, line=target_line, name=f"{kind} channel", account_id=account, secrets=secrets, **extra
    )


@pytest.fixture
def channel(line):  # noqa: F811
    def make(kind: str, **extra: Any) -> Connector:
        return make_connector(line, kind, **extra)

    return make


def url_of(connector: Connector) -> str:
    return f"/connectors/{connector.kind}/{connector.uuid}/"


def meta_signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_headers(connector: Connector, body: bytes) -> dict[str, str]:
    """The headers the platform would send with `body` for this channel."""
    if connector.kind == "telegram":
        return {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": connector.secrets["secret_token"]}
    if connector.kind == "viber":
        signature = hmac.new(VIBER_TOKEN.encode(), body, hashlib.sha256).hexdigest()
        return {"HTTP_X_VIBER_CONTENT_SIGNATURE": signature}
    return {"HTTP_X_HUB_SIGNATURE_256": meta_signature(body)}


def post_webhook(client, connector: Connector, payload: Any, *, headers: dict[str, str] | None = None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(
        url_of(connector),
        data=body,
        content_type="application/json",
        **(signed_headers(connector, body) if headers is None else headers),
    )


# --- Payloads ------------------------------------------------------------------------------------


def now_s() -> int:
    """Payload timestamps are "now": the reply window counts from the client's message time."""
    return int(time.time())


def telegram_update(update_id: int, message: dict[str, Any] | None = None, **other: Any) -> dict[str, Any]:
    if message is not None:
        base = {
            "message_id": update_id,
            "from": {"id": 777, "is_bot": False, "first_name": "Tom"},
            "chat": {"id": 777, "type": "private", "first_name": "Tom"},
            "date": now_s(),
        }
        return {"update_id": update_id, "message": {**base, **message}}
    return {"update_id": update_id, **other}


def whatsapp_payload(*, messages: list[dict] = (), statuses: list[dict] = (), phone_id: str = "1061") -> dict:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_id},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Wanda"}, "wa_id": "4915112345"}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba-1", "changes": [{"field": "messages", "value": value}]}],
    }


def whatsapp_text(wamid: str, text: str = "Hello") -> dict:
    return {
        "from": "4915112345",
        "id": wamid,
        "timestamp": str(now_s()),
        "type": "text",
        "text": {"body": text},
    }


def page_payload(obj: str, page: str, items: list[dict]) -> dict:
    return {"object": obj, "entry": [{"id": page, "time": 1_700_000_000_000, "messaging": items}]}


def page_message(page: str, mid: str, text: str = "Hi", *, sender: str = "PSID1", **message: Any) -> dict:
    return {
        "sender": {"id": sender},
        "recipient": {"id": page},
        "timestamp": now_s() * 1000,
        "message": {"mid": mid, "text": text, **message},
    }


def viber_message(token: int, text: str = "Hi", **message: Any) -> dict:
    return {
        "event": "message",
        "timestamp": now_s() * 1000,
        "message_token": token,
        "sender": {"id": "vb-user==", "name": "Vera"},
        "message": {"type": "text", "text": text, **message},
    }


# --- Provisioning ---------------------------------------------------------------------------------


def provisioning_answer(request: httpx.Request) -> httpx.Response:
    """A platform that accepts every channel: token checks and webhook registration succeed."""
    url = str(request.url)
    if "api.telegram.org" in url:
        if url.endswith("/getMe"):
            bot_id = int(url.split("/bot", 1)[1].split(":", 1)[0])
            return ok(
                {"ok": True, "result": {"id": bot_id, "is_bot": True, "first_name": "Bot", "username": "b"}}
            )
        return ok({"ok": True, "result": True, "description": "Webhook was set"})
    if "chatapi.viber.com" in url:
        return ok({"status": 0, "status_message": "ok", "id": "pa:1", "name": "Viber bot"})
    if "graph.instagram.com" in url and request.method == "GET":
        latest = Connector.objects.filter(kind="instagram").order_by("-id").first()
        return ok({"user_id": latest.account_id if latest else "", "username": "shop"})
    if request.method == "GET":
        return ok({"id": "x", "name": "Shop", "verified_name": "Shop", "display_phone_number": "+1 555"})
    return ok({"success": True})


@pytest.fixture
def accepting_platform(monkeypatch, settings):
    """Every platform accepts the channels connected in the test; webhooks are public over HTTPS."""
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return provisioning_answer(request)

    settings.CONNECTORS_PUBLIC_URL = "https://cc.example"
    monkeypatch.setattr(
        adapters_module, "_shared_client", httpx.Client(transport=httpx.MockTransport(handle))
    )
    return requests
