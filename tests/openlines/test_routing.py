"""Routing (reference §4): modes, availability, capacity, waiting queue, recall."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contactcenter.models import Department
from contactcenter.services.availability import (
    absence_create,
    openlines_pause_set,
    presence_disconnect,
    user_dismiss,
    work_day_clock_in,
    work_day_clock_out,
)
from contactcenter.timers import registered_timers
from openlines.models import OpenLine, QueueMember
from openlines.services import actions, routing
from openlines.session_models import LineAgentState, Session, SessionOffer, SessionStatus
from tests.openlines.conftest import advance, reload

pytestmark = pytest.mark.django_db(transaction=True)


def owners(sessions):
    return [reload(s).operator_id for s in sessions]


def test_evenly_gives_each_enquiry_to_the_least_recently_assigned_agent(write, agents):
    sessions = [write("Hi", who=f"c{i}").session for i in range(4)]
    a, b, c = (u.pk for u in agents)
    assert owners(sessions) == [a, b, c, a]


def test_evenly_takes_the_longest_unassigned_and_breaks_equal_times_by_queue_order(write, agents, connector):
    first, second, third = agents
    earlier = timezone.now() - timedelta(minutes=5)
    # `second` and `third` were last assigned at the same instant (one distribution round), before `first`.
    for user, at in ((first, earlier + timedelta(minutes=1)), (second, earlier), (third, earlier)):
        LineAgentState.objects.update_or_create(
            line=connector.line, user=user, defaults={"last_assigned_at": at}
        )
    sessions = [write("Hi", who=f"c{i}").session for i in range(3)]
    assert owners(sessions) == [second.pk, third.pk, first.pk]


def test_strictly_always_starts_from_the_top_of_the_queue(make_line, agents, connector, write):
    line = connector.line
    line.queue_type = OpenLine.QueueType.STRICTLY
    line.save()
    sessions = [write("Hi", who=f"c{i}").session for i in range(3)]
    assert owners(sessions) == [agents[0].pk] * 3


def test_strictly_walks_the_queue_then_starts_again(connector, write, agents):
    line = connector.line
    line.queue_type = OpenLine.QueueType.STRICTLY
    line.save()
    session = write("Hi").session
    seen = [reload(session).operator_id]
    for _ in range(3):
        advance(61 * (len(seen)))
        seen.append(reload(session).operator_id)
    a, b, c = (u.pk for u in agents)
    assert seen == [a, b, c, a]


def test_to_everybody_offers_to_all_and_the_first_answer_takes_it(connector, write, agents):
    line = connector.line
    line.queue_type = OpenLine.QueueType.ALL
    line.save()
    session = write("Hi").session
    assert set(SessionOffer.objects.filter(session=session).values_list("user_id", flat=True)) == {
        u.pk for u in agents
    }
    assert reload(session).operator_id is None
    actions.session_answer(user=agents[1], session_id=session.pk)
    s = reload(session)
    assert s.operator_id == agents[1].pk and not SessionOffer.objects.filter(session=session).exists()
    with pytest.raises(actions.ActionRefused):
        actions.session_answer(user=agents[2], session_id=session.pk)


def test_availability_check_skips_offline_vacation_and_paused_agents(connector, write, agents):
    line = connector.line
    line.check_available = True
    line.save()
    presence_disconnect(user_id=agents[0].pk)
    today = timezone.localdate()
    absence_create(user_id=agents[1].pk, date_from=today, date_to=today)
    session = write("Hi").session
    assert reload(session).operator_id == agents[2].pk
    openlines_pause_set(user_id=agents[2].pk, paused=True)
    other = write("Hi", who="c2").session
    assert reload(other).undistributed and reload(other).operator_id is None


def test_without_availability_check_offline_agents_still_get_enquiries(connector, write, agents):
    presence_disconnect(user_id=agents[0].pk)
    assert reload(write("Hi").session).operator_id == agents[0].pk


def test_dismissed_agent_never_gets_an_enquiry(connector, write, agents):
    user_dismiss(user_id=agents[0].pk)
    assert reload(write("Hi").session).operator_id == agents[1].pk


def test_max_chat_limits_each_agent_and_the_rest_wait_in_order(make_line, agents, write, connector):
    line = connector.line
    line.max_chat = 1
    line.save()
    sessions = [write("Hi", who=f"c{i}").session for i in range(5)]
    assert sorted(owners(sessions[:3])) == sorted(u.pk for u in agents)
    assert [reload(s).undistributed for s in sessions[3:]] == [True, True]
    # Closing one frees a slot: the oldest waiting enquiry goes first.
    first = reload(sessions[0])
    actions.session_spam(user=first.operator, session_id=first.pk)
    assert reload(sessions[3]).operator_id == first.operator_id
    assert reload(sessions[4]).undistributed


def test_type_max_chat_answered_frees_the_slot_when_the_agent_has_the_last_word(connector, write, agents):
    line = connector.line
    line.max_chat = 1
    line.type_max_chat = OpenLine.TypeMaxChat.ANSWERED
    line.save()
    QueueMember.objects.filter(line=line).exclude(user=agents[0]).delete()
    first = write("Hi", who="c1").session
    waiting = write("Hi", who="c2").session
    assert reload(waiting).undistributed
    actions.message_send(user=agents[0], session_id=first.pk, text="Hello")
    assert reload(waiting).operator_id == agents[0].pk


def test_type_max_chat_closed_counts_until_closed(connector, write, agents):
    line = connector.line
    line.max_chat = 1
    line.type_max_chat = OpenLine.TypeMaxChat.CLOSED
    line.save()
    QueueMember.objects.filter(line=line).exclude(user=agents[0]).delete()
    first = write("Hi", who="c1").session
    waiting = write("Hi", who="c2").session
    actions.message_send(user=agents[0], session_id=first.pk, text="Hello")
    assert reload(waiting).undistributed
    actions.session_close(user=agents[0], session_id=first.pk)
    # Pending close (STATUS 50) no longer counts.
    assert reload(waiting).operator_id == agents[0].pk


def test_agent_coming_online_gets_the_waiting_enquiry(connector, write, agents):
    from contactcenter.services.availability import presence_connect

    line = connector.line
    line.check_available = True
    line.save()
    for agent in agents:
        presence_disconnect(user_id=agent.pk)
    session = write("Hi").session
    assert reload(session).undistributed
    presence_connect(user_id=agents[1].pk)
    assert reload(session).operator_id == agents[1].pk


def test_clock_out_recalls_unanswered_but_keeps_answered_sessions(connector, write, make_user, agents):
    line = connector.line
    line.check_available = True
    line.max_chat = 0
    line.save()
    worker = make_user("worker", uses_time_tracking=True)
    work_day_clock_in(user_id=worker.pk)
    QueueMember.objects.filter(line=line).delete()
    QueueMember.objects.create(line=line, user=worker, sort=0)
    QueueMember.objects.create(line=line, user=agents[0], sort=1)
    line.queue_type = OpenLine.QueueType.STRICTLY
    line.save()
    unanswered = write("Hi", who="c1").session
    answered = write("Hi", who="c2").session
    actions.message_send(user=worker, session_id=answered.pk, text="On it")
    assert reload(unanswered).operator_id == worker.pk
    work_day_clock_out(user_id=worker.pk)
    assert reload(unanswered).operator_id == agents[0].pk
    assert reload(answered).operator_id == worker.pk


def test_recall_skips_lines_where_the_agent_is_the_only_one(connector, write, agents):
    line = connector.line
    QueueMember.objects.filter(line=line).exclude(user=agents[0]).delete()
    session = write("Hi").session
    absence_create(user_id=agents[0].pk, date_from=timezone.localdate(), date_to=timezone.localdate())
    assert reload(session).operator_id == agents[0].pk


def test_dismissal_returns_even_answered_sessions(connector, write, agents):
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Hello")
    user_dismiss(user_id=agents[0].pk)
    s = reload(session)
    assert s.operator_id == agents[1].pk and s.status == SessionStatus.SKIP


def test_removing_an_agent_from_the_queue_returns_their_sessions(connector, write, agents):
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Hello")
    QueueMember.objects.filter(line=connector.line, user=agents[0]).delete()
    assert reload(session).operator_id in (agents[1].pk, agents[2].pk)


def test_department_queue_follows_membership(connector, write, make_user, agents):
    line = connector.line
    QueueMember.objects.filter(line=line).delete()
    sales = Department.objects.create(name="Sales")
    QueueMember.objects.create(line=line, department=sales, sort=0)
    session = write("Hi").session
    assert reload(session).undistributed
    agents[2].profile.departments.add(sales)
    assert reload(session).operator_id == agents[2].pk


def test_skip_passes_to_the_next_agent_or_keeps_it_when_alone(connector, write, agents):
    session = write("Hi").session
    actions.session_skip(user=agents[0], session_id=session.pk)
    assert reload(session).operator_id == agents[1].pk
    QueueMember.objects.filter(line=connector.line).exclude(user=agents[1]).delete()
    with pytest.raises(actions.ActionRefused):
        actions.session_skip(user=agents[1], session_id=session.pk)
    assert reload(session).operator_id == agents[1].pk


def test_transfer_to_a_colleague_and_to_another_line(connector, write, agents, make_line):
    session = write("Hi").session
    actions.session_transfer(user=agents[0], session_id=session.pk, to_user_id=agents[2].pk)
    s = reload(session)
    assert s.operator_id == agents[2].pk and not s.wait_answer
    sales = make_line(queue=[agents[1]], line_name="Sales")
    actions.session_transfer(user=agents[2], session_id=session.pk, to_line_id=sales.pk)
    s = reload(session)
    assert s.line_id == sales.pk and s.operator_id == agents[1].pk and s.wait_answer


def test_transfer_to_self_is_refused(connector, write, agents):
    from django.core.exceptions import ValidationError

    session = write("Hi").session
    with pytest.raises(ValidationError):
        actions.session_transfer(user=agents[0], session_id=session.pk, to_user_id=agents[0].pk)


def test_crm_responsible_gets_the_client_above_limits(connector, write, agents):
    line = connector.line
    line.max_chat = 1
    line.save()
    resolver = routing.register_crm_responsible_resolver(lambda session: agents[2].pk)
    try:
        write("Hi", who="c0")
        sessions = [write("Hi", who=f"c{i}").session for i in range(1, 4)]
    finally:
        routing._crm_responsible_resolvers.remove(resolver)
    assert owners(sessions) == [agents[2].pk] * 3
    assert all(reload(s).operator_from_crm for s in sessions)
    advance(7200)
    assert owners(sessions) == [agents[2].pk] * 3  # no timeout forwarding


def test_waiting_client_is_told_their_position(connector, write, agents):
    from openlines.session_models import RealtimeEvent

    line = connector.line
    line.check_available = True
    line.save()
    for agent in agents:
        presence_disconnect(user_id=agent.pk)
    write("Hi", who="c1")
    second = write("Hi", who="c2").session
    event = RealtimeEvent.objects.filter(session=second, type="queue.position").last()
    assert event.payload == {"position": 2} and event.for_client


def test_off_hours_text_outside_working_hours(connector, write):
    line = connector.line
    line.worktime_enable = True
    line.worktime_timezone = "UTC"
    now = timezone.now()
    line.worktime_from = (now + timedelta(hours=1)).time().replace(microsecond=0)
    line.worktime_to = (now + timedelta(hours=2)).time().replace(microsecond=0)
    line.worktime_dayoff_rule = OpenLine.Rule.TEXT
    line.save()
    session = reload(write("Hi").session)
    if line.worktime_from < line.worktime_to:
        assert not session.worktime and session.send_no_work_time_text
        assert session.messages.filter(text__startswith="Thank you for your message. We are not").exists()


def test_no_agent_ever_exceeds_max_chat_with_many_enquiries(connector, write, agents):
    line = connector.line
    line.max_chat = 2
    line.save()
    for i in range(20):
        write("Hi", who=f"c{i}")
    from django.db.models import Count

    loads = dict(
        Session.objects.filter(closed=False, operator__isnull=False)
        .values_list("operator_id")
        .annotate(n=Count("id"))
        .values_list("operator_id", "n")
    )
    assert loads and max(loads.values()) <= 2
    assert Session.objects.filter(undistributed=True).count() == 20 - 6


def _leave_timer_at(moment):
    """One tick of the timer loop's leave check at `moment` (the other timers left out: a day later every
    offer would also have run out)."""
    return registered_timers()["leave_changes"](moment)


def test_unanswered_enquiries_go_back_when_a_leave_booked_ahead_begins(connector, write, agents, monkeypatch):
    session = write("Hi").session
    assert reload(session).operator_id == agents[0].pk
    tomorrow = timezone.localdate() + timedelta(days=1)
    absence_create(user_id=agents[0].pk, date_from=tomorrow, date_to=tomorrow + timedelta(days=6))
    assert reload(session).operator_id == agents[0].pk  # not on leave yet
    midnight = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: midnight)
    assert _leave_timer_at(midnight) == 1
    assert reload(session).operator_id in (agents[1].pk, agents[2].pk)
    assert _leave_timer_at(midnight) == 0  # told once


def test_an_agent_back_from_leave_gets_the_enquiry_that_waited_for_them(
    make_line, write, agents, monkeypatch
):
    from contactcenter.models import Connector, EmployeeProfile

    EmployeeProfile.objects.update_or_create(user=agents[0], defaults={"uses_time_tracking": True})
    work_day_clock_in(user_id=agents[0].pk)
    line = make_line(queue=[agents[0]], check_available=True)
    connector = Connector.objects.create(kind="rest", line=line, name="Only Ann")
    absence_create(user_id=agents[0].pk, date_from=timezone.localdate(), date_to=timezone.localdate())
    session = write("Hi", connector=connector).session
    assert reload(session).undistributed
    next_day = timezone.now() + timedelta(days=1)
    monkeypatch.setattr(timezone, "now", lambda: next_day)
    assert _leave_timer_at(next_day) == 1
    assert reload(session).operator_id == agents[0].pk


def test_a_leave_entered_in_the_admin_recalls_at_the_next_tick(connector, write, agents, admin_client):
    session = write("Hi").session
    today = timezone.localdate().isoformat()
    added = admin_client.post(
        "/admin/contactcenter/absence/add/",
        {"user": agents[0].pk, "kind": "sick", "date_from": today, "date_to": today},
    )
    assert added.status_code == 302
    _leave_timer_at(timezone.now())
    assert reload(session).operator_id in (agents[1].pk, agents[2].pk)
