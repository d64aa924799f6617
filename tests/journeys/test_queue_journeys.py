"""Journeys of the rule book's queue (§1.1, §4): distribution modes, forwarding after the idle time,
availability, limits. Clients write through the REST connector; agents work through the sessions API and
their status endpoint; the absence is entered in the admin."""

from __future__ import annotations

import pytest

from contactcenter.models import Absence
from tests.journeys.conftest import configure

pytestmark = pytest.mark.django_db(transaction=True)


def test_evenly_gives_each_new_enquiry_to_the_least_recently_assigned_agent(integrator, agents, api):
    """§4.2 evenly: round-robin by least recently assigned."""
    first = integrator.say("Hello", user="alice")["session_id"]
    second = integrator.say("Hello", user="bob")["session_id"]
    third = integrator.say("Hello", user="carol")["session_id"]
    fourth = integrator.say("Hello", user="dave")["session_id"]
    a1, a2, a3 = (api(user) for user in agents)
    assert a1.session(first)["operator"]["id"] == agents[0].pk
    assert a2.session(second)["operator"]["id"] == agents[1].pk
    assert a3.session(third)["operator"]["id"] == agents[2].pk
    assert a1.session(fourth)["operator"]["id"] == agents[0].pk
    # Each agent sees only their own enquiry waiting.
    assert a2.waiting() == [second]


def test_strictly_walks_the_queue_in_order_and_starts_again_from_the_top(
    line, integrator, agents, api, clock
):
    """§4.2 strictly: queue order, skipping agents this enquiry already went through; §4.3 forwarding."""
    configure(line, queue_type="strictly", queue_time=60)
    first = integrator.say("Hello", user="alice")["session_id"]
    second = integrator.say("Hello", user="bob")["session_id"]
    a1, a2, a3 = (api(user) for user in agents)
    assert sorted(a1.waiting()) == [first, second]  # both to the first in order, not spread

    clock.advance(61)
    assert a2.session(first)["operator"]["id"] == agents[1].pk
    assert not a1.sees(first)
    clock.advance(61)
    assert a3.session(first)["operator"]["id"] == agents[2].pk
    clock.advance(61)
    assert a1.session(first)["operator"]["id"] == agents[0].pk  # everyone had it: from the top
    assert a1.session(first)["status"] == 5
    assert any("according to queuing rules" in note for note in a1.notes(first))


def test_to_everybody_offers_all_and_the_first_to_answer_takes_it(line, integrator, agents, api, clock):
    """§4.2 all: every available member gets it; the first to answer takes it, the others lose it."""
    configure(line, queue_type="all")
    session_id = integrator.say("Anyone there?")["session_id"]
    a1, a2, a3 = (api(user) for user in agents)
    assert a1.session(session_id)["offered_to"] == sorted(u.pk for u in agents)
    assert a1.session(session_id)["operator"] is None

    assert a2.act(session_id, "answer").status_code == 200
    assert a2.session(session_id)["operator"]["id"] == agents[1].pk
    assert a2.session(session_id)["offered_to"] in ([], [agents[1].pk])
    assert not a1.sees(session_id) and not a3.sees(session_id)
    assert a1.act(session_id, "answer").status_code == 404

    # queue_time is ignored in this mode: an hour passes before the offer is renewed, never forwarded.
    clock.advance(3601)
    assert a2.session(session_id)["operator"]["id"] == agents[1].pk


def test_an_unanswered_offer_is_forwarded_after_the_idle_time(line, integrator, agents, api, clock):
    """§4.3: not accepted within QUEUE_TIME -> the next agent, STATUS 5, a note for the agents."""
    configure(line, queue_time=180)
    session_id = integrator.say("Hello")["session_id"]
    a1, a2 = api(agents[0]), api(agents[1])
    assert a1.waiting() == [session_id]
    clock.advance(179)
    assert a1.waiting() == [session_id]  # not yet
    clock.advance(2)
    assert a1.waiting() == [] and a2.waiting() == [session_id]
    detail = a2.session(session_id)
    assert detail["status"] == 5 and detail["wait_answer"]
    # An accepted enquiry is not forwarded any more.
    assert a2.act(session_id, "answer").status_code == 200
    clock.advance(3600)
    assert a2.session(session_id)["operator"]["id"] == agents[1].pk
    # The client saw the welcome text only; forwarding is internal.
    assert len(integrator.texts()) == 1


def test_a_paused_agent_gets_nothing_and_is_offered_the_waiting_client_on_resume(
    line, integrator, agents, api
):
    """§4.4 availability with CHECK_AVAILABLE: the open-lines pause set by the agent; §4.6 agent returns."""
    configure(line, check_available=True)
    line.queue.exclude(user=agents[0]).delete()
    a1 = api(agents[0])
    assert a1.status("pause").status_code == 200
    session_id = integrator.say("Hello")["session_id"]
    assert a1.waiting() == [] and not a1.sees(session_id)
    assert a1.status("resume").status_code == 200
    assert a1.session(session_id)["operator"]["id"] == agents[0].pk


