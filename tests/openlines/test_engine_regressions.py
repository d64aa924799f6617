"""Regressions found by the engine's state machine (tests/openlines/test_engine_state_machine.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from contactcenter.services.availability import openlines_pause_set
from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import SessionOffer, SessionStatus
from tests.openlines.conftest import advance, reload

pytestmark = pytest.mark.django_db(transaction=True)


def offered_to(session):
    return set(SessionOffer.objects.filter(session=session).values_list("user_id", flat=True))


def test_client_writing_after_an_unaccepted_conversation_was_closed_waits_for_the_agent_again(write, agents):
    session = write("Hi").session
    actions.session_close(user=agents[0], session_id=session.pk)  # closed without answering it
    assert reload(session).status == SessionStatus.WAIT_CLIENT
    write("Wait, I still need help")
    s = reload(session)
    assert s.status == SessionStatus.SKIP and s.wait_answer and not s.wait_action
    assert s.operator_id == agents[0].pk and s.deadlines.filter(kind="queue").exists()
    # ...and the queue rules apply again: nobody answers, the next agent gets it.
    advance(61)
    assert reload(session).operator_id == agents[1].pk


def test_closing_a_to_everybody_offer_withdraws_it_and_a_new_client_message_offers_it_again(
    write, agents, line, admin_user
):
    line.queue_type = OpenLine.QueueType.ALL
    line.save()
    session = write("Hi").session
    actions.session_close(user=admin_user, session_id=session.pk)
    s = reload(session)
    assert s.status == SessionStatus.WAIT_CLIENT and offered_to(s) == set()
    with pytest.raises(PermissionDenied):
        actions.session_answer(user=agents[0], session_id=session.pk)
    write("Hello? I am still here")
    s = reload(session)
    assert s.status == SessionStatus.SKIP and not s.undistributed
    assert offered_to(s) == {a.pk for a in agents}


def test_closing_a_waiting_enquiry_takes_it_out_of_the_waiting_list(write, agents, line, admin_user):
    line.max_chat = 1
    line.save()
    for i in range(3):
        write("Hi", who=f"busy{i}")
    waiting = write("Hi", who="waiting").session
    assert reload(waiting).undistributed
    actions.session_close(user=admin_user, session_id=waiting.pk)
    busy = reload(write("More", who="busy0").session)
    actions.session_spam(user=busy.operator, session_id=busy.pk)  # frees a slot
    s = reload(waiting)
    assert s.status == SessionStatus.WAIT_CLIENT and s.operator_id is None and not s.undistributed


def test_skipping_the_last_to_everybody_offer_passes_it_to_the_other_agents(write, agents, line):
    line.queue_type = OpenLine.QueueType.ALL
    line.save()
    session = write("Hi").session
    actions.session_skip(user=agents[0], session_id=session.pk)
    actions.session_skip(user=agents[1], session_id=session.pk)
    assert offered_to(session) == {agents[2].pk}
    # The last one: the offer goes back to the colleagues who are still eligible.
    actions.session_skip(user=agents[2], session_id=session.pk)
    s = reload(session)
    assert offered_to(s) == {agents[0].pk, agents[1].pk} and not s.undistributed
    assert s.deadlines.filter(kind="queue").exists()


def test_skipping_a_to_everybody_offer_when_nobody_else_can_take_it_is_refused(
    make_line, agents, write, line
):
    line.queue_type = OpenLine.QueueType.ALL
    line.save()
    line.queue.exclude(user=agents[0]).delete()
    session = write("Hi").session
    with pytest.raises(actions.ActionRefused):
        actions.session_skip(user=agents[0], session_id=session.pk)
    s = reload(session)
    assert offered_to(s) == {agents[0].pk} and not s.undistributed


def test_recalled_to_everybody_offer_waits_without_a_stale_forward_deadline(write, agents, line):
    line.queue_type = OpenLine.QueueType.ALL
    line.check_available = True
    line.save()
    line.queue.exclude(user__in=agents[:2]).delete()
    openlines_pause_set(user_id=agents[1].pk, paused=True)
    session = write("Hi").session
    assert offered_to(session) == {agents[0].pk}
    openlines_pause_set(user_id=agents[0].pk, paused=True)
    s = reload(session)
    assert s.undistributed and offered_to(s) == set()
    assert not s.deadlines.filter(kind="queue").exists()


def test_skipping_a_conversation_in_its_closing_phase_reopens_it_for_the_next_agent(write, agents):
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Done?")
    actions.session_close(user=agents[0], session_id=session.pk)
    assert reload(session).wait_action
    actions.session_skip(user=agents[0], session_id=session.pk)
    s = reload(session)
    assert s.operator_id == agents[1].pk and s.status == SessionStatus.SKIP and s.wait_answer
    assert not s.wait_action and not s.deadlines.filter(kind="close").exists()


def test_messenger_rating_after_the_rating_window_is_stored_and_answered_with_a_refusal(
    write, agents, line, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    line.full_close_time = 0
    line.vote_time_limit = 86400
    line.save()
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Done")
    actions.session_close(user=agents[0], session_id=session.pk)
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(days=2))
    result = write("1")  # the channel's message must never be lost
    s = reload(session)
    assert result.message.session_id == s.pk and not result.duplicate
    assert s.closed and s.vote == 0
    visible = list(s.messages.filter(internal=False).values_list("text", flat=True))
    assert visible[-2:] == ["1", "Sorry, the time for rating this conversation has passed."]


def test_agent_whose_presence_expired_gets_the_waiting_enquiry_with_the_next_heartbeat(write, agents, line):
    from datetime import timedelta

    from django.utils import timezone

    from contactcenter.services.availability import presence_disconnect, presence_heartbeat

    line.check_available = True
    line.save()
    presence_disconnect(user_id=agents[1].pk)
    presence_disconnect(user_id=agents[2].pk)
    advance(901)  # agent 0's socket stayed open but sent no heartbeat: the timer marks them offline
    session = write("Hi").session
    assert reload(session).undistributed
    presence_heartbeat(user_id=agents[0].pk, at=timezone.now() + timedelta(seconds=902))
    s = reload(session)
    assert s.operator_id == agents[0].pk and not s.undistributed


def test_raising_max_chat_gives_waiting_clients_to_agents_at_once(write, agents, line):
    from openlines.services.lines import line_update

    line.max_chat = 1
    line.save()
    for i in range(3):
        write("Hi", who=f"busy{i}")
    waiting = write("Hi", who="waiting").session
    assert reload(waiting).undistributed
    line_update(line=OpenLine.objects.get(pk=line.pk), values={"max_chat": 2})
    s = reload(waiting)
    assert not s.undistributed and s.operator_id == agents[0].pk


def test_to_everybody_offers_skip_agents_at_the_global_cap(write, agents, line, make_line, monkeypatch):
    from contactcenter.models import Connector
    from openlines.services import routing

    monkeypatch.setattr(routing, "GLOBAL_MAX_CHAT", 2)
    line.queue.exclude(user=agents[0]).delete()
    write("Hi", who="a")
    write("Hi", who="b")  # agent 0 now holds two conversations: the (lowered) global cap
    everybody = make_line(queue_type=OpenLine.QueueType.ALL, line_name="Everybody")
    channel = Connector.objects.create(kind="rest", line=everybody, name="Everybody")
    session = write("Hi", who="c", connector=channel).session
    assert offered_to(session) == {agents[1].pk, agents[2].pk}


def test_agent_whose_conversation_is_intercepted_gets_the_next_waiting_client(
    write, agents, line, admin_user
):
    line.max_chat = 1
    line.save()
    line.queue.exclude(user=agents[0]).delete()
    first = write("Hi", who="first").session
    waiting = write("Hi", who="waiting").session
    assert reload(waiting).undistributed
    actions.session_intercept(user=admin_user, session_id=first.pk)
    s = reload(waiting)
    assert s.operator_id == agents[0].pk and not s.undistributed


def test_agent_coming_back_does_not_join_a_session_one_agent_already_holds(write, agents, line):
    from contactcenter.services.availability import presence_connect, presence_disconnect
    from openlines.services.lines import line_update

    line.check_available = True
    line.save()
    presence_disconnect(user_id=agents[2].pk)
    held = write("Hi").session  # evenly: one agent holds the offer
    holder = reload(held).operator_id
    line_update(line=OpenLine.objects.get(pk=line.pk), values={"queue_type": OpenLine.QueueType.ALL})
    presence_connect(user_id=agents[2].pk)
    s = reload(held)
    assert s.operator_id == holder and offered_to(s) == {holder}


def test_client_writing_after_rating_a_conversation_nobody_accepted_is_offered_again(
    write, agents, line, admin_user
):
    line.queue_type = OpenLine.QueueType.ALL
    line.full_close_time = 0
    line.save()
    session = write("Hi").session
    actions.session_close(user=admin_user, session_id=session.pk)  # nobody had accepted it
    assert reload(session).closed
    write("1")  # the late rating reopens it into its closing phase
    assert reload(session).status == SessionStatus.WAIT_CLIENT and reload(session).vote == 5
    write("One more question")
    s = reload(session)
    assert s.status == SessionStatus.SKIP and s.wait_answer and not s.wait_action
    assert offered_to(s) == {a.pk for a in agents}


@pytest.mark.parametrize("how", ["closes one", "leaves the other line's queue"])
def test_an_agent_back_below_the_global_cap_gets_a_client_waiting_on_another_line(
    write, agents, line, make_line, monkeypatch, how
):
    from contactcenter.models import Connector
    from openlines.services import routing

    monkeypatch.setattr(routing, "GLOBAL_MAX_CHAT", 2)
    line.full_close_time = 0
    line.save()
    line.queue.exclude(user=agents[0]).delete()
    held = [write("Hi", who=who).session for who in ("a", "b")]  # agent 0 at the (lowered) global cap
    other = make_line(queue=[agents[0]], line_name="Other")
    channel = Connector.objects.create(kind="rest", line=other, name="Other")
    waiting = write("Hi", who="c", connector=channel).session
    assert reload(waiting).undistributed
    if how == "closes one":
        actions.session_close(user=agents[0], session_id=held[0].pk, confirmed=True)
    else:
        line.queue.filter(user=agents[0]).delete()
    assert reload(waiting).operator_id == agents[0].pk
