"""Journeys of a conversation's life (rule book §1.4, §1.6, §1.7, §1.10, §2.3, §5): automatic messages,
working hours, close and reopen, auto-close, ratings and their time limits, an inactive line. The client is
an integrator's REST connector (what it receives is its callback recorder); agents use the sessions API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.journeys.conftest import configure

pytestmark = pytest.mark.django_db(transaction=True)

WELCOME = "Hello! Thank you for contacting us."
NO_ANSWER = "Unfortunately, we cannot respond to you at the moment."
OFF_HOURS = "Thank you for your message. We are not available right now"
CLOSE = "Thank you for reaching out!"
AUTO_CLOSE = "This conversation has been closed because there was no activity."
RATE_REQUEST = "Please rate the quality of our service."
THANKS = "Thank you for your rating!"
TOO_LATE = "Sorry, the time for rating this conversation has passed."


def starting(texts: list[str], prefix: str) -> list[str]:
    return [text for text in texts if text.startswith(prefix)]


def accepted(agent, session_id: int, reply: str = "Hello, how can I help?") -> None:
    assert agent.act(session_id, "answer").status_code == 200
    agent.write(session_id, reply)


def test_welcome_only_for_a_new_chat_unless_each_session_and_the_client_is_recognised_again(
    line, integrator, agents, api, clock
):
    """§1.6 WELCOME_MESSAGE / SEND_WELCOME_EACH_SESSION; §2.1 the same client's chat carries on, a closed
    session is followed by a new one in the same chat."""
    configure(line, full_close_time=0, vote_message=False)
    a1 = api(agents[0])
    first = integrator.say("Hello")
    assert starting(integrator.texts(), WELCOME) and len(integrator.texts()) == 1
    accepted(a1, first["session_id"])
    assert a1.act(first["session_id"], "close").status_code == 200
    assert a1.session(first["session_id"])["closed"]

    again = integrator.say("Me again")
    assert again["session_id"] != first["session_id"]
    # The client is recognised (their CRM lead's responsible agent gets them again, §4.1) in the same chat.
    assert a1.session(again["session_id"])["chat_id"] == a1.session(first["session_id"])["chat_id"]
    assert len(starting(integrator.texts(), WELCOME)) == 1  # only when the chat was created

    configure(line, send_welcome_each_session=True)
    accepted(a1, again["session_id"])
    assert a1.act(again["session_id"], "close").status_code == 200
    integrator.say("And again")
    assert len(starting(integrator.texts(), WELCOME)) == 2


def test_the_no_answer_text_reaches_the_client_once_when_nobody_answers_in_time(
    line, integrator, agents, api, clock
):
    """§1.6 NO_ANSWER_RULE=text after NO_ANSWER_TIME without an answer; never when an agent answered."""
    configure(line, no_answer_rule="text", no_answer_time=300, queue_time=3600)
    waiting = integrator.say("Hello", user="alice")["session_id"]
    answered = integrator.say("Hello", user="bob")["session_id"]
    accepted(api(agents[1]), answered)
    clock.advance(299)
    assert starting(integrator.texts(user="alice"), NO_ANSWER) == []
    clock.advance(2)
    assert len(starting(integrator.texts(user="alice"), NO_ANSWER)) == 1
    clock.advance(3000)
    assert len(starting(integrator.texts(user="alice"), NO_ANSWER)) == 1
    assert starting(integrator.texts(user="bob"), NO_ANSWER) == []
    # The conversation still waits for an agent (no closing phase; docs/engine.md).
    assert api(agents[0]).session(waiting)["status"] < 40


def test_off_hours_text_and_the_enquiry_is_still_routed_and_forwarded(line, integrator, agents, api, clock):
    """§1.4 / §4.3 off-hours: the text once, and the enquiry is queued and forwarded as any other."""
    configure(
        line,
        worktime_enable=True,
        worktime_timezone="Europe/Berlin",
        worktime_from="09:00",
        worktime_to="18:00",
        worktime_dayoff_rule="text",
        queue_time=60,
    )
    clock.set(datetime(2026, 3, 2, 19, 0, tzinfo=UTC))  # 20:00 in Berlin
    session_id = integrator.say("Hello?")["session_id"]
    assert len(starting(integrator.texts(), OFF_HOURS)) == 1
    a1, a2 = api(agents[0]), api(agents[1])
    assert a1.session(session_id)["operator"]["id"] == agents[0].pk
    clock.advance(61)
    assert a2.session(session_id)["operator"]["id"] == agents[1].pk
    integrator.say("Still there?")
    assert len(starting(integrator.texts(), OFF_HOURS)) == 1


@pytest.mark.parametrize(
    ("moment", "off_hours"),
    [
        (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), False),  # Monday 11:00 in Berlin
        (datetime(2026, 3, 2, 19, 0, tzinfo=UTC), True),  # Monday 20:00 in Berlin
        (datetime(2026, 3, 7, 10, 0, tzinfo=UTC), True),  # Saturday, a day off
        (datetime(2026, 5, 1, 10, 0, tzinfo=UTC), True),  # a holiday (a Friday)
    ],
)
def test_the_off_hours_text_follows_the_lines_hours_days_off_and_holidays(
    line, integrator, clock, moment, off_hours
):
    """§1.4 WORKTIME_*: schedule in the line's time zone, days off, holidays; WORKTIME_DAYOFF_RULE=text."""
    configure(
        line,
        worktime_enable=True,
        worktime_timezone="Europe/Berlin",
        worktime_from="09:00",
        worktime_to="18:00",
        worktime_dayoff=["SA", "SU"],
        worktime_holidays=["01.05"],
        worktime_dayoff_rule="text",
    )
    clock.set(moment)
    integrator.say("Hello?")
    assert bool(starting(integrator.texts(), OFF_HOURS)) is off_hours


