"""Journeys of bots and hand-over (§1.8, §3.3, §4.1 step 1), KPI notifications (§1.9), access permissions
(§7, supervisor rating §5), consent (§1.5) and transcripts (§1.10 "Save message log", §2.3). Clients use
the REST connector, agents and supervisors the JSON API, the staff socket and the chat-list pages; the
webhook bot uses the bot API."""

from __future__ import annotations

import json

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.test import Client as HttpClient

from openlines.models import ChatBot, OpenLine
from openlines.services import bots
from tests.access_helpers import drop_default_assignments, grant
from tests.journeys.conftest import configure, staff_socket_open

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = {
    "start": "menu",
    "nodes": {
        "menu": {
            "text": "What do you need?",
            "buttons": [
                {"label": "Opening hours", "goto": "hours"},
                {"label": "A person", "action": "operator"},
            ],
        },
        "hours": {"text": "We are open 9 to 18.", "buttons": [{"label": "A person", "action": "operator"}]},
    },
    "free_text": "repeat",
}


@pytest.fixture
def scripted_bot(line):
    bot = ChatBot.objects.create(name="Greeter", kind=ChatBot.Kind.SCRIPTED, script=SCRIPT)
    configure(
        line, welcome_bot_enable=True, welcome_bot=bot.pk, welcome_bot_time=600, welcome_bot_join="always"
    )
    return bot


def test_a_scripted_bot_answers_first_and_hands_over_when_the_client_asks(
    line, integrator, agents, api, scripted_bot, admin_user
):
    """§4.1 step 1: the bot is the operator; the client picks buttons by number; "A person" hands over."""
    session_id = integrator.say("Hi")["session_id"]
    admin = api(admin_user)
    assert admin.session(session_id)["bot_id"] == scripted_bot.pk
    assert api(agents[0]).waiting() == []
    assert any(text.startswith("What do you need?") for text in integrator.texts())
    integrator.say("1")
    assert integrator.texts()[-1].startswith("We are open 9 to 18.")
    integrator.say("A person")
    detail = admin.session(session_id)
    assert detail["bot_id"] is None and detail["operator"]["id"] == agents[0].pk


def test_the_bot_hands_over_after_welcome_bot_time_or_when_the_client_sends_0(
    line, integrator, agents, api, scripted_bot, admin_user, clock
):
    """§1.8 WELCOME_BOT_TIME; the UI hint: the client sends 0 to reach an agent earlier."""
    admin = api(admin_user)
    timed = integrator.say("Hi", user="alice")["session_id"]
    early = integrator.say("Hi", user="bob")["session_id"]
    integrator.say("0", user="bob")
    assert admin.session(early)["operator"] is not None
    clock.advance(599)
    assert admin.session(timed)["bot_id"] == scripted_bot.pk
    clock.advance(2)
    assert admin.session(timed)["bot_id"] is None and admin.session(timed)["operator"] is not None
    assert admin.session(timed)["time_bot"] >= 600


def test_a_welcome_bot_joins_only_the_first_conversation_with_welcome_bot_join_first(
    line, integrator, agents, api, scripted_bot, admin_user
):
    """§1.8 WELCOME_BOT_JOIN=first."""
    configure(line, welcome_bot_join="first", full_close_time=0, vote_message=False)
    admin = api(admin_user)
    first = integrator.say("Hi")["session_id"]
    integrator.say("0")
    assert admin.session(first)["operator"] is not None
    assert admin.act(first, "close").status_code == 200  # a supervisor closes someone else's
    second = integrator.say("Hello again")["session_id"]
    assert second != first and admin.session(second)["bot_id"] is None


