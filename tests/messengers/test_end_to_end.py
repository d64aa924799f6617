"""End to end per platform: a webhook message reaches the agent's workspace socket, and the agent's answer
leaves as the platform's exact send request."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client as HttpClient

from contactcenter.asgi import application
from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import Message, Session
from tests.messengers.conftest import (
    make_connector,
    ok,
    page_message,
    page_payload,
    post_webhook,
    telegram_update,
    viber_message,
    whatsapp_payload,
    whatsapp_text,
)

pytestmark = pytest.mark.django_db(transaction=True)

TEXTS = {False: "Where is my order?", True: "Anyone there?"}

CASES = {
    "telegram": (
        lambda second=False: telegram_update(11 if second else 10, {"text": TEXTS[second]}),
        (
            "POST",
            r"/bot123456:A+/sendMessage$",
            {"ok": True, "result": {"message_id": 11, "chat": {"id": 777}}},
        ),
        {"chat_id": 777, "text": "On its way!", "parse_mode": "HTML"},
    ),
    "whatsapp": (
        lambda second=False: whatsapp_payload(messages=[whatsapp_text(f"wamid.e2e{second}", TEXTS[second])]),
        ("POST", r"graph\.facebook\.com/v[\d.]+/1061/messages$", {"messages": [{"id": "wamid.out"}]}),
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "4915112345",
            "type": "text",
            "text": {"body": "On its way!", "preview_url": False},
        },
    ),
    "messenger": (
        lambda second=False: page_payload(
            "page", "PAGE1", [page_message("PAGE1", f"m.e2e{second}", TEXTS[second])]
        ),
        (
            "POST",
            r"graph\.facebook\.com/v[\d.]+/PAGE1/messages$",
            {"recipient_id": "PSID1", "message_id": "m.out"},
        ),
        {"recipient": {"id": "PSID1"}, "messaging_type": "RESPONSE", "message": {"text": "On its way!"}},
    ),
    "instagram": (
        lambda second=False: page_payload(
            "instagram", "IG1", [page_message("IG1", f"ig.e{second}", TEXTS[second])]
        ),
        (
            "POST",
            r"graph\.instagram\.com/v[\d.]+/me/messages$",
            {"recipient_id": "PSID1", "message_id": "ig.out"},
        ),
        {"recipient": {"id": "PSID1"}, "message": {"text": "On its way!"}},
    ),
    "viber": (
        lambda second=False: viber_message(5361461199478174413 + second, TEXTS[second]),
        (
            "POST",
            r"chatapi\.viber\.com/pa/send_message$",
            {"status": 0, "status_message": "ok", "message_token": 99},
        ),
        {
            "receiver": "vb-user==",
            "min_api_version": 1,
            "sender": {"name": "viber channel"},
            "type": "text",
            "text": "On its way!",
        },
    ),
}


def session_cookie(user) -> bytes:
    http = HttpClient()
    http.force_login(user)
    return f"sessionid={http.cookies['sessionid'].value}".encode()


async def events_until(ws: WebsocketCommunicator, wanted: set[str], timeout: float = 5.0) -> dict[str, dict]:
    seen: dict[str, dict] = {}
    deadline = asyncio.get_running_loop().time() + timeout
    while not wanted <= set(seen):
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, f"only got {sorted(seen)}"
        frame = await ws.receive_json_from(timeout=remaining)
        if frame.get("type") in wanted and frame["type"] not in seen:
            seen[frame["type"]] = frame
    return seen


@pytest.mark.parametrize("kind", list(CASES))
async def test_webhook_message_reaches_the_agent_and_the_answer_leaves_as_the_platform_request(
    kind, make_line, agents, platform, tasks
):
    payload, (method, route, answer), expected = CASES[kind]
    agent = agents[0]

    def setup():
        line = make_line(queue=[agent])
        OpenLine.objects.filter(pk=line.pk).update(welcome_message=False, agreement_message=False)
        return make_connector(line, kind)

    connector = await database_sync_to_async(setup)()
    platform.on(method, route, ok(answer))
    cookie = await database_sync_to_async(session_cookie)(agent)
    ws = WebsocketCommunicator(
        application,
        "/ws/staff/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)],
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"

    http = HttpClient()
    response = await sync_to_async(post_webhook)(http, connector, payload())
    assert response.status_code == 200
    await sync_to_async(tasks.run)()

    offer = (await events_until(ws, {"offer.new"}))["offer.new"]
    session = await database_sync_to_async(Session.objects.get)(chat__client__connector=connector)
    assert offer["session_id"] == session.pk

    # The client writes again: the offered agent's workspace gets the message itself.
    response = await sync_to_async(post_webhook)(http, connector, payload(second=True))
    await sync_to_async(tasks.run)()
    message_new = (await events_until(ws, {"message.new"}))["message.new"]
    assert message_new["session_id"] == session.pk
    assert message_new["message"]["text"] == "Anyone there?"

    def answer_it():
        actions.session_answer(user=agent, session_id=session.pk)
        return actions.message_send(user=agent, session_id=session.pk, text="On its way!")

    message = await database_sync_to_async(answer_it)()
    await sync_to_async(tasks.run)()
    [request] = platform.calls()
    assert json.loads(request.content) == expected
    delivered = await database_sync_to_async(Message.objects.get)(pk=message.pk)
    assert delivered.delivery == "sent"
    await ws.disconnect()
    # The thread that ran the sync calls keeps its own connection; give it back before the db is dropped.
    await sync_to_async(connections.close_all)()