def test_close_request_rating_reopen_by_the_client_and_full_close_after_the_delay(
    line, integrator, agents, api, clock
):
    """§2.3 close by agent (close text, rating request, STATUS 50 for FULL_CLOSE_TIME), a client message
    re-opens it (STATUS 25), the second close waits again, the delay closes it for good (STATUS 60)."""
    configure(line, close_rule="text", vote_message=True, full_close_time=10)
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    accepted(a1, session_id)
    closing = a1.act(session_id, "close").json()
    assert closing["status"] == 50 and closing["wait_vote"]
    texts = integrator.texts()
    assert starting(texts, CLOSE) and starting(texts, RATE_REQUEST)

    integrator.say("Wait, one more question")
    assert a1.session(session_id)["status"] == 25  # reopened, still with agent1
    a1.write(session_id, "Sure")
    assert a1.act(session_id, "close").json()["status"] == 50
    clock.advance(9 * 60)
    assert not a1.session(session_id)["closed"]
    clock.advance(61)
    final = a1.session(session_id)
    assert final["closed"] and final["status"] == 60
    assert "Conversation closed" in a1.notes(session_id)


def test_auto_close_after_the_agents_last_word(line, integrator, agents, api, clock):
    """§1.6 AUTO_CLOSE_TIME / AUTO_CLOSE_RULE=text: the client stays silent after the agent's answer."""
    configure(line, auto_close_time=3600, auto_close_rule="text", vote_message=False, full_close_time=0)
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    accepted(a1, session_id)
    clock.advance(3599)
    assert not a1.session(session_id)["closed"]
    clock.advance(2)
    assert a1.session(session_id)["closed"]
    assert starting(integrator.texts(), AUTO_CLOSE)


def test_no_auto_close_while_the_client_waits_for_the_agent(line, integrator, agents, api, clock):
    """§2.3: input sessions never auto-close before an agent answers; a client waiting is never closed."""
    configure(line, auto_close_time=3600)
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    accepted(a1, session_id)
    integrator.say("Thanks, and another thing")
    clock.advance(7 * 24 * 3600)
    assert not a1.session(session_id)["closed"]


def test_a_rating_with_vote_closing_delay_closes_at_once_and_thanks_the_client(
    line, integrator, agents, api, clock
):
    """§1.7 VOTE_CLOSING_DELAY, §5 like stored as 5 and the thank-you text."""
    configure(line, vote_message=True, vote_closing_delay=True, full_close_time=10)
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    accepted(a1, session_id)
    a1.act(session_id, "close")
    assert integrator.rate("like").status_code == 201
    final = a1.session(session_id)
    assert final["closed"] and final["vote"] == "like"
    assert starting(integrator.texts(), THANKS)


def test_a_rating_after_the_full_close_reopens_and_one_after_the_time_limit_is_refused(
    line, integrator, agents, api, clock
):
    """§1.7 VOTE_TIME_LIMIT, §2.3 rating after full close re-opens the session; too late: refused, told."""
    configure(line, vote_message=True, full_close_time=1, vote_enable_time_limit=True, vote_time_limit=86400)
    a1 = api(agents[0])
    session_id = integrator.say("Hello", user="alice")["session_id"]
    accepted(a1, session_id)
    a1.act(session_id, "close")
    clock.advance(61)
    assert a1.session(session_id)["closed"]
    assert integrator.rate("dislike", user="alice").status_code == 201
    reopened = a1.session(session_id)
    assert reopened["vote"] == "dislike" and reopened["status"] == 50 and not reopened["closed"]
    assert "Conversation reopened" in a1.notes(session_id)
    clock.advance(61)
    assert a1.session(session_id)["closed"]

    late = integrator.say("Hello", user="bob")["session_id"]
    a2 = api(agents[1])
    accepted(a2, late)
    a2.act(late, "close")
    clock.advance(61)
    assert a2.session(late)["closed"]
    clock.advance(86400)
    refused = integrator.rate("like", user="bob")
    assert refused.status_code == 201 and refused.json().get("rating_refused")
    assert a2.session(late)["vote"] is None
    assert starting(integrator.texts(user="bob"), TOO_LATE)


def test_an_ongoing_conversation_may_be_rated_only_with_vote_before_finish(line, integrator, agents, api):
    """§1.7 VOTE_BEFORE_FINISH."""
    configure(line, vote_message=True, vote_before_finish=False)
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    accepted(a1, session_id)
    assert integrator.rate("like").status_code == 409
    configure(line, vote_before_finish=True)
    assert integrator.rate("like").status_code == 201
    assert a1.session(session_id)["vote"] == "like" and not a1.session(session_id)["closed"]


def test_a_messenger_client_rates_by_typing_1_after_the_request(line, integrator, agents, api):
    """§5: in messengers the client answers the request with 1 / 0."""
    configure(line, vote_message=True, full_close_time=10)
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    accepted(a1, session_id)
    a1.act(session_id, "close")
    integrator.say("1")
    assert a1.session(session_id)["vote"] == "like"


def test_an_inactive_line_closes_the_enquiry_at_once_and_tells_the_client(
    line, integrator, agents, api, admin_user
):
    """§1.10 ACTIVE=N: new sessions are closed immediately with the "line is closed" message."""
    configure(line, active=False)
    session_id = integrator.say("Hello")["session_id"]
    assert api(agents[0]).waiting() == []
    assert starting(integrator.texts(), "Sorry, this channel is not active")
    assert api(admin_user).session(session_id)["closed"]
