"""The live chat widget's HTTP endpoints and socket, as the widget uses them."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client as HttpClient

from contactcenter.asgi import application
from contactcenter.models import Connector
from openlines.models import Agreement, OpenLine
from openlines.services import actions
from openlines.session_models import Client, Message, Session
from tests.conftest import use_fresh_cache_namespace
from tests.socket_events import drain, message_new, new_messages, receive_through

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_rate_limits(fresh_cache):
    yield


@pytest.fixture
def chat_line(make_line, agents):
    return make_line(queue=agents[:1], line_name="Website chat", vote_message=True, code="site")


def start(code: str, token: str | None = None) -> dict:
    response = HttpClient().post(
        f"/livechat/{code}/session/", data=json.dumps({"token": token}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == "*"
    return response.json()


async def widget(code: str, token: str) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(
        application, f"/ws/livechat/{code}/?token={token}", headers=[(b"origin", b"https://shop.example")]
    )
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from() == {"type": "hello", "resync_lookback": 60, "resync_every": 30}
    return ws


async def receive_until(ws: WebsocketCommunicator, kind: str, limit: int = 20) -> dict:
    for _ in range(limit):
        message = await ws.receive_json_from(timeout=3)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind}")


def test_session_gives_a_token_config_in_the_line_language_and_keeps_the_visitor(make_line):
    make_line(line_name="Podpora", code="cz")
    OpenLine.objects.filter(code="cz").update(language_id="cs")
    data = start("cz")
    assert data["config"]["title"] == "Podpora"
    assert data["config"]["strings"]["send"] == "Odeslat"
    assert data["state"]["history"] == []
    again = start("cz", data["token"])
    assert again["token"] == data["token"]
    assert Connector.objects.filter(line__code="cz", kind="livechat").count() == 1


def test_a_token_of_another_line_or_a_forged_one_gets_a_new_visitor(make_line):
    make_line(code="one", line_name="One")
    make_line(code="two", line_name="Two")
    token = start("one")["token"]
    assert start("two", token)["token"] != token
    assert start("one", token[:-2] + "xx")["token"] != token


def test_unknown_line_is_404_and_get_is_405(db):
    assert (
        HttpClient().post("/livechat/nope/session/", "{}", content_type="application/json").status_code == 404
    )
    assert HttpClient().get("/livechat/nope/session/").status_code == 405


def test_session_requests_are_rate_limited_per_ip(chat_line):
    codes = [
        HttpClient().post("/livechat/site/session/", "{}", content_type="application/json").status_code
        for _ in range(31)
    ]
    assert codes[:30] == [200] * 30
    assert codes[30] == 429


async def test_socket_refuses_a_forged_token(chat_line):
    ws = WebsocketCommunicator(application, "/ws/livechat/site/?token=forged")
    connected, _ = await ws.connect()
    # Accepted, then closed with the code the widget reads as "start a new conversation" (not 1006).
    assert connected
    assert await ws.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_visitor_message_reaches_the_agent_and_a_resend_is_stored_once(chat_line, agents):
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    client_id = uuid.uuid4().hex
    payload = {
        "type": "message",
        "client_id": client_id,
        "text": "Hello there",
        "url": "https://shop.example/p",
    }
    await ws.send_json_to(payload)
    ack = await receive_until(ws, "ack")
    await ws.send_json_to(payload)  # the offline queue resends after a reconnect
    again = await receive_until(ws, "ack")
    assert again["message_id"] == ack["message_id"]
    count = await database_sync_to_async(Message.objects.filter(author_type="client").count)()
    assert count == 1
    session = await database_sync_to_async(Session.objects.select_related("line").get)()
    assert session.extra_url == "https://shop.example/p"
    assert session.source == "livechat"

    # The agent answers; the widget receives it with the agent's identity, never internal messages.
    await database_sync_to_async(actions.session_answer)(user=agents[0], session_id=session.pk)
    await database_sync_to_async(actions.message_send)(user=agents[0], session_id=session.pk, text="Hi!")
    events = await receive_through(ws, message_new("Hi!"))
    news = [e for e in events if e["type"] == "message.new"]
    assert [m["message"]["text"] for m in news if m["message"]["author_type"] == "agent"] == ["Hi!"]
    agent_message = next(m["message"] for m in news if m["message"]["author_type"] == "agent")
    assert agent_message["author"]["name"] == "Agent1"
    assert "author_id" not in agent_message
    internal_texts = await database_sync_to_async(
        lambda: list(Message.objects.filter(internal=True).values_list("text", flat=True))
    )()
    assert internal_texts and not {m["message"]["text"] for m in news} & set(internal_texts)
    await ws.disconnect()

    # After a reload the history comes back with the same token.
    history = (await database_sync_to_async(start)("site", data["token"]))["state"]["history"]
    assert [m["text"] for m in history if m["author_type"] in ("client", "agent")] == ["Hello there", "Hi!"]
    assert history[0]["client_id"] == client_id


async def test_hidden_agent_information_shows_the_lines_neutral_identity(make_line, agents):
    await database_sync_to_async(make_line)(
        queue=agents[:1],
        code="hid",
        operator_data=OpenLine.OperatorData.HIDE,
        default_operator_name="Support team",
        default_operator_avatar="line-avatars/support-team.png",
    )
    data = await database_sync_to_async(start)("hid")
    ws = await widget("hid", data["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Hi"})
    await receive_until(ws, "ack")
    session = await database_sync_to_async(Session.objects.get)()
    await database_sync_to_async(actions.message_send)(user=agents[0], session_id=session.pk, text="Hello")
    news = new_messages(await receive_through(ws, message_new("Hello")))
    author = next(e["message"]["author"] for e in news if e["message"]["author_type"] == "agent")
    assert author["name"] == "Support team"
    assert author["avatar_url"].endswith("/line-avatars/support-team.png")
    await ws.disconnect()


async def test_consent_and_contact_form_are_saved_on_the_client(chat_line):
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "consent"})
    assert (await ws.receive_json_from())["type"] == "consent.ok"
    await ws.send_json_to({"type": "form", "name": "Eve", "email": "not-an-email", "phone": ""})
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["request"] == "form" and "email" in error["errors"]
    await ws.send_json_to(
        {"type": "form", "name": "Eve", "email": "eve@example.com", "phone": "+420 777 123 456"}
    )
    assert (await ws.receive_json_from())["type"] == "form.ok"
    client = await database_sync_to_async(Client.objects.get)()
    assert client.consent_at is not None
    assert (client.name, client.email, client.phone) == ("Eve", "eve@example.com", "+420 777 123 456")
    state = (await database_sync_to_async(start)("site", data["token"]))["state"]
    assert state["consent_given"] and state["form_filled"]
    await ws.disconnect()


def test_consent_notice_is_in_the_config_when_the_line_asks_for_it(make_line):
    agreement = Agreement.objects.create(title="Privacy", text="We keep your data safe.")
    make_line(code="gdpr", agreement_message=True, agreement=agreement)
    assert start("gdpr")["config"]["consent"] == {"title": "Privacy", "text": "We keep your data safe."}


async def test_visitor_rates_after_the_agent_closes(chat_line, agents):
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Help"})
    await receive_until(ws, "ack")
    session = await database_sync_to_async(Session.objects.get)()
    await database_sync_to_async(actions.message_send)(user=agents[0], session_id=session.pk, text="Done")
    await database_sync_to_async(actions.session_close)(user=agents[0], session_id=session.pk)
    await receive_until(ws, "rating.requested")
    await ws.send_json_to({"type": "rate", "vote": "like"})
    received = await receive_until(ws, "rating.received")
    assert received["vote"] == "like"
    session = await database_sync_to_async(Session.objects.get)(pk=session.pk)
    assert session.vote == 5
    await ws.send_json_to({"type": "rate", "vote": "meh"})
    assert "vote" in (await receive_until(ws, "error"))["errors"]
    await ws.disconnect()


async def test_widget_resync_returns_missed_client_events_only(chat_line, agents):
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "First"})
    await receive_until(ws, "ack")
    await drain(ws)
    await ws.disconnect()
    # A reloaded page resumes where its snapshot left off, holding the recent events the snapshot reflects.
    state = (await database_sync_to_async(start)("site", data["token"]))["state"]
    assert state["recent_event_ids"], "the first message's events are within the lookback window"
    session = await database_sync_to_async(Session.objects.get)()
    await database_sync_to_async(actions.message_send)(
        user=agents[0], session_id=session.pk, text="While away"
    )
    ws = await widget("site", data["token"])
    await ws.send_json_to(
        {"type": "resync", "since": state["last_event_id"], "have": state["recent_event_ids"]}
    )
    reply = await receive_until(ws, "resync")
    assert [e["message"]["text"] for e in reply["events"] if e["type"] == "message.new"] == ["While away"]
    assert all(e["type"] != "session.updated" for e in reply["events"])
    await ws.disconnect()


async def test_a_visitor_sending_too_fast_is_rate_limited(chat_line):
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    codes = []
    for n in range(17):
        await ws.send_json_to({"type": "message", "client_id": f"flood-{n:04d}", "text": f"m{n}"})
        reply = await receive_until(ws, "ack") if n < 15 else await receive_until(ws, "error")
        codes.append(reply.get("code", "ok"))
    assert codes[-1] == "rate_limited"
    assert await database_sync_to_async(Message.objects.filter(author_type="client").count)() == 15
    await ws.disconnect()


def test_uploaded_file_is_attached_and_served_safely(chat_line, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    data = start("site")
    page = SimpleUploadedFile("evil.html", b"<script>alert(1)</script>", content_type="text/html")
    response = HttpClient().post("/livechat/site/upload/", {"token": data["token"], "file": page})
    assert response.status_code == 201
    stored = response.json()
    download = HttpClient().get(stored["url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment")
    forged = HttpClient().post("/livechat/site/upload/", {"token": "forged", "file": page})
    assert forged.status_code == 403


def test_standalone_and_demo_pages_embed_the_widget(chat_line):
    standalone = HttpClient().get("/livechat/site/")
    assert standalone.status_code == 200
    assert b'data-line="site"' in standalone.content
    demo = HttpClient().get("/livechat/demo/?line=site")
    assert demo.status_code == 200
    assert b"/static/livechat/widget.js" in demo.content and b'data-line="site"' in demo.content


async def test_first_message_events_reach_the_widget_that_just_joined_its_chat(chat_line):
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    since = data["state"]["last_event_id"]
    await ws.send_json_to(
        {"type": "message", "client_id": uuid.uuid4().hex, "text": "First ever", "since": since}
    )
    await receive_until(ws, "ack")
    reply = await receive_until(ws, "resync")
    texts = [e["message"]["text"] for e in reply["events"] if e["type"] == "message.new"]
    assert "First ever" in texts
    assert any(e["message"]["author_type"] == "system" for e in reply["events"] if e["type"] == "message.new")
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "x", "since": "nope"})
    assert (await receive_until(ws, "ack"))["type"] == "ack"
    await ws.disconnect()


@pytest.mark.parametrize("watch_typing", [True, False])
async def test_agent_sees_that_the_client_is_typing_and_what_only_when_the_line_watches_typing(
    chat_line, agents, watch_typing
):
    from tests.openlines.test_staff_socket_workspace import staff_socket

    await database_sync_to_async(OpenLine.objects.filter(pk=chat_line.pk).update)(watch_typing=watch_typing)
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Hi"})
    await receive_until(ws, "ack")
    staff = await staff_socket(agents[0])
    await ws.send_json_to({"type": "typing", "text": "my order number is 12"})
    typing = await receive_until(staff, "typing")
    assert typing == {
        "id": None,
        "type": "typing",
        "session_id": typing["session_id"],
        "by": "client",
        "preview": "my order number is 12" if watch_typing else "",
    }
    await staff.disconnect()
    await ws.disconnect()


async def test_waiting_visitor_is_told_their_place_in_the_queue(make_line, make_user):
    offline = await database_sync_to_async(make_user)("offline-agent", is_staff=True)
    await database_sync_to_async(make_line)(queue=[offline], code="busy", check_available=True)
    positions = []
    sockets = []
    for _ in range(2):
        data = await database_sync_to_async(start)("busy")
        ws = await widget("busy", data["token"])
        sockets.append(ws)
        await ws.send_json_to(
            {
                "type": "message",
                "client_id": uuid.uuid4().hex,
                "text": "Anyone?",
                "since": data["state"]["last_event_id"],
            }
        )
        await receive_until(ws, "ack")
        reply = await receive_until(ws, "resync")
        positions.append([e["position"] for e in reply["events"] if e["type"] == "queue.position"])
    assert positions == [[1], [2]]
    for ws in sockets:
        await ws.disconnect()


async def test_queue_entry_identity_is_shown_when_the_line_uses_queue_entries(make_line, agents):
    from openlines.models import QueueMember

    line = await database_sync_to_async(make_line)(
        queue=agents[:1], code="qe", operator_data=OpenLine.OperatorData.QUEUE
    )
    await database_sync_to_async(QueueMember.objects.filter(line=line).update)(
        display_name="Alice from Support", work_position="Helper"
    )
    data = await database_sync_to_async(start)("qe")
    ws = await widget("qe", data["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Hi"})
    await receive_until(ws, "ack")
    session = await database_sync_to_async(Session.objects.get)()
    await database_sync_to_async(actions.message_send)(user=agents[0], session_id=session.pk, text="Hello")
    news = new_messages(await receive_through(ws, message_new("Hello")))
    author = next(e["message"]["author"] for e in news if e["message"]["author_type"] == "agent")
    assert author == {"name": "Alice from Support", "position": "Helper", "avatar_url": ""}
    await ws.disconnect()


async def test_rate_limits_follow_the_livechat_rate_limit_settings(chat_line, settings):
    settings.LIVECHAT_RATE_LIMIT_SESSIONS_PER_MINUTE = 2
    settings.LIVECHAT_RATE_LIMIT_MESSAGES_PER_10S = 3
    statuses = []
    for _ in range(3):
        response = await database_sync_to_async(HttpClient().post)(
            "/livechat/site/session/", "{}", content_type="application/json"
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 429]
    use_fresh_cache_namespace(settings)
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    codes = []
    for n in range(4):
        await ws.send_json_to({"type": "message", "client_id": f"quick-{n:04d}", "text": f"m{n}"})
        reply = await receive_until(ws, "ack") if n < 3 else await receive_until(ws, "error")
        codes.append(reply.get("code", "ok"))
    assert codes == ["ok", "ok", "ok", "rate_limited"]
    await ws.disconnect()


async def test_own_message_echo_carries_its_client_id_in_the_sending_tab_and_in_another_tab(chat_line):
    data = await database_sync_to_async(start)("site")
    first = await widget("site", data["token"])
    await first.send_json_to({"type": "message", "client_id": "opening-0001", "text": "Hello"})
    await receive_until(first, "ack")  # the opening message is not echoed: the chat group is joined now
    await drain(first)
    second = await widget("site", data["token"])  # the same visitor in another browser tab
    await first.send_json_to({"type": "message", "client_id": "follow-up-0002", "text": "Anyone?"})
    await receive_until(first, "ack")
    in_sender = new_messages(await receive_through(first, message_new("Anyone?")))
    in_other = new_messages(await receive_through(second, message_new("Anyone?")))
    for events in (in_sender, in_other):
        events = [e for e in events if e["message"]["author_type"] == "client"]
        assert [(e["message"]["text"], e["message"]["client_id"]) for e in events] == [
            ("Anyone?", "follow-up-0002")
        ]
        assert "external_id" not in events[0]["message"]
    await first.disconnect()
    await second.disconnect()


def _staff_cookie(user) -> bytes:
    http = HttpClient()
    http.force_login(user)
    return f"sessionid={http.cookies['sessionid'].value}".encode()


async def test_a_visitor_message_reaches_the_agent_socket_once_with_every_event_of_it_in_order(
    chat_line, agents
):
    cookie = await database_sync_to_async(_staff_cookie)(agents[0])
    agent = WebsocketCommunicator(
        application,
        "/ws/staff/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)],
    )
    assert (await agent.connect())[0]
    assert (await agent.receive_json_from())["type"] == "hello"
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "message", "client_id": "opening-0001", "text": "Hello"})
    await receive_until(ws, "ack")
    await drain(ws)
    before = [e for e in await receive_through(agent, message_new("Hello")) if e.get("id")]
    assert before, "the offer and the first message reach the agent"

    await ws.send_json_to({"type": "message", "client_id": "follow-up-0002", "text": "Anyone?"})
    await receive_until(ws, "ack")
    live = [e for e in await receive_through(agent, message_new("Anyone?")) if e.get("id")]
    session = await database_sync_to_async(Session.objects.get)()

    def stored_since(last: int) -> list[int]:
        from openlines.session_models import RealtimeEvent

        return list(
            RealtimeEvent.objects.filter(id__gt=last, session=session, user__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)
        )

    # Every stored conversation event of the message (the message and the session's new state), each
    # exactly once, oldest first: what a resync from the last id would return.
    assert [e["id"] for e in live] == await database_sync_to_async(stored_since)(before[-1]["id"])
    assert [e["message"]["text"] for e in live if e["type"] == "message.new"] == ["Anyone?"]
    assert any(e["type"] == "session.updated" for e in live)
    echoes = new_messages(await receive_through(ws, message_new("Anyone?")))
    assert [e["message"]["client_id"] for e in echoes] == ["follow-up-0002"]
    await agent.disconnect()
    await ws.disconnect()
