"""The bot API for webhook bots (reference §3.3): write, hand over, transfer, finish; the bot's secret in
constant time; only sessions the bot is in."""

from __future__ import annotations

import json

import httpx
import pytest
from django_q.models import Success

from contactcenter.background import OUTBOX_RUN_TASK, run_pending_tasks
from contactcenter.models import OutboxTask
from openlines.models import ChatBot, OpenLine
from openlines.services import bots
from openlines.session_models import Message, Session, SessionStatus
from tests.api.conftest import advance, post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bot(line):
    bot = ChatBot.objects.create(
        name="Helper", kind=ChatBot.Kind.WEBHOOK, webhook_url="https://bot.example/hook"
    )
    line.welcome_bot_enable = True
    line.welcome_bot = bot
    line.welcome_bot_time = 0  # the bot decides when to hand over
    line.save()
    return bot


@pytest.fixture
def session(bot, write):
    session = Session.objects.get(pk=write("Hi", who="client-1").session.pk)
    assert session.bot_id == bot.pk and session.operator_id is None
    return session


def call(bot, session, action, body=None, secret=None):
    url = f"/api/v1/bots/{bot.pk}/sessions/{session.pk}/{action}/"
    from django.test import Client

    return post(Client(), url, body, authorization=f"Bearer {secret if secret is not None else bot.secret}")


def test_the_bot_hears_of_the_new_session_through_the_exported_webhook_task(bot, session, monkeypatch):
    """bots.webhook_notify writes "openlines.tasks.bot_webhook_post" to the task outbox and queues it; the
    worker finds it and posts a signed event to the bot's webhook; the outbox row is then done (gone)."""
    events = []

    def handler(request):
        assert request.headers["X-Bot-Signature"] == bots.webhook_signature(bot.secret, request.content)
        events.append(json.loads(request.content))
        return httpx.Response(200)

    real_client = httpx.Client
    monkeypatch.setattr(
        bots.httpx, "Client", lambda **kw: real_client(transport=httpx.MockTransport(handler))
    )
    run_pending_tasks()
    assert [e["event"] for e in events] == ["session.start"]
    assert events[0]["session_id"] == session.pk and events[0]["bot_id"] == bot.pk
    assert Success.objects.filter(func=OUTBOX_RUN_TASK).exists()
    assert not OutboxTask.objects.exists()


def test_bot_writes_with_buttons(bot, session):
    response = call(bot, session, "message", {"text": "How can I help?", "buttons": ["Orders", "Billing"]})
    assert response.status_code == 201, response.content
    message = Message.objects.get(pk=response.json()["id"])
    assert message.author_type == "bot" and not message.internal
    assert message.text == "How can I help?\n1. Orders\n2. Billing"
    assert message.attachments == [{"kind": "buttons", "buttons": ["Orders", "Billing"]}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": 3}, "text"),
        ({"text": "x", "buttons": "Orders"}, "buttons"),
        ({"text": "x", "buttons": [str(i) for i in range(11)]}, "buttons"),
        ({"text": "x", "buttons": [""]}, "buttons"),
        ({"text": "x", "colour": "red"}, "__all__"),
    ],
)
def test_bad_bot_messages_are_400(bot, session, body, field):
    response = call(bot, session, "message", body)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_missing_or_wrong_secret_is_401(bot, session):
    from django.test import Client

    assert Client().post(f"/api/v1/bots/{bot.pk}/sessions/{session.pk}/operator/").status_code == 401
    assert call(bot, session, "operator", secret="wrong").status_code == 401
    assert call(bot, session, "operator", secret=bot.secret[:-1]).status_code == 401
    other = ChatBot(pk=999999, secret=bot.secret)
    assert call(other, session, "operator").status_code == 401  # unknown bot id, even with a real secret
    assert Session.objects.get(pk=session.pk).bot_started_at is not None


def test_inactive_or_scripted_bots_are_403(bot, session):
    ChatBot.objects.filter(pk=bot.pk).update(active=False)
    assert call(bot, session, "operator").status_code == 403
    ChatBot.objects.filter(pk=bot.pk).update(active=True, kind=ChatBot.Kind.SCRIPTED)
    assert call(bot, session, "operator").status_code == 403


def test_sessions_of_other_bots_do_not_exist_for_the_bot(bot, session, write):
    other = ChatBot.objects.create(name="Other", kind=ChatBot.Kind.WEBHOOK)
    assert call(other, session, "message", {"text": "hi"}).status_code == 404
    missing = Session(pk=999999)
    assert call(bot, missing, "operator").status_code == 404


def test_hand_over_to_the_queue(bot, session, agents):
    response = call(bot, session, "operator")
    assert response.status_code == 200, response.content
    assert response.json()["bot_in_charge"] is False and response.json()["operator_id"] == agents[0].pk
    s = Session.objects.get(pk=session.pk)
    assert s.bot_id is None and s.transfers.get().mode == "bot"
    again = call(bot, session, "operator")
    assert again.status_code == 404  # the bot left the conversation (welcome_bot_left = queue)


def test_with_left_close_the_bot_stays_but_cannot_hand_over_twice(bot, session, line):
    OpenLine.objects.filter(pk=line.pk).update(welcome_bot_left=OpenLine.WelcomeBotLeft.CLOSE)
    assert call(bot, session, "operator").status_code == 200
    again = call(bot, session, "operator")
    assert again.status_code == 409 and "handed" in again.json()["errors"]["__all__"][0]
    assert call(bot, session, "message", {"text": "Still here"}).status_code == 201


def test_transfer_to_an_agent(bot, session, agents):
    response = call(bot, session, "transfer", {"user_id": agents[2].pk})
    assert response.status_code == 200, response.content
    s = Session.objects.get(pk=session.pk)
    assert s.operator_id == agents[2].pk and not s.wait_answer and s.status == SessionStatus.ANSWER
    assert s.bot_started_at is None and s.time_bot >= 0
    assert s.deadlines.filter(kind="no_answer").exists()


def test_transfer_to_another_line(bot, session, agents, make_line):
    sales = make_line(line_name="Sales", queue=[agents[1]])
    response = call(bot, session, "transfer", {"line_id": sales.pk})
    assert response.status_code == 200
    s = Session.objects.get(pk=session.pk)
    assert s.line_id == sales.pk and s.operator_id == agents[1].pk and s.bot_id is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "__all__"),
        ({"user_id": 999999}, "user_id"),
        ({"line_id": 999999}, "line_id"),
        ({"user_id": "1"}, "user_id"),
    ],
)
def test_bad_bot_transfers_are_400(bot, session, body, field):
    response = call(bot, session, "transfer", body)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_finish_closes_like_an_agent(bot, session, line):
    response = call(bot, session, "finish")
    assert response.status_code == 200
    s = Session.objects.get(pk=session.pk)
    assert s.status == SessionStatus.WAIT_CLIENT and s.wait_vote
    advance(line.full_close_time * 60 + 1)
    s = Session.objects.get(pk=session.pk)
    assert s.closed and s.time_bot > 0
    closed = call(bot, session, "message", {"text": "late"})
    assert closed.status_code == 409


def test_numbers_beyond_64_bits_are_4xx_not_errors(bot, session):
    assert call(bot, Session(pk=2**70), "operator").status_code == 404
    assert call(ChatBot(pk=2**70, secret=bot.secret), session, "operator").status_code == 401
