"""The staff socket stops delivering when access ends, through the real socket and HTTP doors.

Logout and deactivation close the socket (4401, which the page reads as "signed out": accepted first, so
not the 1006 of a refused socket); a conversation transferred away or out of reach after a role change
stops reaching the socket that watches it, live and through resync. Hostile frames are answered, not
fatal.
"""

from __future__ import annotations

import json
import logging

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client as HttpClient

from contactcenter.asgi import application
from contactcenter.consumers import CLOSE_UNAUTHENTICATED
from contactcenter.models import RoleAssignment
from openlines.session_models import Session
from tests.access_helpers import drop_default_assignments, grant
from tests.socket_events import drain, message_new, receive_through

pytestmark = pytest.mark.django_db(transaction=True)


def _logged_in(user) -> HttpClient:
    http = HttpClient()
    http.force_login(user)
    return http


async def _socket(http: HttpClient) -> WebsocketCommunicator:
    cookie = f"sessionid={http.cookies['sessionid'].value}".encode()
    ws = WebsocketCommunicator(
        application,
        "/ws/staff/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)],
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    return ws


async def _closed_with(ws: WebsocketCommunicator, code: int) -> None:
    """Everything until the close, which must come with `code`."""
    for _ in range(50):
        output = await ws.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            assert output.get("code") == code
            return
    raise AssertionError("the socket was not closed")


def _post(http: HttpClient, url: str, body: dict | None = None):
    return http.post(url, data=json.dumps(body or {}), content_type="application/json")


@pytest.fixture
def line_of_agent1(make_line, agents):
    from contactcenter.models import Connector

    drop_default_assignments()  # nobody sees others' conversations through a role
    line = make_line(queue=[agents[0]], line_name="A")
    return Connector.objects.create(kind="rest", line=line, name="A")


async def test_anonymous_socket_is_accepted_then_closed_with_4401(db):
    ws = WebsocketCommunicator(application, "/ws/staff/", headers=[(b"origin", b"http://localhost")])
    connected, _ = await ws.connect()
    assert connected  # accepted, so the page can read the code
    await _closed_with(ws, CLOSE_UNAUTHENTICATED)


async def test_logout_closes_the_sockets_of_that_login_only(agents):
    here = await database_sync_to_async(_logged_in)(agents[0])
    elsewhere = await database_sync_to_async(_logged_in)(agents[0])
    ws, other = await _socket(here), await _socket(elsewhere)
    response = await database_sync_to_async(here.post)("/admin/logout/")
    assert response.status_code in (200, 302)
    await _closed_with(ws, CLOSE_UNAUTHENTICATED)
    # The other login of the same user keeps its socket.
    await other.send_json_to({"type": "heartbeat"})
    assert await other.receive_json_from() == {"type": "heartbeat.ack"}
    await other.disconnect()


async def test_a_socket_whose_session_ended_otherwise_closes_at_its_next_request(agents):
    http = await database_sync_to_async(_logged_in)(agents[0])
    ws = await _socket(http)

    def end_session() -> None:
        from django.contrib.sessions.models import Session as LoginSession

        LoginSession.objects.filter(session_key=http.cookies["sessionid"].value).delete()

    await database_sync_to_async(end_session)()  # expired and cleaned up, say: no signal
    await ws.send_json_to({"type": "resync", "since": 0})
    await _closed_with(ws, CLOSE_UNAUTHENTICATED)


async def test_a_password_change_elsewhere_closes_the_socket(agents):
    ws = await _socket(await database_sync_to_async(_logged_in)(agents[0]))

    def change_password() -> None:
        agents[0].set_password("a-new-secret-987")
        agents[0].save()

    await database_sync_to_async(change_password)()
    await _closed_with(ws, CLOSE_UNAUTHENTICATED)


@pytest.mark.parametrize("change", ["is_active", "is_staff"])
async def test_deactivation_or_losing_staff_status_closes_the_socket(agents, change):
    http = await database_sync_to_async(_logged_in)(agents[0])
    ws = await _socket(http)

    def deactivate() -> None:
        user = agents[0]
        setattr(user, change, False)
        user.save()

    await database_sync_to_async(deactivate)()
    await _closed_with(ws, CLOSE_UNAUTHENTICATED)


async def test_a_conversation_transferred_away_no_longer_reaches_the_socket_watching_it(
    agents, line_of_agent1, write
):
    agent1, agent2 = agents[0], agents[1]
    result = await database_sync_to_async(write)("Hello", who="alice", connector=line_of_agent1)
    session_id = result.session.pk
    http = await database_sync_to_async(_logged_in)(agent1)
    ws = await _socket(http)
    assert (
        await database_sync_to_async(_post)(http, f"/agent/api/sessions/{session_id}/answer/")
    ).status_code == 200
    # The workspace watches the open conversation.
    await ws.send_json_to({"type": "watch", "session_id": session_id})
    await receive_through(ws, lambda event: event["type"] == "watching")
    await database_sync_to_async(write)("Before", who="alice", connector=line_of_agent1)
    await receive_through(ws, message_new("Before"))
    moved = await database_sync_to_async(_post)(
        http, f"/agent/api/sessions/{session_id}/transfer/", {"user": agent2.pk}
    )
    assert moved.status_code == 200, moved.content
    transfer_events = await drain(ws)
    assert await database_sync_to_async(lambda: Session.objects.get(pk=session_id).operator_id)() == agent2.pk

    await database_sync_to_async(write)("Secret after the transfer", who="alice", connector=line_of_agent1)
    received = await drain(ws, quiet=1.0)
    assert not [e for e in received if e.get("type") == "message.new"], received
    # The transfer's own events tell the old agent (their own group); the watch ends on the first copy
    # that came through the conversation's group.
    assert {
        "type": "unwatched",
        "session_id": session_id,
        "reason": "forbidden",
    } in transfer_events + received
    # Nor through resync, from before the transfer.
    await ws.send_json_to({"type": "resync", "since": 0})
    resync = await receive_through(ws, lambda event: event["type"] == "resync")
    answer = next(e for e in resync if e["type"] == "resync")
    texts = [e["message"]["text"] for e in answer["events"] if e["type"] == "message.new"]
    assert "Secret after the transfer" not in texts
    await ws.disconnect()


async def test_a_supervisor_who_loses_the_role_stops_receiving_the_watched_conversation(
    agents, line_of_agent1, write, make_user
):
    def supervisor_with_role():
        user = make_user("supervisor", is_staff=True)
        grant(user, history_view="any")
        return user

    supervisor = await database_sync_to_async(supervisor_with_role)()
    result = await database_sync_to_async(write)("Hello", who="bob", connector=line_of_agent1)
    http = await database_sync_to_async(_logged_in)(supervisor)
    ws = await _socket(http)
    await ws.send_json_to({"type": "watch", "session_id": result.session.pk})
    assert await ws.receive_json_from() == {"type": "watching", "session_id": result.session.pk}
    await database_sync_to_async(write)("Seen while allowed", who="bob", connector=line_of_agent1)
    await receive_through(ws, message_new("Seen while allowed"))

    await database_sync_to_async(lambda: RoleAssignment.objects.filter(user=supervisor).delete())()
    await database_sync_to_async(write)("Not for you any more", who="bob", connector=line_of_agent1)
    received = await drain(ws, quiet=1.0)
    assert not [e for e in received if e.get("type") == "message.new"], received
    assert {"type": "unwatched", "session_id": result.session.pk, "reason": "forbidden"} in received
    await ws.send_json_to({"type": "resync", "since": 0})
    resync = await receive_through(ws, lambda event: event["type"] == "resync")
    assert next(e for e in resync if e["type"] == "resync")["events"] == []
    await ws.disconnect()


async def test_a_watched_conversation_is_checked_at_resync_too(agents, line_of_agent1, write, make_user):
    """The role goes while no event is pushed: the next resync leaves the conversation out."""

    def supervisor_with_role():
        user = make_user("supervisor", is_staff=True)
        grant(user, history_view="any")
        return user

    supervisor = await database_sync_to_async(supervisor_with_role)()
    result = await database_sync_to_async(write)("Hello", who="carol", connector=line_of_agent1)
    ws = await _socket(await database_sync_to_async(_logged_in)(supervisor))
    await ws.send_json_to({"type": "watch", "session_id": result.session.pk})
    assert (await ws.receive_json_from())["type"] == "watching"
    await ws.send_json_to({"type": "resync", "since": 0})
    allowed = await receive_through(ws, lambda event: event["type"] == "resync")
    answer = next(e for e in allowed if e["type"] == "resync")
    assert any(e["type"] == "message.new" for e in answer["events"])

    await database_sync_to_async(lambda: RoleAssignment.objects.filter(user=supervisor).delete())()
    await ws.send_json_to({"type": "resync", "since": 0})
    answer = await receive_through(ws, lambda event: event["type"] == "resync")
    assert {"type": "unwatched", "session_id": result.session.pk, "reason": "forbidden"} in answer
    assert next(e for e in answer if e["type"] == "resync")["events"] == []
    await ws.disconnect()


HOSTILE_FRAMES = [
    ("binary", {"bytes_data": b"\x00\x01"}),
    ("invalid JSON", {"text_data": "{not json"}),
    ("deeply nested", {"text_data": "[" * 100_000 + "]" * 100_000}),
    ("nested object", {"text_data": json.dumps({"type": "watch", "session_id": [[[[[[[[[[1]]]]]]]]]]})}),
    ("lone surrogate", {"text_data": '{"type": "typing", "session_id": "\\ud800"}'}),
    ("not an object", {"text_data": "[1, 2]"}),
    ("wrong types", {"text_data": json.dumps({"type": ["watch"], "session_id": {"a": 1}})}),
]


@pytest.mark.parametrize(("name", "frame"), HOSTILE_FRAMES, ids=[name for name, _ in HOSTILE_FRAMES])
async def test_a_hostile_frame_gets_an_error_frame_and_the_socket_stays(agents, caplog, name, frame):
    ws = await _socket(await database_sync_to_async(_logged_in)(agents[0]))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await ws.send_to(**frame)
        answer = await ws.receive_json_from(timeout=5)
    assert answer["type"] == "error"
    await ws.send_json_to({"type": "heartbeat"})
    assert await ws.receive_json_from() == {"type": "heartbeat.ack"}
    records = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("contactcenter")]
    assert len(records) <= 1 and all("\n" not in r.getMessage() and not r.exc_info for r in records)
    await ws.disconnect()


