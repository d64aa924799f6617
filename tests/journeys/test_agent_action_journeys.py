"""Journeys of the agents' actions (rule book §2.3, §2.4) and of recall (§4.6): skip, pin, spam, transfer
to a colleague or a line, removal from the queue, dismissal, a client writing to an agent who went away.
Clients use the REST connector; agents the sessions API and their status endpoint; the administrator the
lines API and the user admin."""

from __future__ import annotations

import pytest

from tests.journeys.conftest import admin_change, configure

pytestmark = pytest.mark.django_db(transaction=True)


def test_skip_passes_the_enquiry_on_and_the_only_agent_cannot_skip(line, integrator, agents, api):
    """§2.4 skip: to the next agent per the queue rules; alone in the queue the agent keeps it (409)."""
    a1, a2 = api(agents[0]), api(agents[1])
    session_id = integrator.say("Hello")["session_id"]
    assert a1.act(session_id, "skip").status_code == 200
    assert not a1.sees(session_id)
    assert a2.session(session_id)["status"] == 5
    assert any("rejected the conversation" in note for note in a2.notes(session_id))

    line.queue.exclude(user=agents[1]).delete()
    assert a2.act(session_id, "skip").status_code == 409
    assert a2.session(session_id)["operator"]["id"] == agents[1].pk


def test_a_pinned_conversation_is_not_forwarded_and_unpinning_restores_the_queue_time(
    line, integrator, agents, api, clock
):
    """§2.3 pause / pin: only the operator; not re-queued while pinned; unpin restores the queue rules."""
    configure(line, queue_time=60)
    a1, a2 = api(agents[0]), api(agents[1])
    session_id = integrator.say("Hello")["session_id"]
    assert a2.act(session_id, "pin").status_code == 404  # not theirs
    assert a1.act(session_id, "pin").status_code == 200
    clock.advance(3600)
    assert a1.session(session_id)["operator"]["id"] == agents[0].pk
    assert a1.act(session_id, "unpin").status_code == 200
    clock.advance(61)
    assert a2.session(session_id)["operator"]["id"] == agents[1].pk


def test_spam_closes_at_once_and_the_next_message_starts_a_new_conversation(
    line, integrator, agents, api, admin_user
):
    """§2.3 spam: STATUS 65, closed; no close text or rating request for the client."""
    configure(line, close_rule="text", vote_message=True)
    a1 = api(agents[0])
    session_id = integrator.say("Buy cheap stuff")["session_id"]
    closed = a1.act(session_id, "spam")
    assert closed.status_code == 200 and closed.json()["status"] == 65 and closed.json()["closed"]
    assert not [text for text in integrator.texts() if text.startswith("Please rate")]
    assert integrator.say("Hello?")["session_id"] != session_id


def test_transfer_to_a_colleague_and_to_another_line(line, make_line, integrator, agents, api, make_user):
    """§2.4 transfer: to a user (they hold it as accepted), or to a line's queue (routed by its rules)."""
    a1, a2 = api(agents[0]), api(agents[1])
    session_id = integrator.say("Hello")["session_id"]
    assert a1.act(session_id, "answer").status_code == 200
    assert a1.act(session_id, "transfer", {"user_id": agents[0].pk}).status_code in (400, 409)  # not to self
    moved = a1.act(session_id, "transfer", {"user_id": agents[1].pk})
    assert moved.status_code == 200 and moved.json()["operator"]["id"] == agents[1].pk
    assert moved.json()["status"] >= 10 and not moved.json()["wait_answer"]
    assert any("transferred the conversation" in note for note in a2.notes(session_id))

    specialist = make_user("specialist", first_name="Spec", is_staff=True)
    other = make_line(queue=[specialist], line_name="Billing")
    to_line = a2.act(session_id, "transfer", {"line_id": other.pk})
    assert to_line.status_code == 200, to_line.content
    detail = api(specialist).session(session_id)
    assert detail["line"]["id"] == other.pk and detail["operator"]["id"] == specialist.pk


def test_removing_an_agent_from_the_queue_returns_even_accepted_conversations(line, integrator, agents, api):
    """§4.6 REMOVING: the administrator replaces the queue; the removed agent's conversations go back."""
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    assert a1.act(session_id, "answer").status_code == 200
    configure(line, queue=[{"type": "user", "id": agents[1].pk, "sort": 1}])
    assert not a1.sees(session_id)
    assert api(agents[1]).session(session_id)["operator"]["id"] == agents[1].pk


def test_a_dismissed_agents_conversations_go_back_to_the_queue(line, integrator, agents, api, admin_user):
    """§4.4 / §4.6 DISMISSAL: deactivated in the user admin; unavailable whatever CHECK_AVAILABLE says."""
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    assert a1.act(session_id, "answer").status_code == 200
    a1.write(session_id, "Looking into it")
    admin = api(admin_user)
    user = agents[0]
    response = admin_change(admin.browser, f"/admin/auth/user/{user.pk}/change/", is_active=False)
    assert response.status_code == 302, response.content
    holder = admin.session(session_id)["operator"]
    assert holder is not None and holder["id"] != user.pk


def test_a_client_writing_to_an_agent_who_went_away_is_returned_to_the_queue(line, integrator, agents, api):
    """§2.3 / §4.6: the assigned agent is no longer available when the client writes: re-queued with a
    system message stating the reason."""
    configure(line, check_available=True)
    a1, a2 = api(agents[0]), api(agents[1])
    session_id = integrator.say("Hello")["session_id"]
    assert a1.act(session_id, "answer").status_code == 200
    a1.write(session_id, "One moment")
    assert a1.status("pause").status_code == 200
    integrator.say("Any news?")
    assert a2.session(session_id)["operator"]["id"] == agents[1].pk
    assert any("no agents are available" in note or "not available" in note for note in a2.notes(session_id))


def test_a_line_with_confirm_close_needs_the_agents_confirmation(line, integrator, agents, api):
    """§1.10 CONFIRM_CLOSE."""
    configure(line, confirm_close=True)
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    a1.act(session_id, "answer")
    assert a1.act(session_id, "close").status_code == 409
    assert a1.act(session_id, "close", {"confirm": True}).status_code == 200


def test_an_agent_starts_an_outgoing_conversation_with_a_known_client(line, integrator, agents, api):
    """§2.3 output sessions: started by the agent at STATUS 10 with the agent as operator; the client gets
    the agent's message."""
    configure(line, full_close_time=0, vote_message=False)
    a1 = api(agents[0])
    first = integrator.say("Hello")["session_id"]
    a1.act(first, "answer")
    a1.act(first, "close")
    chat_id = a1.session(first)["chat_id"]
    started = a1.post(f"/api/v1/chats/{chat_id}/sessions/")
    assert started.status_code == 201, started.content
    detail = started.json()
    assert detail["mode"] == "output" and detail["status"] == 10
    assert detail["operator"]["id"] == agents[0].pk
    a1.write(detail["id"], "Your order has arrived")
    assert "Your order has arrived" in integrator.texts()
