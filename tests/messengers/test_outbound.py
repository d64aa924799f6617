"""Agent messages leaving through the messengers: exact requests, retries, permanent errors, the reply
window, splitting, and ratings answered with 1 / 0."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from contactcenter.models import OutboundDelivery
from contactcenter.timers import run_due_timers
from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import Client, Message, Session
from tests.messengers.conftest import (
    ok,
    page_message,
    page_payload,
    post_webhook,
    telegram_update,
    viber_message,
    whatsapp_payload,
    whatsapp_text,
)

pytestmark = pytest.mark.django_db

TG_OK = {"ok": True, "result": {"message_id": 500, "chat": {"id": 777}}}


@pytest.fixture(autouse=True)
def quiet_line(line):
    """No automatic texts, so the only outgoing messages are the agents'."""
    OpenLine.objects.filter(pk=line.pk).update(welcome_message=False, agreement_message=False)
    line.refresh_from_db()


def start(client, connector, settle, payload) -> Session:
    settle(lambda: post_webhook(client, connector, payload))
    return Session.objects.get(chat__client__connector=connector)


def agent_writes(settle, session: Session, text: str) -> Message:
    agent = session.offers.first().user if session.operator_id is None else session.operator

    def act():
        if session.operator_id is None:
            actions.session_answer(user=agent, session_id=session.pk)
        return actions.message_send(user=agent, session_id=session.pk, text=text)

    return settle(act)


def reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def test_telegram_answer_is_sent_escaped_as_html_and_marked_sent(client, channel, platform, settle):
    connector = channel("telegram")
    platform.on("POST", r"/bot123456:A+/sendMessage$", ok(TG_OK))
    session = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    message = agent_writes(settle, session, "Use <b> & enjoy")
    [request] = platform.sent("sendMessage")
    assert json.loads(request.content) == {
        "chat_id": 777,
        "text": "Use &lt;b&gt; &amp; enjoy",
        "parse_mode": "HTML",
    }
    message = reload(message)
    assert message.delivery == "sent" and message.external_id == "777:500"


def test_telegram_429_is_retried_after_retry_after(client, channel, platform, settle):
    connector = channel("telegram")
    throttled = httpx.Response(
        429,
        json={
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 45",
            "parameters": {"retry_after": 45},
        },
    )
    platform.on("POST", r"/sendMessage$", throttled, ok(TG_OK))
    session = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    message = agent_writes(settle, session, "answer")
    delivery = OutboundDelivery.objects.get(message=message)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.next_attempt_at >= timezone.now() + timedelta(seconds=44)
    assert reload(message).delivery == "pending"
    settle(lambda: run_due_timers(timezone.now() + timedelta(seconds=30)))  # before retry_after: nothing
    assert len(platform.sent("sendMessage")) == 1
    settle(lambda: run_due_timers(timezone.now() + timedelta(seconds=60)))
    assert len(platform.sent("sendMessage")) == 2
    assert reload(message).delivery == "sent"
    assert OutboundDelivery.objects.get(message=message).status == "sent"


def test_telegram_503_is_retried_with_backoff_and_gives_up_after_eight_attempts(
    client, channel, platform, settle
):
    connector = channel("telegram")
    platform.on(
        "POST",
        r"/sendMessage$",
        httpx.Response(503, json={"ok": False, "error_code": 503, "description": "busy"}),
    )
    session = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    message = agent_writes(settle, session, "answer")
    later = timezone.now()
    for _ in range(10):
        later += timedelta(hours=2)
        settle(lambda moment=later: run_due_timers(moment))
    answers = [r for r in platform.sent("sendMessage") if json.loads(r.content)["text"] == "answer"]
    assert len(answers) == 8
    message = reload(message)
    assert message.delivery == "failed" and message.delivery_error


