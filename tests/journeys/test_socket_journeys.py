"""Journeys through the sockets: a live chat visitor (`/livechat/<code>/session/` + `/ws/livechat/<code>/`)
and agents on the staff socket (`/ws/staff/`), with the sessions API and the clock between them.
Rule book §1.2 (agent information), §1.6 (welcome, close text), §1.7 / §5 (widget rating), §4.2 / §4.3 (who
is offered the enquiry, forwarding), §2.4 (answer)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.journeys.conftest import Api, configure, staff_socket_open, widget_open, widget_say

pytestmark = pytest.mark.django_db(transaction=True)


def is_type(kind: str):
    return lambda event: event.get("type") == kind


def new_message(prefix: str):
    return lambda event: event.get("type") == "message.new" and event["message"]["text"].startswith(prefix)


def _in_thread(func, *args: Any, **kwargs: Any):
    return sync_to_async(func, thread_sensitive=True)(*args, **kwargs)


@pytest.fixture
def site_line(line):
    configure(line, vote_message=True, close_rule="text", full_close_time=10, operator_data="profile")
    return line


async def test_a_visitor_talks_to_an_agent_and_rates_through_the_widget(site_line, agents):
    """The whole conversation as the visitor and the agent see it on their sockets."""
    ann = await staff_socket_open(agents[0])
    widget, data = await widget_open(site_line.code)
    assert data["config"]["title"] == "Support"

    ack = await widget_say(widget, "Hello, <b>is anyone there?</b>")
    welcome = await widget.expect(new_message("Hello! Thank you for contacting us"))
    assert welcome["message"]["author_type"] == "system"

    offer = await ann.expect(is_type("offer.new"))
    session_id = offer["session_id"]
    seen = await ann.expect(
        lambda e: e.get("type") == "message.new" and e["message"]["id"] == ack["message_id"]
    )
    assert seen["message"]["text"] == "Hello, <b>is anyone there?</b>"  # the text as typed; pages escape it

    api = await _in_thread(Api, agents[0])
    assert (await _in_thread(api.act, session_id, "answer")).status_code == 200
    await _in_thread(api.write, session_id, "Yes, Ann here")
    reply = await widget.expect(new_message("Yes, Ann here"))
    assert reply["message"]["author"]["name"].startswith("Agent1")  # §1.2 profile: the agent's name

    assert (await _in_thread(api.act, session_id, "close")).status_code == 200
    await widget.expect(is_type("rating.requested"))
    assert any(text.startswith("Thank you for reaching out") for text in widget.texts())

    await widget.send({"type": "rate", "vote": "like"})
    rated = await widget.expect(is_type("rating.received"))
    assert rated["vote"] == "like"
    detail = await _in_thread(api.session, session_id)
    assert detail["vote"] == "like"
    await widget.close()
    await ann.close()


async def test_hidden_agent_information_shows_the_lines_neutral_name(line, agents):
    """§1.2 OPERATOR_DATA=hide with DEFAULT_OPERATOR_DATA.NAME."""
    await _in_thread(configure, line, operator_data="hide", default_operator_name="Support team")
    widget, _data = await widget_open(line.code)
    await widget_say(widget, "Hi")
    api = await _in_thread(Api, agents[0])
    session_id = (await _in_thread(api.waiting))[0]
    await _in_thread(api.act, session_id, "answer")
    await _in_thread(api.write, session_id, "Hello from a person")
    reply = await widget.expect(new_message("Hello from a person"))
    assert reply["message"]["author"]["name"] == "Support team"
    assert "Agent1" not in str(reply)
    await widget.close()


async def test_agents_see_the_offer_move_when_the_idle_time_passes(line, agents, clock):
    """§4.3 on the staff socket: the first agent's offer is withdrawn, the next agent gets it."""
    await _in_thread(configure, line, queue_time=60)
    ann, bob = await staff_socket_open(agents[0]), await staff_socket_open(agents[1])
    widget, _data = await widget_open(line.code)
    await widget_say(widget, "Hello")
    offer = await ann.expect(is_type("offer.new"))
    await widget.expect(new_message("Hello! Thank you for contacting us"))
    await widget.settle()
    await _in_thread(clock.advance, 61)
    withdrawn = await ann.expect(lambda e: e.get("type") in ("offer.withdrawn", "session.lost"))
    assert withdrawn["session_id"] == offer["session_id"]
    moved = await bob.expect(is_type("offer.new"))
    assert moved["session_id"] == offer["session_id"]
    # The visitor is not told about the internal forwarding.
    assert not [e for e in await widget.settle() if e.get("type") == "message.new"]
    for socket in (ann, bob, widget):
        await socket.close()


