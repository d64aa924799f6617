"""The REST connector, outbound: signed callbacks with the exact body, retries with backoff until a 2xx,
permanent 4xx not retried, the message's delivery status written back."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from contactcenter.connectors import rest
from contactcenter.models import OutboundDelivery
from contactcenter.services import outbound
from contactcenter.services.rest_connector import rest_connector_callback_set
from contactcenter.timers import registered_timers, run_due_timers
from openlines.models import OpenLine, QueueMember
from openlines.services import actions
from openlines.session_models import Message
from tests.api.conftest import CALLBACK_URL, deliver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(integrator, callbacks, agents):
    """A client wrote; the welcome text went out; the agent answered. Callbacks so far are cleared."""
    session_id = integrator.send("Hi", msg_id="m1").json()["session_id"]
    deliver()
    callbacks.requests.clear()
    return session_id


def agent_says(agents, session_id, text="How can I help?") -> Message:
    return actions.message_send(user=agents[0], session_id=session_id, text=text)


def delivery_of(message) -> OutboundDelivery:
    return OutboundDelivery.objects.get(message=message)


def test_agent_message_is_posted_with_the_exact_body_and_a_valid_signature(
    integrator, callbacks, conversation, agents
):
    message = agent_says(agents, conversation)
    assert deliver() == 1
    [request] = callbacks.requests
    assert request.method == "POST" and str(request.url) == CALLBACK_URL
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "event": "message",
        "message": {
            "id": message.pk,
            "text": "How can I help?",
            "attachments": [],
            "author": {"type": "agent", "name": "Agent1"},
            "created_at": message.created_at.isoformat(),
        },
        "chat": {"id": "c-1"},
        "user": {"id": "u-1"},
        "session_id": conversation,
    }
    assert rest.signature_verify(
        secret=integrator.signing_secret,
        timestamp=request.headers["X-CC-Timestamp"],
        body=request.content,
        header=request.headers["X-CC-Signature"],
    )
    assert Message.objects.get(pk=message.pk).delivery == "sent"
    assert delivery_of(message).status == "sent" and delivery_of(message).attempts == 1


def test_signature_verification_refuses_tampering_other_secrets_and_old_timestamps(
    integrator, callbacks, conversation, agents
):
    agent_says(agents, conversation)
    deliver()
    [request] = callbacks.requests
    timestamp, header = request.headers["X-CC-Timestamp"], request.headers["X-CC-Signature"]
    verify = rest.signature_verify
    assert verify(secret=integrator.signing_secret, timestamp=timestamp, body=request.content, header=header)
    assert not verify(
        secret=integrator.signing_secret, timestamp=timestamp, body=request.content + b" ", header=header
    )
    assert not verify(secret="other", timestamp=timestamp, body=request.content, header=header)
    assert not verify(
        secret=integrator.signing_secret,
        timestamp=str(int(timestamp) + 1),
        body=request.content,
        header=header,
    )
    later = int(timestamp) + rest.SIGNATURE_TOLERANCE_SECONDS + 1
    assert not verify(
        secret=integrator.signing_secret, timestamp=timestamp, body=request.content, header=header, now=later
    )


def test_internal_notes_and_client_messages_are_not_sent(
    integrator, callbacks, conversation, agents, make_user
):
    actions.session_answer(user=agents[0], session_id=conversation)  # posts an internal note
    integrator.send("More", msg_id="m2")
    deliver()
    assert callbacks.requests == []


def test_agent_identity_follows_the_line_setting(integrator, callbacks, conversation, agents, line):
    line.operator_data = OpenLine.OperatorData.HIDE
    line.default_operator_name = "Support team"
    line.save()
    agent_says(agents, conversation)
    deliver()
    line.operator_data = OpenLine.OperatorData.QUEUE
    line.save()
    QueueMember.objects.filter(line=line, user=agents[0]).update(display_name="Anna from support")
    agent_says(agents, conversation, "Second")
    deliver()
    assert [b["message"]["author"]["name"] for b in callbacks.bodies()] == [
        "Support team",
        "Anna from support",
    ]


def test_system_texts_the_client_sees_are_sent_too(integrator, callbacks, agents, line):
    integrator.send("Hi", msg_id="m1")
    deliver()
    [welcome] = callbacks.bodies()
    assert welcome["message"]["author"] == {"type": "system", "name": "Support"}
    assert welcome["message"]["text"].startswith("Hello! Thank you for contacting us")


def claim(now) -> int:
    """One tick of the timer loop's outbound applier."""
    return registered_timers()["outbound_deliveries"](now)


def _fail_until_given_up(callbacks, message, reply):
    """Drive every retry: each attempt fails, the timer hands the next one to a task when it is due.
    Returns the waits before each retry, in seconds."""
    waits = []
    before = timezone.now()
    callbacks.replies.append(reply())
    deliver()  # the first attempt, in the send task
    while (delivery := delivery_of(message)).status == "pending":
        waits.append((delivery.next_attempt_at - before).total_seconds())
        assert claim(delivery.next_attempt_at - timedelta(seconds=1)) == 0  # nothing before the wait is over
        assert claim(delivery.next_attempt_at) == 1
        before = timezone.now()
        callbacks.replies.append(reply())
        deliver()
    return waits