async def test_an_agent_removed_from_the_lines_queue_stops_receiving_the_offered_conversation(
    agents, line_of_agent1, write
):
    from openlines.models import QueueMember

    result = await database_sync_to_async(write)("Hello", who="dave", connector=line_of_agent1)
    session_id = result.session.pk
    ws = await _socket(await database_sync_to_async(_logged_in)(agents[0]))
    # The workspace shows the offered conversation, so it watches it.
    await ws.send_json_to({"type": "watch", "session_id": session_id})
    await receive_through(ws, lambda event: event["type"] == "watching")

    def leave_queue() -> None:
        QueueMember.objects.filter(user=agents[0]).delete()  # what the line form's queue does

    await database_sync_to_async(leave_queue)()
    await drain(ws)
    offers = await database_sync_to_async(lambda: list(Session.objects.get(pk=session_id).offers.all()))()
    assert offers == []
    await database_sync_to_async(write)("Are you there?", who="dave", connector=line_of_agent1)
    received = await drain(ws, quiet=1.0)
    assert not [e for e in received if e.get("type") == "message.new"], received
    await ws.send_json_to({"type": "resync", "since": 0})
    resync = await receive_through(ws, lambda event: event["type"] == "resync")
    answer = next(e for e in resync if e["type"] == "resync")
    texts = [e["message"]["text"] for e in answer["events"] if e["type"] == "message.new"]
    assert "Are you there?" not in texts
    await ws.disconnect()