def test_a_webhook_bot_hears_the_client_and_hands_over_through_the_bot_api(
    line, integrator, agents, api, admin_user, monkeypatch
):
    """§3.3: the bot gets signed events at its webhook and acts with its secret on the bot API."""
    heard: list[dict] = []

    def webhook(request: httpx.Request) -> httpx.Response:
        if request.url.host != "bot.example":  # the integrator's callbacks share the patched client
            return integrator.callbacks.handle(request)
        assert request.headers["X-Bot-Signature"] == bots.webhook_signature(bot.secret, request.content)
        heard.append(json.loads(request.content))
        return httpx.Response(200)

    real_client = httpx.Client
    monkeypatch.setattr(
        bots.httpx, "Client", lambda **kw: real_client(transport=httpx.MockTransport(webhook))
    )
    bot = ChatBot.objects.create(name="Hook", kind=ChatBot.Kind.WEBHOOK, webhook_url="https://bot.example/h")
    configure(line, welcome_bot_enable=True, welcome_bot=bot.pk, welcome_bot_time=0)
    session_id = integrator.say("Hi bot")["session_id"]
    assert [event["event"] for event in heard][:1] == ["session.start"]

    bot_api = HttpClient(headers={"authorization": f"Bearer {bot.secret}"})
    base = f"/api/v1/bots/{bot.pk}/sessions/{session_id}"
    said = bot_api.post(f"{base}/message/", json.dumps({"text": "Let me find someone"}), "application/json")
    assert said.status_code == 201
    integrator.received()
    assert "Let me find someone" in integrator.texts()
    assert bot_api.post(f"{base}/operator/", "{}", "application/json").status_code == 200
    assert api(admin_user).session(session_id)["operator"] is not None
    assert bot_api.post(f"{base}/operator/", "{}", "application/json").status_code in (404, 409)


async def test_a_late_first_answer_notifies_the_kpi_list_on_the_staff_socket_and_by_e_mail(
    line, integrator, agents, make_user, clock
):
    """§1.9 KPI_FIRST_ANSWER_TIME / _ALERT / _LIST / _TEXT with #OPERATOR#."""
    supervisor = await sync_to_async(make_user)("boss", is_staff=True, email="boss@example.com")
    await sync_to_async(configure)(
        line,
        kpi_first_answer_time=60,
        kpi_first_answer_alert=True,
        kpi_first_answer_list=[supervisor.pk],
    )
    socket = await staff_socket_open(supervisor)
    session_id = (await sync_to_async(integrator.say)("Hello"))["session_id"]
    await sync_to_async(clock.advance)(59)
    assert not [e for e in await socket.settle() if e.get("type") == "notification"]
    await sync_to_async(clock.advance)(2)
    note = await socket.expect(lambda e: e.get("type") == "notification")
    assert note["session_id"] == session_id and note["kind"] == "kpi_overdue"
    operator = next(user for user in agents if user.first_name in note["text"])
    assert note["text"].startswith(f"{operator.first_name} exceeded the first response time")
    await socket.close()
    assert any(f"{operator.first_name} exceeded" in message.body for message in mail.outbox)


def test_access_follows_the_roles_statistics_history_join_and_supervisor_rating(
    line, integrator, agents, api, make_user, clock
):
    """§7: statistics (the session) vs history (its messages), join, VOTE_HEAD; §5 supervisor rating."""
    drop_default_assignments()
    configure(line, full_close_time=0, vote_message=False)
    session_id = integrator.say("Private matter")["session_id"]
    a1 = api(agents[0])
    assert a1.act(session_id, "answer").status_code == 200
    a1.write(session_id, "Let me help")

    outsider = api(agents[1])  # in the queue, but not in this conversation, no role
    assert not outsider.sees(session_id)
    assert outsider.act(session_id, "intercept").status_code == 404

    statistician = api(make_user("stats", is_staff=True))
    grant(statistician.user, statistics_view="any")
    assert statistician.sees(session_id)
    assert statistician.get(f"/api/v1/sessions/{session_id}/messages/").status_code == 403

    historian = api(make_user("history", is_staff=True))
    grant(historian.user, history_view="any")
    assert [m["text"] for m in historian.messages(session_id) if m["author_type"] == "client"] == [
        "Private matter"
    ]
    assert historian.act(session_id, "intercept").status_code in (403, 404)

    supervisor = api(make_user("super", is_staff=True))
    grant(supervisor.user, join_perform="any", statistics_view="any", vote_head_perform="any")
    assert supervisor.act(session_id, "join").status_code == 200
    assert supervisor.act(session_id, "intercept").status_code == 200
    assert supervisor.session(session_id)["operator"]["id"] == supervisor.user.pk
    assert supervisor.act(session_id, "close").status_code == 200

    rated = supervisor.browser.post(f"/chats/{session_id}/rate/", {"vote_head": 4, "comment_head": "Good"})
    assert rated.status_code in (200, 204, 302), rated.content
    assert supervisor.session(session_id)["vote_head"] == 4
    refused = statistician.browser.post(f"/chats/{session_id}/rate/", {"vote_head": 1})
    assert refused.status_code == 403
    assert supervisor.session(session_id)["vote_head"] == 4

    nobody = make_user("customer", is_staff=False)
    assert api(nobody).get("/api/v1/sessions/").status_code == 403