def test_5xx_is_retried_with_exponential_backoff_then_given_up(integrator, callbacks, conversation, agents):
    message = agent_says(agents, conversation)
    waits = _fail_until_given_up(callbacks, message, lambda: httpx.Response(500))
    assert len(callbacks.requests) == outbound.MAX_ATTEMPTS == 8
    assert len(waits) == 7
    for n, wait in enumerate(waits, start=1):
        base = 30 * 2 ** (n - 1)
        assert base * 0.8 - 1 <= wait <= base * 1.2 + 1, (n, wait)
    assert 0.8 * 3810 <= sum(waits) <= 1.2 * 3810 + 7  # about an hour in all
    delivery = delivery_of(message)
    assert delivery.status == "failed" and delivery.last_status_code == 500
    failed = Message.objects.get(pk=message.pk)
    assert failed.delivery == "failed" and "HTTP 500" in failed.delivery_error
    assert [r.headers["X-CC-Attempt"] for r in callbacks.requests] == [str(n) for n in range(1, 9)]


def test_timeouts_are_retried_and_a_later_2xx_acknowledges(integrator, callbacks, conversation, agents):
    message = agent_says(agents, conversation)
    callbacks.replies += [httpx.ReadTimeout("slow"), httpx.ConnectError("down")]
    deliver()
    delivery = delivery_of(message)
    assert delivery.status == "pending" and delivery.attempts == 1 and "in time" in delivery.last_error
    run_due_timers(delivery.next_attempt_at)
    deliver()
    assert delivery_of(message).attempts == 2 and "Could not reach" in delivery_of(message).last_error
    run_due_timers(delivery_of(message).next_attempt_at)
    deliver()
    assert delivery_of(message).status == "sent" and Message.objects.get(pk=message.pk).delivery == "sent"
    assert len(callbacks.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_permanent_4xx_is_not_retried(integrator, callbacks, conversation, agents, status):
    message = agent_says(agents, conversation)
    callbacks.replies.append(httpx.Response(status))
    deliver()
    assert delivery_of(message).status == "failed"
    assert claim(timezone.now() + timedelta(days=1)) == 0
    deliver()
    assert len(callbacks.requests) == 1
    assert Message.objects.get(pk=message.pk).delivery == "failed"


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_408_429_and_5xx_are_retried(integrator, callbacks, conversation, agents, status):
    message = agent_says(agents, conversation)
    callbacks.replies.append(httpx.Response(status))
    deliver()
    assert delivery_of(message).status == "pending" and delivery_of(message).next_attempt_at is not None


def test_retry_after_is_honoured_when_longer_than_the_backoff(integrator, callbacks, conversation, agents):
    message = agent_says(agents, conversation)
    callbacks.replies.append(httpx.Response(429, headers={"Retry-After": "600"}))
    before = timezone.now()
    deliver()
    wait = (delivery_of(message).next_attempt_at - before).total_seconds()
    assert 599 <= wait <= 602


def test_a_due_retry_is_claimed_once_even_by_two_timer_processes(integrator, callbacks, conversation, agents):
    from django_q.brokers import get_broker

    message = agent_says(agents, conversation)
    callbacks.replies.append(httpx.Response(500))
    deliver()
    due = delivery_of(message).next_attempt_at
    assert outbound.outbound_deliveries_claim(due) == 1
    assert outbound.outbound_deliveries_claim(due) == 0  # the other process finds it claimed
    assert get_broker().queue_size() == 1


def test_a_lost_retry_task_is_claimed_again_after_the_lease(integrator, callbacks, conversation, agents):
    from django_q.brokers import get_broker

    message = agent_says(agents, conversation)
    callbacks.replies.append(httpx.Response(500))
    deliver()
    due = delivery_of(message).next_attempt_at
    assert outbound.outbound_deliveries_claim(due) == 1
    get_broker().purge_queue()  # the worker died with the task
    assert outbound.outbound_deliveries_claim(due + outbound.CLAIM_LEASE - timedelta(seconds=1)) == 0
    assert outbound.outbound_deliveries_claim(due + outbound.CLAIM_LEASE) == 1
    deliver()
    assert delivery_of(message).status == "sent"


def test_without_a_callback_url_the_message_fails_with_the_reason(
    integrator, callbacks, conversation, agents
):
    rest_connector_callback_set(connector=integrator.connector, callback_url="")
    message = agent_says(agents, conversation)
    deliver()
    assert callbacks.requests == []
    failed = Message.objects.get(pk=message.pk)
    assert failed.delivery == "failed" and "No callback URL" in failed.delivery_error


def test_a_late_give_up_does_not_undo_a_delivery_receipt(integrator, callbacks, conversation, agents):
    """The integrator may process a callback yet answer 500; its receipt still wins over our giving up."""
    message = agent_says(agents, conversation)
    callbacks.replies.append(httpx.Response(500))
    deliver()
    integrator.post("status/", {"messages": [{"id": message.pk, "status": "delivered"}]})
    OutboundDelivery.objects.filter(message=message).update(attempts=outbound.MAX_ATTEMPTS - 1)
    callbacks.replies.append(httpx.Response(500))
    run_due_timers(delivery_of(message).next_attempt_at)
    deliver()
    assert delivery_of(message).status == "failed"
    assert Message.objects.get(pk=message.pk).delivery == "delivered"


def test_a_switched_off_connector_sends_nothing(integrator, callbacks, conversation, agents):
    from contactcenter.models import Connector

    Connector.objects.filter(pk=integrator.connector.pk).update(active=False)
    message = agent_says(agents, conversation)
    deliver()
    assert callbacks.requests == []
    assert Message.objects.get(pk=message.pk).delivery_error == "The connector is switched off."
