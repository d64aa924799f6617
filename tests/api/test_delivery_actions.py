"""While a send is retried the agent sees why and when it is tried next, live, and may retry it now or
cancel it: through the sessions API, the workspace's endpoints and the staff socket's events."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone

from contactcenter.models import OutboundDelivery
from contactcenter.timers import registered_timers
from openlines.session_models import Message, Session
from tests.access_helpers import grant
from tests.api.conftest import api_client, deliver, post
from tests.openlines.test_staff_socket_workspace import staff_socket
from tests.socket_events import receive_through

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(integrator, callbacks, agents) -> Session:
    """A REST client wrote; the welcome text went out; the conversation is offered to the first agent."""
    session = Session.objects.get(pk=integrator.send("Hi", msg_id="m1").json()["session_id"])
    deliver()
    callbacks.requests.clear()
    assert session.offers.filter(user=agents[0]).exists() or session.operator_id == agents[0].pk
    return session


def messages_url(session: Session, message_id: int | None = None, action: str = "") -> str:
    base = f"/api/v1/sessions/{session.pk}/messages/"
    return f"{base}{message_id}/{action}/" if message_id else base


def agent_sends(agents, session, text="How can I help?") -> int:
    response = post(api_client(agents[0]), messages_url(session), {"text": text})
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def as_shown(agents, session, message_id) -> dict:
    response = api_client(agents[0]).get(messages_url(session))
    assert response.status_code == 200
    [shown] = [m for m in response.json()["results"] if m["id"] == message_id]
    return shown


def sweep(now: datetime) -> int:
    return registered_timers()["outbound_deliveries"](now)


def test_a_retrying_message_shows_the_reason_the_attempts_and_the_next_try(
    integrator, callbacks, conversation, agents
):
    callbacks.replies.append(httpx.Response(503))
    message_id = agent_sends(agents, conversation)
    deliver()
    shown = as_shown(agents, conversation, message_id)
    assert shown["delivery"] == "pending" and shown["attempts"] == 1
    assert "HTTP 503" in shown["delivery_error"]
    wait = (datetime.fromisoformat(shown["next_attempt_at"]) - timezone.now()).total_seconds()
    assert 20 <= wait <= 37
    # Sent on the next attempt: the reason and the next try are gone.
    sweep(timezone.now() + timedelta(minutes=1))
    deliver()
    shown = as_shown(agents, conversation, message_id)
    assert shown["delivery"] == "sent" and shown["delivery_error"] == ""
    assert shown["next_attempt_at"] is None and shown["attempts"] == 2


def test_retry_now_sends_a_waiting_message_at_once(integrator, callbacks, conversation, agents):
    callbacks.replies.append(httpx.Response(503))
    message_id = agent_sends(agents, conversation)
    deliver()
    response = post(api_client(agents[0]), messages_url(conversation, message_id, "retry"))
    assert response.status_code == 200, response.content
    assert response.json()["delivery"] == "pending" and response.json()["id"] == message_id
    # Queued already: a second click while the attempt is under way is refused.
    again = post(api_client(agents[0]), messages_url(conversation, message_id, "retry"))
    assert again.status_code == 409 and "right now" in str(again.json())
    assert deliver() == 1
    assert len(callbacks.requests) == 2
    assert Message.objects.get(pk=message_id).delivery == "sent"
    # Sent: nothing to retry or cancel.
    for action in ("retry", "cancel"):
        assert post(api_client(agents[0]), messages_url(conversation, message_id, action)).status_code == 409
    assert sweep(timezone.now() + timedelta(hours=2)) == 0 and deliver() == 0
    assert len(callbacks.requests) == 2


def test_retry_of_a_failed_message_gives_it_a_fresh_schedule(integrator, callbacks, conversation, agents):
    callbacks.replies.append(httpx.Response(422, text="unknown chat"))
    message_id = agent_sends(agents, conversation)
    deliver()
    failed = as_shown(agents, conversation, message_id)
    assert failed["delivery"] == "failed" and "422" in failed["delivery_error"]
    callbacks.replies.append(httpx.Response(500))
    assert post(api_client(agents[0]), messages_url(conversation, message_id, "retry")).status_code == 200
    deliver()
    retrying = as_shown(agents, conversation, message_id)
    assert retrying["delivery"] == "pending" and retrying["attempts"] == 2
    # The first wait again (about 30 s), not the eighth.
    wait = (datetime.fromisoformat(retrying["next_attempt_at"]) - timezone.now()).total_seconds()
    assert 20 <= wait <= 37
    sweep(timezone.now() + timedelta(minutes=1))
    deliver()
    assert as_shown(agents, conversation, message_id)["delivery"] == "sent"
    assert len(callbacks.requests) == 3


def test_cancel_stops_the_retries_and_fails_the_message_as_cancelled(
    integrator, callbacks, conversation, agents
):
    callbacks.replies.append(httpx.ConnectError("down"))
    message_id = agent_sends(agents, conversation)
    # Queued (the first attempt is on its way): cancelling now could race the send.
    refused = post(api_client(agents[0]), messages_url(conversation, message_id, "cancel"))
    assert refused.status_code == 409
    deliver()
    response = post(api_client(agents[0]), messages_url(conversation, message_id, "cancel"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["delivery"] == "failed" and body["delivery_error"] == "Cancelled by agent."
    assert body["next_attempt_at"] is None
    assert OutboundDelivery.objects.get(message_id=message_id).status == "failed"
    assert sweep(timezone.now() + timedelta(hours=2)) == 0 and deliver() == 0
    assert len(callbacks.requests) == 1
    # A cancelled message is failed: the agent may still send it after all.
    assert post(api_client(agents[0]), messages_url(conversation, message_id, "retry")).status_code == 200
    deliver()
    assert Message.objects.get(pk=message_id).delivery == "sent"


def test_only_who_may_write_in_the_conversation_may_retry_or_cancel(
    integrator, callbacks, conversation, agents, make_user, write
):
    callbacks.replies.append(httpx.Response(503))
    message_id = agent_sends(agents, conversation)
    deliver()
    # Another agent who cannot see it: 404, as for any other action on it.
    assert post(api_client(agents[1]), messages_url(conversation, message_id, "retry")).status_code == 404
    # A supervisor who may read the history but is not in the conversation: 403, as for writing.
    supervisor = make_user("supervisor", is_staff=True)
    grant(supervisor, history_view="any")
    for action in ("retry", "cancel"):
        response = post(api_client(supervisor), messages_url(conversation, message_id, action))
        assert response.status_code == 403, response.content
    # The client's own message, an unknown id or a body: not a delivery of this conversation.
    client_message = Message.objects.filter(session=conversation, author_type="client").first()
    for other_id, action in ((client_message.pk, "retry"), (10**30, "retry"), (999999, "cancel")):
        response = post(api_client(agents[0]), messages_url(conversation, other_id, action))
        assert response.status_code == 404, (other_id, response.content)
    bad = post(api_client(agents[0]), messages_url(conversation, message_id, "retry"), {"now": True})
    assert bad.status_code == 400
    # A message of another conversation named through this one: 404.
    other_id = integrator.send("Other", msg_id="m9", user="u-9", chat="c-9").json()["session_id"]
    other = Session.objects.get(pk=other_id)
    assert other.pk != conversation.pk
    assert post(api_client(agents[0]), messages_url(other, message_id, "retry")).status_code in (403, 404)
    assert OutboundDelivery.objects.get(message_id=message_id).status == "pending"


def test_the_workspace_endpoints_retry_and_cancel(integrator, callbacks, conversation, agents):
    browser = Client()
    browser.force_login(agents[0])
    callbacks.replies.append(httpx.Response(503))
    message_id = agent_sends(agents, conversation)
    deliver()
    page = browser.get(f"/agent/api/sessions/{conversation.pk}/")
    assert page.status_code == 200
    url = f"/agent/api/sessions/{conversation.pk}/messages/{message_id}/"
    response = browser.post(url + "cancel/", "{}", content_type="application/json")
    assert response.status_code == 200, response.content
    message = response.json()["message"]
    assert message["delivery"] == "failed" and message["delivery_error"] == "Cancelled by agent."
    assert message["attempts"] == 1
    assert browser.post(url + "cancel/", "{}", content_type="application/json").status_code == 409
    assert browser.post(url + "bogus/", "{}", content_type="application/json").status_code == 404
    assert browser.post(url + "retry/", "{}", content_type="application/json").status_code == 200
    deliver()
    assert Message.objects.get(pk=message_id).delivery == "sent"


def test_the_openapi_document_lists_retry_and_cancel(agents):
    paths = api_client(agents[0]).get("/api/v1/schema/").json()["paths"]
    for action in ("retry", "cancel"):
        operation = paths[f"/sessions/{{id}}/messages/{{message_id}}/{action}/"]["post"]
        assert {"200", "409"} <= set(operation["responses"])
    message = api_client(agents[0]).get("/api/v1/schema/").json()["components"]["schemas"]["Message"]
    assert {"delivery_error", "next_attempt_at", "attempts"} <= set(message["properties"])


async def test_the_staff_socket_hears_the_reason_and_the_next_try_live(
    integrator, callbacks, conversation, agents
):
    ws = await staff_socket(agents[0])
    await ws.send_json_to({"type": "watch", "session_id": conversation.pk})
    callbacks.replies.append(httpx.Response(503))
    message_id = await database_sync_to_async(agent_sends)(agents, conversation)
    await database_sync_to_async(deliver)()

    def delivery_of(event) -> bool:
        return event["type"] == "message.delivery" and event["message_id"] == message_id

    events = [e for e in await receive_through(ws, delivery_of) if delivery_of(e)]
    assert events[0]["delivery"] == "pending" and events[0]["attempts"] == 1
    assert "HTTP 503" in events[0]["delivery_error"] and events[0]["next_attempt_at"]

    response = await database_sync_to_async(
        lambda: post(api_client(agents[0]), messages_url(conversation, message_id, "cancel"))
    )()
    assert response.status_code == 200
    events = [e for e in await receive_through(ws, delivery_of) if delivery_of(e)]
    assert events[-1]["delivery"] == "failed" and events[-1]["delivery_error"] == "Cancelled by agent."
    assert events[-1]["next_attempt_at"] is None
    await ws.disconnect()
