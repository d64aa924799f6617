"""End to end, over HTTP only: an integrator runs a whole conversation through the REST connector while
agents work it through the sessions API, and the integrator's endpoint receives every client-visible
message, signed."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from contactcenter.connectors import rest
from contactcenter.services.api_tokens import api_token_create
from openlines.session_models import Message
from tests.api.conftest import CALLBACK_URL, advance, deliver, patch, post

pytestmark = pytest.mark.django_db(transaction=True)


def bearer(user) -> Client:
    return Client(headers={"authorization": f"Bearer {api_token_create(user=user, name='e2e')[1]}"})


def test_a_conversation_through_the_rest_connector_and_the_sessions_api(
    line, connector, agents, admin_user, callbacks
):
    admin = bearer(admin_user)
    ann, bob = bearer(agents[0]), bearer(agents[1])

    # The administrator creates the connector's credentials, sets the callback, and lets a rating close.
    credentials = post(admin, f"/api/v1/connectors/{connector.uuid}/rest-credentials/").json()
    settings = patch(
        admin, f"/api/v1/connectors/{connector.uuid}/rest-settings/", {"callback_url": CALLBACK_URL}
    )
    assert settings.status_code == 200
    assert patch(admin, f"/api/v1/lines/{line.pk}/", {"vote_closing_delay": True}).status_code == 200
    integrator = Client(headers={"authorization": f"Bearer {credentials['token']}"})
    inbound = settings.json()["messages_url"].split("testserver", 1)[1]

    def client_writes(msg_id: str, **message):
        body = {
            "user": {"id": "cust-77", "name": "Carla", "email": "carla@example.com"},
            "chat": {"id": "thread-9"},
            "message": {"id": msg_id, "date": 1773265993, **message},
        }
        return post(integrator, inbound, body)

    # 1. The client writes; the enquiry is offered to the first agent (evenly).
    first = client_writes("ext-1", text="Hi, my order is late")
    assert first.status_code == 201, first.content
    session_url = f"/api/v1/sessions/{first.json()['session_id']}/"
    assert ann.get(session_url).json()["operator"]["id"] == agents[0].pk
    assert (
        client_writes("ext-1", text="Hi, my order is late").json()["duplicate"] is True
    )  # a retry of theirs
    deliver()

    # 2. Ann stays silent past the queue time: the enquiry moves on to Bob.
    advance(61)
    assert ann.get(session_url).status_code == 404
    assert [
        s["id"] for s in bob.get("/api/v1/sessions/", {"status_group": "waiting_agent"}).json()["results"]
    ] == [first.json()["session_id"]]

    # 3. Bob answers and writes; the integrator confirms it was read.
    assert post(bob, session_url + "answer/").status_code == 200
    reply = post(bob, session_url + "messages/", {"text": "Hello Carla, let me check."})
    assert reply.status_code == 201
    deliver()
    status = post(
        integrator,
        inbound.replace("messages/", "status/"),
        {"messages": [{"id": reply.json()["id"], "status": "read"}]},
    )
    assert status.json()["results"] == [{"id": reply.json()["id"], "result": "ok"}]

    # 4. The client answers; Bob sees it, replies and closes.
    second = client_writes("ext-2", text="Order 123")
    assert second.status_code == 201 and second.json()["session_id"] == first.json()["session_id"]
    news = bob.get(session_url + "messages/", {"after_id": reply.json()["id"]}).json()["results"]
    assert [m["text"] for m in news if not m["internal"]] == ["Order 123"]
    post(bob, session_url + "messages/", {"text": "It ships today."})
    closing = post(bob, session_url + "close/")
    assert closing.status_code == 200 and closing.json()["status"] == 50 and closing.json()["wait_vote"]
    deliver()

    # 5. The client rates; the rating closes the conversation.
    rating = client_writes("ext-3", rating="like")
    assert rating.status_code == 201, rating.content
    final = bob.get(session_url).json()
    assert final["closed"] and final["status"] == 60 and final["vote"] == "like"
    deliver()

    # What the integrator's endpoint received: every client-visible message, in order, signed.
    bodies = [json.loads(r.content) for r in callbacks.requests]
    texts = [b["message"]["text"] for b in bodies]
    assert texts[0].startswith("Hello! Thank you for contacting us")
    assert texts[1:3] == ["Hello Carla, let me check.", "It ships today."]
    assert texts[3].startswith("Thank you for reaching out") and texts[4].startswith("Please rate")
    assert texts[5] == "Thank you for your rating!"
    assert len(texts) == 6
    assert [b["message"]["author"]["type"] for b in bodies] == [
        "system",
        "agent",
        "agent",
        "system",
        "system",
        "system",
    ]
    assert {b["message"]["author"]["name"] for b in bodies if b["message"]["author"]["type"] == "agent"} == {
        "Agent2"
    }
    assert {(b["chat"]["id"], b["user"]["id"], b["session_id"]) for b in bodies} == {
        ("thread-9", "cust-77", first.json()["session_id"])
    }
    for request in callbacks.requests:
        assert rest.signature_verify(
            secret=credentials["signing_secret"],
            timestamp=request.headers["X-CC-Timestamp"],
            body=request.content,
            header=request.headers["X-CC-Signature"],
        )
    deliveries = dict(
        Message.objects.filter(pk__in=[b["message"]["id"] for b in bodies]).values_list("pk", "delivery")
    )
    assert deliveries[reply.json()["id"]] == "read"
    assert set(deliveries.values()) == {"sent", "read"}
