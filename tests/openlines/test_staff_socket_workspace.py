"""The staff socket as the workspace uses it: resync after a reconnect, watching conversations, typing."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client as HttpClient

from contactcenter.asgi import application
from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import RealtimeEvent, Session
from tests.socket_events import drain, message_new, of_type, receive_through

pytestmark = pytest.mark.django_db(transaction=True)


def _cookie(user) -> bytes:
    http = HttpClient()
    http.force_login(user)
    return f"sessionid={http.cookies['sessionid'].value}".encode()


async def staff_socket(user) -> WebsocketCommunicator:
    cookie = await database_sync_to_async(_cookie)(user)
    ws = WebsocketCommunicator(
        application,
        "/ws/staff/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)],
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    return ws


@pytest.fixture
def two_lines(make_line, agents, make_user):
    """Line A answered by agent1 only, line B by agent2 only (evenly, so each session has one owner)."""
    a = make_line(queue=[agents[0]], line_name="A")
    b = make_line(queue=[agents[1]], line_name="B")
    from contactcenter.models import Connector

    return (
        Connector.objects.create(kind="rest", line=a, name="A"),
        Connector.objects.create(kind="rest", line=b, name="B"),
    )


async def test_resync_after_reconnect_returns_exactly_the_missed_events(agents, two_lines, write):
    conn_a, conn_b = two_lines
    agent1 = agents[0]
    ws = await staff_socket(agent1)
    first = await database_sync_to_async(write)("Hello", who="alice", connector=conn_a)
    live = [e for e in await receive_through(ws, message_new("Hello")) if e.get("id")]
    assert any(e["type"] == "offer.new" for e in live) or any(e["type"] == "session.updated" for e in live)
    last_seen = max(e["id"] for e in live)
    await ws.disconnect()

    # While agent1 is away: alice writes again, and bob writes on the other agent's line.
    await database_sync_to_async(write)("Are you there?", who="alice", connector=conn_a)
    await database_sync_to_async(write)("Secret of bob", who="bob", connector=conn_b)

    ws = await staff_socket(agent1)
    await ws.send_json_to({"type": "resync", "since": last_seen, "have": [e["id"] for e in live]})
    reply = await ws.receive_json_from()
    assert reply["type"] == "resync"
    events = reply["events"]

    def expected_ids() -> list[int]:
        # Every event agent1 may see that the page does not hold: the ones after its cursor, and, within
        # the lookback window, the conversation-wide copy of its offer (pushed to it only as the copy
        # addressed to it, so never held).
        mine = RealtimeEvent.objects.filter(session_id=first.session.pk, user__isnull=True)
        addressed = RealtimeEvent.objects.filter(user=agent1)
        visible = set(mine.values_list("id", flat=True)) | set(addressed.values_list("id", flat=True))
        return sorted(visible - {e["id"] for e in live})

    assert [e["id"] for e in events] == await database_sync_to_async(expected_ids)()
    texts = [e["message"]["text"] for e in events if e["type"] == "message.new"]
    assert texts == ["Are you there?"]
    assert all(e["session_id"] == first.session.pk for e in events)
    await ws.disconnect()


async def test_resync_with_a_bad_since_is_an_error_not_a_crash(agents):
    ws = await staff_socket(agents[0])
    await ws.send_json_to({"type": "resync", "since": "yesterday"})
    assert (await ws.receive_json_from())["type"] == "error"
    await ws.disconnect()


async def test_agent_cannot_watch_another_agents_conversation(agents, two_lines, write):
    conn_a, _conn_b = two_lines
    result = await database_sync_to_async(write)("Private", who="alice", connector=conn_a)
    intruder = await staff_socket(agents[2])  # in no queue, no roles
    await intruder.send_json_to({"type": "watch", "session_id": result.session.pk})
    reply = await intruder.receive_json_from()
    assert reply == {"type": "error", "error": "forbidden", "session_id": result.session.pk}

    await database_sync_to_async(write)("Still private", who="alice", connector=conn_a)
    assert await drain(intruder) == []
    await intruder.send_json_to({"type": "resync", "since": 0})
    assert (await intruder.receive_json_from())["events"] == []
    await intruder.disconnect()


async def test_supervisor_with_join_permission_watches_and_receives_live_messages(
    agents, two_lines, write, admin_user
):
    conn_a, _conn_b = two_lines
    result = await database_sync_to_async(write)("Hi", who="alice", connector=conn_a)
    supervisor = await staff_socket(admin_user)
    await supervisor.send_json_to({"type": "watch", "session_id": result.session.pk})
    assert await supervisor.receive_json_from() == {"type": "watching", "session_id": result.session.pk}
    await database_sync_to_async(write)("Watched message", who="alice", connector=conn_a)
    events = await receive_through(supervisor, message_new("Watched message"))
    assert "Watched message" in [e["message"]["text"] for e in events if e["type"] == "message.new"]
    await supervisor.send_json_to({"type": "unwatch", "session_id": result.session.pk})
    assert (await supervisor.receive_json_from())["type"] == "unwatched"
    await database_sync_to_async(write)("After unwatch", who="alice", connector=conn_a)
    assert await drain(supervisor) == []
    await supervisor.disconnect()


async def test_a_participant_who_joined_receives_the_conversation_live_without_watching_it(
    agents, two_lines, write, admin_user
):
    conn_a, _conn_b = two_lines
    result = await database_sync_to_async(write)("Hi", who="alice", connector=conn_a)
    supervisor = await staff_socket(admin_user)
    await database_sync_to_async(actions.session_join)(user=admin_user, session_id=result.session.pk)
    await database_sync_to_async(write)("Can the supervisor read this?", who="alice", connector=conn_a)
    await receive_through(supervisor, message_new("Can the supervisor read this?"))
    await supervisor.disconnect()


async def test_agent_typing_reaches_the_clients_widget_group_only_for_own_conversation(
    agents, two_lines, write
):
    conn_a, _conn_b = two_lines
    result = await database_sync_to_async(write)("Hi", who="alice", connector=conn_a)
    owner, stranger = await staff_socket(agents[0]), await staff_socket(agents[2])
    await stranger.send_json_to({"type": "typing", "session_id": result.session.pk})
    assert (await stranger.receive_json_from())["error"] == "forbidden"
    await owner.send_json_to({"type": "typing", "session_id": result.session.pk})
    assert await owner.receive_nothing(timeout=0.2)
    await owner.disconnect()
    await stranger.disconnect()


async def test_to_everybody_offer_disappears_for_the_other_agent_when_taken(make_line, agents, write):
    line = await database_sync_to_async(make_line)(queue=agents[:2], queue_type=OpenLine.QueueType.ALL)
    from contactcenter.models import Connector

    conn = await database_sync_to_async(Connector.objects.create)(kind="rest", line=line, name="R")
    ws1, ws2 = await staff_socket(agents[0]), await staff_socket(agents[1])
    result = await database_sync_to_async(write)("Anyone?", who="carol", connector=conn)
    await receive_through(ws1, of_type("offer.new"))
    await receive_through(ws2, of_type("offer.new"))
    await database_sync_to_async(actions.session_answer)(user=agents[0], session_id=result.session.pk)
    await receive_through(ws2, of_type("offer.withdrawn"))
    session = await database_sync_to_async(Session.objects.get)(pk=result.session.pk)
    assert session.operator_id == agents[0].pk
    await ws1.disconnect()
    await ws2.disconnect()


async def test_two_tabs_of_the_same_agent_receive_the_same_events(agents, two_lines, write):
    conn_a, _conn_b = two_lines
    tab1, tab2 = await staff_socket(agents[0]), await staff_socket(agents[0])
    await database_sync_to_async(write)("Hello both tabs", who="alice", connector=conn_a)
    ids1 = [e["id"] for e in await receive_through(tab1, message_new("Hello both tabs")) if e.get("id")]
    ids2 = [e["id"] for e in await receive_through(tab2, message_new("Hello both tabs")) if e.get("id")]
    assert ids1 and ids1 == ids2
    await tab1.disconnect()
    await tab2.disconnect()