def test_an_agent_on_leave_is_skipped(
    line, integrator, agents, api, admin_user, clock
):
    """§4.4 absence (VACATION): entered in the admin; the agent is skipped while it lasts."""
    configure(line, check_available=True)
    admin = api(admin_user)
    response = admin.browser.post(
        "/admin/contactcenter/absence/add/",
        {
            "user": agents[0].pk,
            "kind": Absence.Kind.VACATION,
            "date_from": "2026-03-02",
            "date_to": "2026-03-02",
            "note": "dentist",
        },
    )
    assert response.status_code == 302, response.content
    a1, a2 = api(agents[0]), api(agents[1])
    first = integrator.say("Hello", user="alice")["session_id"]
    assert a2.session(first)["operator"]["id"] == agents[1].pk
    second = integrator.say("Hello", user="bob")["session_id"]
    assert api(agents[2]).session(second)["operator"]["id"] == agents[2].pk
    assert a1.waiting() == []


def test_work_day_closed_or_paused_makes_a_time_tracking_agent_unavailable(line, integrator, agents, api):
    """§4.4 work day: with time tracking an agent takes enquiries only with the work day open; ending the
    day recalls their unanswered enquiries (§4.6)."""
    from contactcenter.models import EmployeeProfile

    configure(line, check_available=True)
    line.queue.exclude(user__in=agents[:2]).delete()
    EmployeeProfile.objects.filter(user__in=agents[:2]).update(uses_time_tracking=True)
    a1, a2 = api(agents[0]), api(agents[1])
    assert a1.status("clock_in").status_code == 200
    first = integrator.say("Hello", user="alice")["session_id"]
    assert a1.session(first)["operator"]["id"] == agents[0].pk
    second = integrator.say("Hello", user="bob")["session_id"]
    assert a1.session(second)["operator"]["id"] == agents[0].pk  # agent2's day is not open

    assert a2.status("clock_in").status_code == 200
    assert a1.status("work_pause").status_code == 200
    assert sorted(a2.waiting()) == sorted([first, second])  # recalled and offered to agent2
    assert a1.waiting() == []


@pytest.mark.parametrize(
    ("type_max_chat", "frees_on"),
    [("answered_new", "reply"), ("answered", "reply"), ("closed", "close")],
)
def test_max_chat_counts_by_its_type(line, integrator, agents, api, type_max_chat, frees_on):
    """§4.5: MAX_CHAT per agent on the line; TYPE_MAX_CHAT decides which conversations stop counting."""
    line.queue.exclude(user=agents[0]).delete()
    configure(line, max_chat=1, limit_max_chat=True, type_max_chat=type_max_chat)
    a1 = api(agents[0])
    first = integrator.say("Hello", user="alice")["session_id"]
    second = integrator.say("Hello", user="bob")["session_id"]
    assert a1.waiting() == [first]
    assert a1.session(first)["operator"]["id"] == agents[0].pk
    assert a1.act(first, "answer").status_code == 200
    assert a1.waiting() == [first]  # accepted still counts
    a1.write(first, "How can I help?")
    if frees_on == "reply":
        assert second in a1.waiting()
        if type_max_chat == "answered":
            # The client writes again: the conversation counts again, a third client waits.
            integrator.say("One more thing", user="alice")
            third = integrator.say("Hello", user="carol")["session_id"]
            assert third not in a1.waiting()
    else:
        assert second not in a1.waiting()
        closing = a1.act(first, "close")
        assert closing.status_code == 200
        assert second in a1.waiting()


def test_nobody_available_keeps_the_client_waiting_in_the_queue_until_an_agent_frees_a_slot(
    line, integrator, agents, api, admin_user
):
    """§4.6: nobody available -> undistributed, no operator; handed out when a slot frees."""
    line.queue.exclude(user=agents[0]).delete()
    configure(line, max_chat=1, limit_max_chat=True, type_max_chat="closed")
    a1 = api(agents[0])
    first = integrator.say("Hello", user="alice")["session_id"]
    second = integrator.say("Hello", user="bob")["session_id"]
    waiting = api(admin_user).session(second)
    assert waiting["undistributed"] and waiting["operator"] is None and waiting["offered_to"] == []
    assert not a1.sees(second)
    assert a1.act(first, "close").status_code == 200
    detail = a1.session(second)
    assert detail["operator"]["id"] == agents[0].pk and not detail["undistributed"]


def test_a_department_in_the_queue_brings_its_members(line, integrator, agents, api, admin_user):
    """§1.1 QUEUE with a department: its members take enquiries (set through the lines API)."""
    from tests.access_helpers import department

    team = department("Night shift", agents[2])
    configure(line, queue=[{"type": "department", "id": team.pk, "sort": 1}])
    session_id = integrator.say("Hello")["session_id"]
    assert api(agents[2]).session(session_id)["operator"]["id"] == agents[2].pk
    assert not api(agents[0]).sees(session_id)


def test_a_new_client_waits_behind_those_already_waiting_first_come_first_served(
    line, integrator, agents, api, admin_user
):
    """§4.1 step 3: sessions already waiting undistributed go first; a freed slot takes the oldest."""
    line.queue.exclude(user=agents[0]).delete()
    configure(line, max_chat=1, limit_max_chat=True, type_max_chat="closed", full_close_time=0)
    a1, admin = api(agents[0]), api(admin_user)
    first = integrator.say("Hello", user="alice")["session_id"]
    second = integrator.say("Hello", user="bob")["session_id"]
    third = integrator.say("Hello", user="carol")["session_id"]
    assert admin.session(second)["undistributed"] and admin.session(third)["undistributed"]
    assert a1.act(first, "close").status_code == 200
    assert a1.waiting() == [second]
    assert admin.session(third)["undistributed"]