async def test_to_everybody_all_agents_are_offered_and_the_others_lose_it_on_answer(line, agents):
    """§4.2 all, on the staff socket."""
    await _in_thread(configure, line, queue_type="all")
    sockets = [await staff_socket_open(user) for user in agents]
    widget, _data = await widget_open(line.code)
    await widget_say(widget, "Hello all")
    offers = [await socket.expect(is_type("offer.new")) for socket in sockets]
    session_id = offers[0]["session_id"]
    assert {offer["session_id"] for offer in offers} == {session_id}
    bob = await _in_thread(Api, agents[1])
    assert (await _in_thread(bob.act, session_id, "answer")).status_code == 200
    for index in (0, 2):
        lost = await sockets[index].expect(lambda e: e.get("type") in ("offer.withdrawn", "session.lost"))
        assert lost["session_id"] == session_id
    for socket in [*sockets, widget]:
        await socket.close()


async def test_typing_is_shown_both_ways(line, agents):
    """§1.6 WATCH_TYPING: the agent sees the visitor typing (with the text); the visitor sees only that the
    agent types (docs/sessions-api.md)."""
    await _in_thread(configure, line, watch_typing=True)
    ann = await staff_socket_open(agents[0])
    widget, _data = await widget_open(line.code)
    await widget_say(widget, "Hello")
    offer = await ann.expect(is_type("offer.new"))
    await widget.send({"type": "typing", "text": "my order num"})
    typing = await ann.expect(is_type("typing"))
    assert typing["session_id"] == offer["session_id"]
    api = await _in_thread(Api, agents[0])
    await _in_thread(api.act, offer["session_id"], "answer")
    assert (await _in_thread(api.post, f"/api/v1/sessions/{offer['session_id']}/typing/")).status_code == 204
    agent_typing = await widget.expect(is_type("typing"))
    assert agent_typing["by"] == "agent"
    for socket in (ann, widget):
        await socket.close()


async def test_a_waiting_visitor_is_told_their_place_in_the_queue(line, agents, make_user):
    """§4.6 nobody available: the visitor waits in the queue and is told their position."""
    await _in_thread(line.queue.exclude(user=agents[0]).delete)
    await _in_thread(configure, line, max_chat=1, limit_max_chat=True, type_max_chat="closed")
    first, _ = await widget_open(line.code)
    await widget_say(first, "Hello")
    second, _ = await widget_open(line.code)
    await widget_say(second, "Me too")
    position = await second.expect(is_type("queue.position"))
    assert position["position"] == 1
    for socket in (first, second):
        await socket.close()


async def test_with_check_available_an_offline_agent_is_skipped_until_they_open_the_workspace(
    line, agents, make_user
):
    """§4.4 without time tracking an agent must be online: opening the workspace (the staff socket) makes
    them available, and the client waiting for them is offered to them (§4.6 agent returns)."""
    newcomer = await _in_thread(make_user, "newcomer", first_name="New", is_staff=True)
    await _in_thread(
        configure, line, check_available=True, queue=[{"type": "user", "id": newcomer.pk, "sort": 1}]
    )
    widget, _data = await widget_open(line.code)
    await widget_say(widget, "Hello")
    api = await _in_thread(Api, newcomer)
    assert await _in_thread(api.waiting) == []
    socket = await staff_socket_open(newcomer)
    offer = await socket.expect(is_type("offer.new"))
    assert await _in_thread(api.waiting) == [offer["session_id"]]
    for door in (socket, widget):
        await door.close()
