"""Chat bots on a line (reference §1.8, §3.3): scripted welcome bot, hand-over, bot time."""

from __future__ import annotations

import json

import httpx
import pytest

from openlines.models import ChatBot, OpenLine
from openlines.services import bots
from openlines.session_models import Message, SessionStatus
from tests.openlines.conftest import advance, reload

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = {
    "start": "menu",
    "nodes": {
        "menu": {
            "text": "How can I help?",
            "buttons": [
                {"label": "Opening hours", "goto": "hours"},
                {"label": "Talk to a person", "action": "operator"},
                {"label": "Nothing, thanks", "action": "close"},
            ],
        },
        "hours": {"text": "We are open 9 to 18.", "buttons": [{"label": "Back", "goto": "menu"}]},
    },
    "free_text": "repeat",
}


@pytest.fixture
def bot_line(connector):
    line = connector.line
    line.welcome_bot_enable = True
    line.welcome_bot = ChatBot.objects.create(name="Helper", kind=ChatBot.Kind.SCRIPTED, script=SCRIPT)
    line.welcome_bot_time = 600
    line.save()
    return line


def bot_texts(session):
    return list(Message.objects.filter(session=session, author_type="bot").values_list("text", flat=True))


def test_bot_greets_with_the_menu_and_no_agent_gets_the_enquiry_yet(bot_line, write):
    session = reload(write("Hi").session)
    assert session.bot_id == bot_line.welcome_bot_id and session.operator_id is None
    assert not session.offers.exists() and not session.undistributed
    assert bot_texts(session) == [
        "How can I help?\n1. Opening hours\n2. Talk to a person\n3. Nothing, thanks"
    ]
    assert not Message.objects.filter(session=session, text__startswith="Hello! Thank you").exists()


def test_bot_follows_buttons_by_number_or_label(bot_line, write):
    session = write("Hi").session
    write("1")
    write("back")
    assert bot_texts(session)[1:] == ["We are open 9 to 18.\n1. Back", bot_texts(session)[0]]


def test_client_sends_zero_to_reach_an_agent_and_bot_time_is_recorded(bot_line, write, agents):
    session = write("Hi").session
    advance(30)
    write("0")
    s = reload(session)
    assert s.bot_id is None and s.operator_id == agents[0].pk and s.time_bot >= 0
    assert s.transfers.get().mode == "bot"


def test_button_action_hands_over_to_the_queue(bot_line, write, agents):
    session = write("Hi").session
    write("Talk to a person")
    assert reload(session).operator_id == agents[0].pk


def test_bot_hands_over_after_welcome_bot_time(bot_line, write, agents):
    session = write("Hi").session
    advance(599)
    assert reload(session).operator_id is None
    advance(601)
    s = reload(session)
    assert s.operator_id == agents[0].pk and s.time_bot >= 600


def test_bot_time_zero_never_hands_over_by_itself(bot_line, write):
    bot_line.welcome_bot_time = 0
    bot_line.save()
    session = write("Hi").session
    advance(86400)
    assert reload(session).bot_id is not None and reload(session).operator_id is None


def test_bot_close_action_closes_the_conversation(bot_line, write):
    session = write("Hi").session
    write("3")
    assert reload(session).closed and reload(session).status == SessionStatus.CLOSE


def test_bot_left_close_keeps_the_bot_in_the_conversation(bot_line, write, agents):
    bot_line.welcome_bot_left = OpenLine.WelcomeBotLeft.CLOSE
    bot_line.save()
    session = write("Hi").session
    write("0")
    s = reload(session)
    assert s.bot_id == bot_line.welcome_bot_id and s.operator_id == agents[0].pk


def test_bot_joins_only_the_first_session_when_so_set(bot_line, write, agents):
    from openlines.services import actions

    bot_line.welcome_bot_join = OpenLine.WelcomeBotJoin.FIRST
    bot_line.full_close_time = 0
    bot_line.save()
    first = write("Hi").session
    write("0")
    actions.session_close(user=reload(first).operator, session_id=first.pk)
    second = reload(write("Hello again").session)
    assert second.pk != first.pk and second.bot_id is None and second.operator_id is not None


def test_webhook_bot_events_are_signed(bot_line, write):
    bot = bot_line.welcome_bot
    bot.kind = ChatBot.Kind.WEBHOOK
    bot.webhook_url = "https://bot.example.com/hook"
    bot.secret = "s3cret"
    bot.save()
    received = []

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    session = write("Hi").session
    body = {"event": "session.start", "session_id": session.pk}
    status = bots.bot_webhook_post(bot.pk, body, client=httpx.Client(transport=httpx.MockTransport(handler)))
    assert status == 200
    request = received[0]
    raw = request.content
    assert json.loads(raw) == body
    assert request.headers["X-Bot-Signature"] == bots.webhook_signature("s3cret", raw)