def test_the_consent_notice_links_to_the_agreement_text(line, integrator, agents, api, settings):
    """§1.5 AGREEMENT_MESSAGE: the client gets a link to the agreement, never the raw macro."""
    from openlines.models import Agreement

    settings.SITE_URL = "https://cc.example.com"

    agreement = Agreement.objects.create(title="Privacy", text="We keep your data safe.")
    configure(line, agreement_message=True, agreement=agreement.pk)
    integrator.say("Hello")
    notices = [text for text in integrator.texts() if "personal data" in text]
    assert notices and "#AGREEMENT#" not in notices[0] and "https://cc.example.com/livechat/" in notices[0]
    from django.test import Client as Browser

    path = notices[0].split("https://cc.example.com", 1)[1].split()[0]
    page = Browser().get(path)
    assert page.status_code == 200 and "We keep your data safe." in page.content.decode()


def test_the_transcript_is_e_mailed_to_the_client_after_the_close(line, integrator, agents, api, clock):
    """§1.10 LANGUAGE_ID / "Save message log", §2.3 full close: the client gets the agent's answers."""
    configure(line, full_close_time=0, vote_message=False)
    session_id = integrator.say("Hello", profile={"email": "carla@example.com"})["session_id"]
    a1 = api(agents[0])
    a1.act(session_id, "answer")
    a1.write(session_id, "Your parcel ships today")
    a1.act(session_id, "close")
    clock.advance(1)
    sent = [m for m in mail.outbox if "carla@example.com" in m.to]
    assert sent and "Your parcel ships today" in sent[0].body


def test_line_settings_changed_through_the_admin_form_reach_routing(
    line, integrator, agents, api, admin_user
):
    """§1.1 through the admin form: an administrator switches the line to "to everybody"."""
    from tests.openlines.conftest import change_url, line_form_data

    admin = api(admin_user)
    data = line_form_data(line, queue_type=OpenLine.QueueType.ALL)
    response = admin.browser.post(change_url(line), data)
    assert response.status_code == 302, response.content
    session_id = integrator.say("Hello")["session_id"]
    assert admin.session(session_id)["offered_to"] == sorted(user.pk for user in agents)


def test_a_late_further_answer_notifies_the_kpi_list_by_e_mail(
    line, integrator, agents, api, make_user, clock
):
    """§1.9 KPI_FURTHER_ANSWER_TIME / _ALERT / _LIST."""
    boss = make_user("boss2", is_staff=True, email="boss2@example.com")
    configure(
        line, kpi_further_answer_time=300, kpi_further_answer_alert=True, kpi_further_answer_list=[boss.pk]
    )
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    a1.act(session_id, "answer")
    a1.write(session_id, "Hi")
    integrator.say("A follow-up question")
    clock.advance(299)
    assert not [m for m in mail.outbox if "boss2@example.com" in m.to]
    clock.advance(2)
    sent = [m for m in mail.outbox if "boss2@example.com" in m.to]
    assert sent and "exceeded the response time" in sent[0].body


def test_a_supervisor_may_leave_a_comment_without_stars(line, integrator, agents, api, admin_user):
    """§5 supervisor rating: VOTE_HEAD and/or COMMENT_HEAD (the REST method needs at least one of them)."""
    session_id = integrator.say("Hello")["session_id"]
    supervisor = api(admin_user)
    response = supervisor.browser.post(f"/chats/{session_id}/rate/", {"comment_head": "Polite, but slow"})
    assert response.status_code == 200, response.content
    assert response.json()["comment_head"] == "Polite, but slow"