def test_telegram_blocked_is_permanent_recorded_and_shown(client, channel, platform, settle):
    connector = channel("telegram")
    blocked = httpx.Response(
        403, json={"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
    )
    platform.on("POST", r"/sendMessage$", blocked)
    session = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    message = agent_writes(settle, session, "answer")
    settle(lambda: run_due_timers(timezone.now() + timedelta(hours=3)))
    assert len(platform.sent("sendMessage")) == 1  # not retried
    message = reload(message)
    assert message.delivery == "failed" and message.delivery_error
    assert Client.objects.get(connector=connector).blocked_at is not None
    assert Message.objects.filter(
        session=session, author_type="system", internal=True, text__icontains="blocked"
    ).exists()


def test_long_text_is_split_at_the_platform_limit(client, channel, platform, settle):
    connector = channel("messenger")
    platform.on("POST", r"/PAGE1/messages$", ok({"recipient_id": "PSID1", "message_id": "m.out"}))
    session = start(client, connector, settle, page_payload("page", "PAGE1", [page_message("PAGE1", "m.in")]))
    text = ("word " * 900).strip()  # 4499 characters; Messenger takes 2000
    message = agent_writes(settle, session, text)
    chunks = [json.loads(r.content)["message"]["text"] for r in platform.sent("/messages$")]
    assert len(chunks) == 3 and all(len(c) <= 2000 for c in chunks)
    assert " ".join(chunks) == text
    assert reload(message).delivery == "sent"


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "instagram"])
def test_reply_window_closed_fails_at_once_without_calling_the_platform(
    client, channel, platform, settle, kind
):
    connector = channel(kind)
    payload = {
        "whatsapp": whatsapp_payload(messages=[whatsapp_text("wamid.in")]),
        "messenger": page_payload("page", "PAGE1", [page_message("PAGE1", "m.in")]),
        "instagram": page_payload("instagram", "IG1", [page_message("IG1", "ig.in")]),
    }[kind]
    session = start(client, connector, settle, payload)
    Message.objects.filter(author_type="client").update(created_at=timezone.now() - timedelta(days=8))
    message = agent_writes(settle, session, "too late")
    assert platform.calls() == []
    message = reload(message)
    assert message.delivery == "failed" and "window" in message.delivery_error


def test_messenger_after_24_hours_sends_with_the_human_agent_tag(client, channel, platform, settle):
    connector = channel("messenger")
    platform.on("POST", r"/PAGE1/messages$", ok({"recipient_id": "PSID1", "message_id": "m.out"}))
    session = start(client, connector, settle, page_payload("page", "PAGE1", [page_message("PAGE1", "m.in")]))
    Message.objects.filter(author_type="client").update(created_at=timezone.now() - timedelta(days=2))
    agent_writes(settle, session, "following up")
    body = json.loads(platform.sent("/messages$")[0].content)
    assert body["messaging_type"] == "MESSAGE_TAG" and body["tag"] == "HUMAN_AGENT"


def test_reply_window_is_shown_to_the_agent_before_typing(client, channel, platform, settle, make_user):
    connector = channel("whatsapp")
    session = start(client, connector, settle, whatsapp_payload(messages=[whatsapp_text("wamid.in")]))
    agent = session.offers.first().user
    client.force_login(agent)
    window = client.get(f"/contact-center/sessions/{session.pk}/reply-window/").json()
    assert window["open"] is True and window["closes_at"] and window["human_agent_until"] is None
    assert window["client_blocked_at"] is None
    Message.objects.filter(author_type="client").update(created_at=timezone.now() - timedelta(days=2))
    assert client.get(f"/contact-center/sessions/{session.pk}/reply-window/").json()["open"] is False
    outsider = make_user("outsider", is_staff=True)
    client.force_login(outsider)
    assert client.get(f"/contact-center/sessions/{session.pk}/reply-window/").status_code == 404


def test_viber_rating_request_is_answered_with_1(client, channel, platform, settle, line):
    OpenLine.objects.filter(pk=line.pk).update(vote_message=True)
    connector = channel("viber")
    platform.on("POST", r"/send_message$", ok({"status": 0, "status_message": "ok", "message_token": 900}))
    session = start(client, connector, settle, viber_message(1, "hi"))
    agent_writes(settle, session, "done?")
    agent = Session.objects.get(pk=session.pk).operator
    settle(lambda: actions.session_close(user=agent, session_id=session.pk, confirmed=True))
    texts = [json.loads(r.content)["text"] for r in platform.sent("send_message")]
    assert any("1" in t and "0" in t for t in texts)  # the rating request tells how to answer
    settle(lambda: post_webhook(client, connector, viber_message(2, "1")))
    assert Session.objects.get(pk=session.pk).vote == 5


def test_split_text_throttled_half_way_resends_only_the_rest(client, channel, platform, settle):
    connector = channel("telegram")
    throttled = httpx.Response(
        429,
        json={
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests",
            "parameters": {"retry_after": 3},
        },
    )
    platform.on("POST", r"/sendMessage$", ok(TG_OK), throttled, ok(TG_OK), ok(TG_OK))
    session = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    paragraphs = [f"part{n} " + "x" * 4000 for n in (1, 2, 3)]
    message = agent_writes(settle, session, "\n\n".join(paragraphs))
    assert reload(message).delivery == "pending"
    settle(lambda: run_due_timers(timezone.now() + timedelta(minutes=2)))
    texts = [json.loads(r.content)["text"][:5] for r in platform.sent("sendMessage")]
    assert texts == ["part1", "part2", "part2", "part3"]  # part1 was not sent twice
    message = reload(message)
    assert message.delivery == "sent" and message.external_id == "777:500"
