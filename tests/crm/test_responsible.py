"""`crm_forward`, responsible people of records, `crm_transfer_change`, the welcome-form rule, and the
conversation's activity (reference §4.1, §6.4, §6.6)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from contactcenter.services.availability import absence_create
from crm.models import Activity, Communication, Contact, Lead
from crm.services.forms import livechat_form_save
from openlines.services import actions
from openlines.session_models import LineAgentState, Message
from tests.openlines.conftest import reload

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(make_user):
    return make_user("boss", first_name="Bob", last_name="Boss", is_staff=True)


def known_contact(responsible, *identities):
    contact = Contact.objects.create(name="Jan", responsible=responsible)
    for value in identities:
        Communication.objects.create(contact=contact, kind="im", value=value)
    return contact


# --- crm_forward ------------------------------------------------------------------------------------


def test_a_recognised_client_goes_to_the_responsible_person_outside_the_queue_and_above_limits(
    line, telegram, say, boss
):
    line.max_chat = 1
    line.check_available = True  # the responsible person is not even online
    line.save()
    known_contact(boss, f"imol|telegram|{telegram.pk}|tg-1", f"imol|telegram|{telegram.pk}|tg-2")
    first = say(telegram, who="tg-1", name="Jan")
    second = say(telegram, who="tg-2", name="Jan at work")
    for session in (first, second):
        session = reload(session)
        assert session.operator_id == boss.pk and session.operator_from_crm
        assert not session.deadlines.filter(kind="queue").exists()  # no forwarding by queue time
    notice = Message.objects.filter(session=first, internal=True).values_list("text", flat=True)
    assert "Enquiry redirected to Bob Boss (CRM's responsible person)" in list(notice)


def test_without_crm_forward_a_recognised_client_goes_through_the_queue(line, agents, telegram, say, boss):
    line.crm_forward = False
    line.save()
    known_contact(boss, f"imol|telegram|{telegram.pk}|tg-1")
    session = reload(say(telegram, who="tg-1"))
    assert session.operator_id in {a.pk for a in agents} and not session.operator_from_crm


def test_an_inactive_responsible_person_does_not_get_the_client(agents, telegram, say, boss):
    boss.is_active = False
    boss.save()
    known_contact(boss, f"imol|telegram|{telegram.pk}|tg-1")
    session = reload(say(telegram, who="tg-1"))
    assert session.operator_id in {a.pk for a in agents}


def test_a_responsible_person_on_leave_does_not_get_the_client(agents, telegram, say, boss):
    today = timezone.localdate()
    absence_create(user_id=boss.pk, date_from=today, date_to=today + datetime.timedelta(days=2))
    known_contact(boss, f"imol|telegram|{telegram.pk}|tg-1")
    session = reload(say(telegram, who="tg-1"))
    assert session.operator_id in {a.pk for a in agents}


def test_a_record_created_by_the_conversation_does_not_count_as_recognised(line, agents, telegram, say):
    session = reload(say(telegram, who="tg-1"))
    assert Lead.objects.get().origin_session_id == session.pk
    assert not session.operator_from_crm


# --- responsible of created records ---------------------------------------------------------------------


def test_a_lead_created_before_routing_gets_the_agent_the_conversation_is_routed_to(
    line, agents, telegram, say
):
    # agent1 is first in the queue but was assigned last: "evenly" picks agent2.
    LineAgentState.objects.create(line=line, user=agents[0], last_assigned_at=timezone.now())
    LineAgentState.objects.create(
        line=line, user=agents[1], last_assigned_at=timezone.now() - datetime.timedelta(hours=1)
    )
    LineAgentState.objects.create(line=line, user=agents[2], last_assigned_at=timezone.now())
    session = reload(say(telegram, who="tg-1"))
    assert session.operator_id == agents[1].pk
    assert Lead.objects.get().responsible_id == agents[1].pk


def test_a_manual_transfer_moves_records_this_conversation_created(agents, telegram, say):
    session = reload(say(telegram, who="tg-1"))
    holder = next(a for a in agents if a.pk == session.operator_id)
    other = next(a for a in agents if a.pk != session.operator_id)
    actions.session_transfer(user=holder, session_id=session.pk, to_user_id=other.pk)
    assert Lead.objects.get().responsible_id == other.pk
    assert Activity.objects.get(session=session).responsible_id == other.pk


def test_a_manual_transfer_leaves_found_records_with_their_owner(line, agents, telegram, say, boss):
    line.crm_forward = False
    line.save()
    contact = known_contact(boss, f"imol|telegram|{telegram.pk}|tg-1")
    session = reload(say(telegram, who="tg-1"))
    holder = next(a for a in agents if a.pk == session.operator_id)
    other = next(a for a in agents if a.pk != session.operator_id)
    actions.session_transfer(user=holder, session_id=session.pk, to_user_id=other.pk)
    contact.refresh_from_db()
    assert contact.responsible_id == boss.pk


def test_without_crm_transfer_change_created_records_keep_their_responsible(line, agents, telegram, say):
    line.crm_transfer_change = False
    line.save()
    session = reload(say(telegram, who="tg-1"))
    holder = next(a for a in agents if a.pk == session.operator_id)
    other = next(a for a in agents if a.pk != session.operator_id)
    actions.session_transfer(user=holder, session_id=session.pk, to_user_id=other.pk)
    assert Lead.objects.get().responsible_id == holder.pk
    assert Activity.objects.get(session=session).responsible_id == other.pk  # the activity is the chat's


def test_an_automatic_forward_does_not_move_records(line, agents, telegram, say):
    from tests.openlines.conftest import advance

    session = reload(say(telegram, who="tg-1"))
    first = session.operator_id
    advance(line.queue_time + 1)
    assert reload(session).operator_id != first
    assert Lead.objects.get().responsible_id == first


# --- the welcome form rule ----------------------------------------------------------------------------


@pytest.fixture
def form_client(line, livechat, say, boss):
    line.crm_forward = False
    line.save()
    contact = Contact.objects.create(name="Eva", responsible=boss)
    Communication.objects.create(contact=contact, kind="email", value="eva@example.com")
    session = reload(say(livechat, who="v1", name="Guest"))
    assert livechat_form_save(session_id=session.pk, name="Eva", email="Eva@example.com") == "found"
    return session, contact


def test_with_the_welcome_form_rule_the_first_answering_agent_becomes_responsible(line, agents, form_client):
    line.ignore_welcome_form_responsible = True
    line.save()
    session, contact = form_client
    agent = next(a for a in agents if a.pk == session.operator_id)
    actions.message_send(user=agent, session_id=session.pk, text="Hello Eva")
    contact.refresh_from_db()
    assert contact.responsible_id == agent.pk


def test_without_the_welcome_form_rule_the_form_record_keeps_its_responsible(agents, form_client, boss):
    session, contact = form_client
    agent = next(a for a in agents if a.pk == session.operator_id)
    actions.message_send(user=agent, session_id=session.pk, text="Hello Eva")
    contact.refresh_from_db()
    assert contact.responsible_id == boss.pk


def test_the_live_chat_form_creates_a_lead_for_a_visitor_who_now_can_be_contacted(livechat, say):
    session = say(livechat, who="v1", name="Guest #3")
    assert not Lead.objects.exists()
    assert livechat_form_save(session_id=session.pk, name="Petr", phone="601 123 456") == "created"
    lead = Lead.objects.get()
    assert lead.name == "Petr" and lead.title == "Petr - Support"
    assert set(lead.communications.values_list("kind", "value")) == {
        ("phone", "+420601123456"),
        ("im", f"imol|livechat|{livechat.pk}|v1"),
    }


def test_the_live_chat_form_fills_in_the_bound_record(livechat, say):
    session = say(livechat, who="v1", name="Guest", email="a@example.com")
    livechat_form_save(session_id=session.pk, name="Ada", phone="+420 601 123 456")
    lead = Lead.objects.get()
    assert lead.name == "Ada"
    assert lead.communications.filter(kind="phone", value="+420601123456").exists()


# --- activity ---------------------------------------------------------------------------------------------


def test_the_activity_is_answered_on_the_first_reply_and_completed_on_close(line, agents, telegram, say):
    line.full_close_time = 0
    line.save()
    session = reload(say(telegram, who="tg-1", name="Jan"))
    activity = Activity.objects.get(session=session)
    assert activity.responsible_id == session.operator_id
    assert not activity.answered and not activity.completed
    agent = next(a for a in agents if a.pk == session.operator_id)
    actions.message_send(user=agent, session_id=session.pk, text="Hello")
    activity.refresh_from_db()
    answered_at = activity.answered_at
    assert answered_at is not None and not activity.completed
    actions.message_send(user=agent, session_id=session.pk, text="Anything else?")
    activity.refresh_from_db()
    assert activity.answered_at == answered_at  # only the first reply counts
    actions.session_close(user=agent, session_id=session.pk, confirmed=True)
    activity.refresh_from_db()
    assert activity.completed and activity.completed_at == reload(session).date_close
