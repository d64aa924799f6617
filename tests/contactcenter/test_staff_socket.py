"""The staff websocket through the real ASGI application (auth middleware, origin check)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from contactcenter.asgi import application
from contactcenter.models import Presence

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(username: str) -> bytes:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(cookie: bytes | None = None, origin: bytes = b"http://localhost") -> WebsocketCommunicator:
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/staff/", headers=headers)


async def test_logged_in_agent_connects_and_is_online(agent):
    cookie = await database_sync_to_async(session_cookie)("agent")
    ws = communicator(cookie)
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from() == {
        "type": "hello",
        "user_id": agent.pk,
        "resync_lookback": 60,
        "resync_every": 30,
    }
    presence = await database_sync_to_async(Presence.objects.get)(user=agent)
    assert presence.connections == 1 and presence.last_seen is not None
    await ws.send_json_to({"type": "heartbeat"})
    assert await ws.receive_json_from() == {"type": "heartbeat.ack"}
    await ws.disconnect()
    presence = await database_sync_to_async(Presence.objects.get)(user=agent)
    assert presence.connections == 0 and presence.last_seen is None


async def test_anonymous_socket_is_refused():
    ws = communicator()
    connected, _ = await ws.connect()
    assert connected  # accepted, then closed with the reason the page can read (not 1006)
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_foreign_origin_is_refused(agent):
    cookie = await database_sync_to_async(session_cookie)("agent")
    ws = communicator(cookie, origin=b"https://evil.example")
    connected, _ = await ws.connect()
    assert not connected


async def test_unknown_message_gets_an_error_not_a_crash(agent):
    cookie = await database_sync_to_async(session_cookie)("agent")
    ws = communicator(cookie)
    await ws.connect()
    await ws.receive_json_from()
    await ws.send_json_to({"type": "nonsense"})
    assert (await ws.receive_json_from())["type"] == "error"
    await ws.send_to(text_data="[1, 2]")
    assert (await ws.receive_json_from())["type"] == "error"
    await ws.disconnect()
