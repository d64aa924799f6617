"""What one message costs the database (issue 9), pinned so that it cannot creep back, and the widget's
rate limit, which must not cost the socket its message when the cache is down.

A visitor's further message over the widget socket: whether the line and its live chat still take
visitors (read afresh: a socket may outlive a disconnect, issue 16), the chat (found and locked), the
session (locked, with whether its agent may still hold it), the message, its event, the KPI clock check,
the session's new state and its event, and, after the commit, who is to receive the events.
"""

from __future__ import annotations

import json
import uuid
from contextlib import AbstractContextManager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client as HttpClient

from contactcenter.asgi import application
from openlines.session_models import Message, Session, SessionDeadline
from tests.api.conftest import api_client, post
from tests.socket_events import message_new, receive_through

pytestmark = pytest.mark.django_db(transaction=True)

# Statements of one further visitor message while it waits for the agent, and once the agent replied.
VISITOR_WAITING = 9
# + the KPI clock the message starts and the close deadline of the agent's reply, removed.
VISITOR_AFTER_REPLY = 11
# An agent's further message through the sessions API, authentication and response included, and the
# message's delivery row, written with it (the transactional outbox).
AGENT_FOLLOW_UP = 17


def _limit(statements: int) -> int:
    # The transaction's BEGIN and COMMIT are counted too (on both databases).
    return statements + 2


async def _widget(code: str) -> WebsocketCommunicator:
    def start() -> dict[str, Any]:
        response = HttpClient().post(f"/livechat/{code}/session/", json.dumps({}), "application/json")
        return response.json()

    data = await database_sync_to_async(start)()
    ws = WebsocketCommunicator(application, f"/ws/livechat/{code}/?token={data['token']}")
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    return ws


async def _send(ws: WebsocketCommunicator, text: str) -> dict[str, Any]:
    """Send a message; its ack, once everything the socket received for it has been read."""
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": text})
    ack = None
    while ack is None or not await ws.receive_nothing(timeout=0.3):
        received = await ws.receive_json_from(timeout=5)
        if received["type"] == "ack":
            ack = received
    return ack


async def _counted(ws: WebsocketCommunicator, text: str, limit: AbstractContextManager[Any]) -> None:
    """Send `text` with the socket's database thread (where every call of the socket runs) counted."""
    await database_sync_to_async(limit.__enter__)()
    try:
        await _send(ws, text)
    finally:
        await database_sync_to_async(limit.__exit__)(None, None, None)


@pytest.fixture
def site(make_line, agents):
    return make_line(queue=agents[:1], code="site")


async def test_a_visitor_follow_up_costs_at_most_its_statements(
    site, agents, fresh_cache, django_assert_max_num_queries
):
    ws = await _widget("site")
    await _send(ws, "Hello")
    await _counted(ws, "Anyone there?", django_assert_max_num_queries(_limit(VISITOR_WAITING)))

    session = await database_sync_to_async(Session.objects.get)()
    http = await database_sync_to_async(api_client)(agents[0])
    await database_sync_to_async(post)(http, f"/api/v1/sessions/{session.pk}/answer/")
    response = await database_sync_to_async(post)(
        http, f"/api/v1/sessions/{session.pk}/messages/", {"text": "Hi!"}
    )
    assert response.status_code == 201
    # The agent's message, shaped for the widget before counting starts.
    await receive_through(ws, message_new("Hi!"))
    await _counted(ws, "My order is late", django_assert_max_num_queries(_limit(VISITOR_AFTER_REPLY)))
    await _counted(ws, "Order 42", django_assert_max_num_queries(_limit(VISITOR_WAITING)))
    texts = await database_sync_to_async(
        lambda: list(Message.objects.filter(author_type="client").values_list("text", flat=True))
    )()
    assert texts == ["Hello", "Anyone there?", "My order is late", "Order 42"]
    # The client waits for the agent: nothing closes the conversation meanwhile.
    kinds = await database_sync_to_async(
        lambda: list(SessionDeadline.objects.filter(session=session).values_list("kind", flat=True))
    )()
    assert "close" not in kinds
    await ws.disconnect()


def test_an_agent_follow_up_through_the_api_costs_at_most_its_statements(
    write, agents, django_assert_max_num_queries
):
    session = Session.objects.get(pk=write("Hi", who="client-1").session.pk)
    http = api_client(agents[0])
    assert post(http, f"/api/v1/sessions/{session.pk}/answer/").status_code == 200
    assert post(http, f"/api/v1/sessions/{session.pk}/messages/", {"text": "Hello"}).status_code == 201
    with django_assert_max_num_queries(_limit(AGENT_FOLLOW_UP)):
        response = post(http, f"/api/v1/sessions/{session.pk}/messages/", {"text": "Anything else?"})
    assert response.status_code == 201
    assert response.json()["author"] == {"id": agents[0].pk, "name": "Agent1"}
    assert response.json()["delivery"] == "pending"


async def test_the_widget_is_served_while_the_cache_holding_its_rate_limits_is_down(site, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    ws = await _widget("site")
    ack = await _send(ws, "Hello")
    assert await database_sync_to_async(Message.objects.filter(pk=ack["message_id"]).exists)()
    await ws.disconnect()
