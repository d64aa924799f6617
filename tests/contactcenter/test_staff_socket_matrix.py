"""Permission matrix of the staff websocket `/ws/staff/`, through the real ASGI application.

Who may connect (staff only), and whose conversations a staff member may follow ("watch"), read after a
reconnect ("resync") or type into, at each history level: none / own / department / any, on their own,
a department colleague's and a stranger's conversation.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from contactcenter.asgi import application
from openlines.services.events import event_publish
from openlines.session_models import Session
from tests.access_helpers import department, drop_default_assignments, fast_passwords, grant, make_line  # noqa: F401
from tests.kpi.factories import make_session
from tests.socket_events import EXPECTED_WITHIN_SECONDS, drain

pytestmark = pytest.mark.django_db(transaction=True)

OWNERS = ("mine", "colleague's", "stranger's")
REACH = {
    "none": {"mine"},  # their own conversation is always theirs to see
    "own": {"mine"},
    "department": {"mine", "colleague's"},
    "any": set(OWNERS),
}


def _cookie(username: str) -> bytes:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _socket(username: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if username is not None:
        headers.append((b"cookie", await database_sync_to_async(_cookie)(username)))
    return WebsocketCommunicator(application, "/ws/staff/", headers=headers)


@database_sync_to_async
def _world(make_user, history_level: str | None) -> dict[str, int]:
    drop_default_assignments()
    me = make_user("me", is_staff=True)
    colleague = make_user("colleague", is_staff=True)
    stranger = make_user("stranger", is_staff=True)
    department("Support", me, colleague)
    department("Sales", stranger)
    if history_level is not None:
        grant(me, history_view=history_level)
    ids = {}
    for owner, user in (("mine", me), ("colleague's", colleague), ("stranger's", stranger)):
        line = make_line(f"line {owner}", users=(user,))
        ids[owner] = make_session(line, status=40, closed=False, operator=user, source="rest").pk
    return ids


@database_sync_to_async
def _publish(session_id: int, text: str) -> int:
    session = Session.objects.get(pk=session_id)
    return event_publish(type="note", session=session, payload={"text": text})[0].pk


async def _connected(username: str) -> WebsocketCommunicator:
    ws = await _socket(username)
    connected, _code = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    return ws


async def _refused(ws: WebsocketCommunicator) -> None:
    """Accepted, then closed with 4401: the page can read the reason (a refusal before accept is 1006)."""
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_anonymous_socket_is_refused(db):
    await _refused(await _socket(None))


async def test_non_staff_user_is_refused_whatever_their_roles(make_user):
    @database_sync_to_async
    def outsider() -> None:
        user = make_user("outsider", is_staff=False)
        grant(user, history_view="any", join_perform="any", statistics_view="any")

    await outsider()
    await _refused(await _socket("outsider"))


@pytest.mark.parametrize("level", ["none", "own", "department", "any"])
async def test_watching_follows_the_history_level(make_user, level):
    sessions = await _world(make_user, level)
    ws = await _connected("me")
    for owner in ("colleague's", "stranger's"):
        await ws.send_json_to({"type": "watch", "session_id": sessions[owner]})
        answer = await ws.receive_json_from()
        allowed = owner in REACH[level]
        assert answer == (
            {"type": "watching", "session_id": sessions[owner]}
            if allowed
            else {"type": "error", "error": "forbidden", "session_id": sessions[owner]}
        )
    # Live events: only those of conversations the user may follow reach the socket.
    for owner in ("colleague's", "stranger's"):
        await _publish(sessions[owner], f"about {owner}")
    expected = {f"about {owner}" for owner in ("colleague's", "stranger's") if owner in REACH[level]}
    received = []
    while len(received) < len(expected):
        received.append((await ws.receive_json_from(timeout=EXPECTED_WITHIN_SECONDS))["text"])
    received += [event["text"] for event in await drain(ws)]
    assert set(received) == expected
    # A resync after a reconnect returns the same, never another agent's conversation out of reach.
    await ws.send_json_to({"type": "resync", "since": 0})
    resync = await ws.receive_json_from()
    assert {event.get("text") for event in resync["events"] if event["type"] == "note"} == set(received)
    await ws.disconnect()


async def test_own_conversation_events_arrive_without_watching(make_user):
    sessions = await _world(make_user, None)
    ws = await _connected("me")
    await _publish(sessions["mine"], "mine")
    await _publish(sessions["stranger's"], "not mine")
    assert (await ws.receive_json_from(timeout=EXPECTED_WITHIN_SECONDS))["text"] == "mine"
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


@pytest.mark.parametrize("level", ["own", "department", "any"])
async def test_typing_needs_being_in_the_conversation_not_just_seeing_it(make_user, level):
    sessions = await _world(make_user, level)
    ws = await _connected("me")
    await ws.send_json_to({"type": "typing", "session_id": sessions["colleague's"]})
    assert await ws.receive_json_from() == {
        "type": "error",
        "error": "forbidden",
        "session_id": sessions["colleague's"],
    }
    await ws.send_json_to({"type": "typing", "session_id": sessions["mine"]})
    assert await ws.receive_nothing(timeout=0.3)  # accepted: nothing to answer
    await ws.disconnect()


async def test_watching_an_unknown_or_malformed_session_is_an_error_not_a_crash(make_user):
    await _world(make_user, "any")
    ws = await _connected("me")
    for session_id in (10**30, -1, 0, "x", None, True, [1]):
        await ws.send_json_to({"type": "watch", "session_id": session_id})
        assert (await ws.receive_json_from())["type"] == "error"
    await ws.disconnect()
