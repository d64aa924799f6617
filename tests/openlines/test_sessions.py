"""Sessions: ingest, start automations, lifecycle and timers (reference §2.3, §4.3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contactcenter.timers import run_due_timers
from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import DeadlineKind, Message, SessionDeadline, SessionStatus
from tests.openlines.conftest import advance, reload

pytestmark = pytest.mark.django_db(transaction=True)


def texts(session, author_type=None, internal=None):
    qs = Message.objects.filter(session=session).order_by("id")
    if author_type:
        qs = qs.filter(author_type=author_type)
    if internal is not None:
        qs = qs.filter(internal=internal)
    return list(qs.values_list("text", flat=True))


def test_first_message_starts_a_session_with_welcome_and_an_owner(write, agents):
    result = write("Hi, my order is late")
    session = reload(result.session)
    assert result.session_created and not result.duplicate
    assert session.status == SessionStatus.NEW and session.mode == "input"
    assert session.operator_id == agents[0].pk and session.wait_answer
    client_visible = texts(session, internal=False)
    assert client_visible[0] == "Hi, my order is late"
    assert client_visible[1].startswith("Hello! Thank you for contacting us")


def test_replay_of_the_same_message_id_stores_nothing(write):
    first = write("Hi", msg_id="ext-1")
    for _ in range(10):
        again = write("Hi", msg_id="ext-1")
        assert again.duplicate and again.message.pk == first.message.pk
    assert Message.objects.filter(author_type="client").count() == 1


def test_next_message_continues_the_open_session(write):
    first = write("Hi")
    second = write("Anyone?")
    assert second.session.pk == first.session.pk and not second.session_created


def test_welcome_only_on_the_first_session_unless_each_session(write, agents, line):
    session = write("Hi").session
    actions.session_close(user=agents[0], session_id=session.pk)
    advance(24 * 3600)
    again = write("Hi again").session
    assert again.pk != session.pk and not again.is_first
    assert not any(t.startswith("Hello! Thank you") for t in texts(again))
    line.send_welcome_each_session = True
    line.save()
    actions.session_close(user=reload(again).operator, session_id=again.pk)
    advance(24 * 3600)
    third = write("Third").session
    assert any(t.startswith("Hello! Thank you") for t in texts(third))


def test_inactive_line_answers_and_closes_at_once(write, line):
    line.active = False
    line.save()
    session = reload(write("Hi").session)
    assert session.closed and session.status == SessionStatus.CLOSE
    assert "not active" in texts(session, internal=False)[-1]


def test_consent_notice_on_the_first_session(write, line):
    from openlines.models import Agreement

    line.agreement_message = True
    line.agreement = Agreement.objects.create(title="Privacy", text="We keep your data safe.")  # required
    line.save()
    session = write("Hi").session
    assert any("personal data" in t for t in texts(session, internal=False))


def test_agent_answer_then_reply_then_client_again(write, agents):
    session = write("Hi").session
    actions.session_answer(user=agents[0], session_id=session.pk)
    assert reload(session).status == SessionStatus.ANSWER
    actions.message_send(user=agents[0], session_id=session.pk, text="How can I help?")
    s = reload(session)
    assert s.status == SessionStatus.OPERATOR and s.date_first_answer is not None
    write("My order")
    assert reload(session).status == SessionStatus.CLIENT_AFTER_OPERATOR


def test_unanswered_enquiry_is_forwarded_after_queue_time(write, agents):
    session = write("Hi").session
    assert reload(session).operator_id == agents[0].pk
    advance(61)
    s = reload(session)
    assert s.operator_id == agents[1].pk and s.status == SessionStatus.SKIP
    assert s.transfers.get().reason == "queue_time"


def test_a_forward_late_in_a_long_timer_tick_gives_the_next_agent_the_whole_queue_time(
    write, agents, line, monkeypatch
):
    session = write("Hi").session
    expires = SessionDeadline.objects.get(session=session, kind=DeadlineKind.QUEUE).due_at
    # The tick started when the offer expired but reaches it 50 s later (a long tick: many due rows).
    reached = expires + timedelta(seconds=50)
    monkeypatch.setattr(timezone, "now", lambda: reached)
    run_due_timers(expires)
    s = reload(session)
    assert s.operator_id == agents[1].pk and s.date_operator == reached
    next_expiry = SessionDeadline.objects.get(session=session, kind=DeadlineKind.QUEUE).due_at
    assert next_expiry == reached + timedelta(seconds=line.queue_time)


def test_no_answer_text_after_no_answer_time(write, line):
    line.no_answer_rule = OpenLine.Rule.TEXT
    line.no_answer_time = 180
    line.queue_time = 3600
    line.save()
    session = write("Hi").session
    advance(179)
    assert not reload(session).send_no_answer_text
    advance(181)
    s = reload(session)
    assert s.send_no_answer_text
    assert texts(s, internal=False)[-1].startswith("Unfortunately, we cannot respond")
    advance(400)
    assert texts(s, internal=False).count(texts(s, internal=False)[-1]) == 1


def test_close_by_agent_sends_close_text_and_rating_request_then_closes_after_delay(write, agents, line):
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Done")
    actions.session_close(user=agents[0], session_id=session.pk)
    s = reload(session)
    assert s.status == SessionStatus.WAIT_CLIENT and s.wait_vote and not s.closed
    visible = texts(s, internal=False)
    assert visible[-2].startswith("Thank you for reaching out") and visible[-1].startswith("Please rate")
    advance(line.full_close_time * 60 - 5)
    assert not reload(session).closed
    advance(line.full_close_time * 60 + 1)
    s = reload(session)
    assert s.closed and s.status == SessionStatus.CLOSE and s.time_dialog is not None


def test_full_close_time_zero_closes_at_once(write, agents, line):
    line.full_close_time = 0
    line.save()
    session = write("Hi").session
    actions.session_close(user=agents[0], session_id=session.pk)
    assert reload(session).closed


def test_client_message_in_the_closing_phase_reopens_the_conversation(write, agents):
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Done")
    actions.session_close(user=agents[0], session_id=session.pk)
    write("Wait, one more thing")
    s = reload(session)
    assert not s.closed and s.status == SessionStatus.CLIENT_AFTER_OPERATOR and not s.wait_action
    assert not s.deadlines.filter(kind="close").exists()


def test_auto_close_after_client_silence(write, agents, line):
    line.auto_close_time = 3600
    line.auto_close_rule = OpenLine.Rule.TEXT
    line.vote_message = False
    line.save()
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Anything else?")
    advance(3599)
    assert not reload(session).closed
    advance(3601)
    s = reload(session)
    assert texts(s, internal=False)[-1].startswith("This conversation has been closed")
    # The auto-close text is something to wait for (the client may still answer) before the full close.
    advance(3601 + line.full_close_time * 60 + 1)
    assert reload(session).closed


def test_rating_from_a_messenger_after_the_close_reopens_within_the_limit(write, agents, line):
    line.full_close_time = 0
    line.vote_time_limit = 86400
    line.save()
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Done")
    actions.session_close(user=agents[0], session_id=session.pk)
    assert reload(session).closed
    result = write("1")
    s = reload(session)
    assert result.session.pk == session.pk
    assert s.vote == 5 and not s.wait_vote
    assert texts(s, internal=False)[-1] == "Thank you for your rating!"


def test_pinned_session_is_not_forwarded(write, agents):
    session = write("Hi").session
    actions.session_answer(user=agents[0], session_id=session.pk)
    actions.session_pin(user=agents[0], session_id=session.pk, pinned=True)
    advance(3 * 3600)
    assert reload(session).operator_id == agents[0].pk


def test_spam_closes_with_status_65(write, agents):
    session = write("Buy now").session
    actions.session_spam(user=agents[0], session_id=session.pk)
    s = reload(session)
    assert s.closed and s.spam and s.status == SessionStatus.SPAM


def test_confirm_close_requires_confirmation(write, agents, line):
    line.confirm_close = True
    line.save()
    session = write("Hi").session
    with pytest.raises(actions.ActionRefused):
        actions.session_close(user=agents[0], session_id=session.pk)
    actions.session_close(user=agents[0], session_id=session.pk, confirmed=True)
    assert reload(session).status == SessionStatus.WAIT_CLIENT


def _written_by_the_client(write, agents, line):
    return write("Hi").session


def _left_unanswered(write, agents, line):
    session = write("Hi").session
    advance(line.no_answer_time + 1)
    return session


def _closed_by_the_agent(write, agents, line):
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Done")
    actions.session_close(user=agents[0], session_id=session.pk)
    return session


def _closed_after_client_silence(write, agents, line):
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Anything else?")
    advance(line.auto_close_time + 1)
    return session


@pytest.mark.parametrize(
    "field, line_settings, happen",
    [
        ("welcome_message_text", {}, _written_by_the_client),
        (
            "no_answer_text",
            {"no_answer_rule": OpenLine.Rule.TEXT, "no_answer_time": 180, "queue_time": 3600},
            _left_unanswered,
        ),
        ("close_text", {}, _closed_by_the_agent),
        (
            "auto_close_text",
            {"auto_close_rule": OpenLine.Rule.TEXT, "auto_close_time": 3600},
            _closed_after_client_silence,
        ),
        (
            "worktime_dayoff_text",
            {
                "worktime_enable": True,
                "worktime_dayoff": ["MO", "TU", "WE", "TH", "FR", "SA", "SU"],
                "worktime_dayoff_rule": OpenLine.Rule.TEXT,
            },
            _written_by_the_client,
        ),
    ],
)
def test_the_client_gets_the_text_the_administrator_wrote_for_the_line(
    write, agents, line, field, line_settings, happen
):
    own = f"Our own words for {field} (Acme support)"
    for name, value in {field: own, **line_settings}.items():
        setattr(line, name, value)
    line.save()
    session = happen(write, agents, line)
    assert own in texts(session, internal=False)
