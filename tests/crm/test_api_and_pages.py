"""What staff meet: the create-lead API, the client panel fragment, the admin record and activity pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import Activity, Communication, Contact, Lead, SessionCrmBinding
from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import Message
from tests.openlines.conftest import reload

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual_line(line):
    line.crm_create = OpenLine.CrmCreate.NONE
    line.save()
    return line


@pytest.fixture
def conversation(manual_line, telegram, say, agents):
    session = reload(say(telegram, "I need an offer, call +420 601 123 456", who="tg-1", name="Jan Novák"))
    agent = next(a for a in agents if a.pk == session.operator_id)
    actions.message_send(user=agent, session_id=session.pk, text="Sure, what product?")
    return session, agent


def test_the_agent_creates_a_lead_with_one_click(client, conversation):
    session, agent = conversation
    client.force_login(agent)
    response = client.post(f"/api/v1/sessions/{session.pk}/crm/lead/")
    assert response.status_code == 201
    lead = Lead.objects.get()
    assert response.json() == {
        "type": "lead",
        "id": lead.pk,
        "title": "Jan Novák - Support",
        "url": f"/admin/crm/lead/{lead.pk}/change/",
        "type_label": "lead",
    }
    assert lead.name == "Jan Novák" and lead.responsible_id == agent.pk
    assert "Jan Novák: I need an offer, call +420 601 123 456" in lead.comments
    assert "Sure, what product?" in lead.comments
    # The phone the tracker picked up goes with it.
    assert lead.communications.filter(kind="phone", value="+420601123456").exists()
    assert SessionCrmBinding.objects.get(session=session).lead == lead
    assert Message.objects.filter(session=session, internal=True, text__contains="created the lead").exists()
    listed = client.get(f"/api/v1/sessions/{session.pk}/crm/").json()["results"]
    assert [(row["type"], row["id"]) for row in listed] == [("lead", lead.pk)]


def test_a_second_lead_for_the_same_conversation_is_refused(client, conversation):
    session, agent = conversation
    client.force_login(agent)
    assert client.post(f"/api/v1/sessions/{session.pk}/crm/lead/").status_code == 201
    response = client.post(f"/api/v1/sessions/{session.pk}/crm/lead/")
    assert response.status_code == 409
    assert response.json()["errors"]["__all__"] == ["This conversation already has a lead."]
    assert Lead.objects.count() == 1


def test_an_agent_who_cannot_see_the_conversation_cannot_create_a_lead(client, conversation, make_user):
    session, _agent = conversation
    stranger = make_user("stranger", is_staff=True)
    client.force_login(stranger)
    assert client.post(f"/api/v1/sessions/{session.pk}/crm/lead/").status_code == 404
    assert client.get(f"/contact-center/crm/sessions/{session.pk}/panel/").status_code == 404
    assert not Lead.objects.exists()


def test_lead_creation_needs_authentication_and_an_existing_conversation(client, conversation):
    session, agent = conversation
    assert client.post(f"/api/v1/sessions/{session.pk}/crm/lead/").status_code == 401
    client.force_login(agent)
    assert client.post("/api/v1/sessions/999999/crm/lead/").status_code == 404
    assert client.get(f"/api/v1/sessions/{session.pk}/crm/lead/").status_code == 405


def test_lead_creation_checks_csrf_for_browser_sessions(conversation):
    from django.test import Client

    session, agent = conversation
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agent)
    assert browser.post(f"/api/v1/sessions/{session.pk}/crm/lead/").status_code == 403


def test_the_panel_shows_bound_records_and_offers_a_lead_only_without_one(client, conversation):
    session, agent = conversation
    client.force_login(agent)
    page = client.get(f"/contact-center/crm/sessions/{session.pk}/panel/").content.decode()
    assert "Not linked to the CRM yet." in page and "data-crm-create-lead" in page
    client.post(f"/api/v1/sessions/{session.pk}/crm/lead/")
    lead = Lead.objects.get()
    page = client.get(f"/contact-center/crm/sessions/{session.pk}/panel/").content.decode()
    assert f'href="/admin/crm/lead/{lead.pk}/change/"' in page and "data-crm-create-lead" not in page


def test_the_record_page_lists_its_conversations_with_links_to_them(admin_client, telegram, livechat, say):
    contact = Contact.objects.create(name="Jan")
    Communication.objects.create(contact=contact, kind="phone", value="+420601123456")
    first = say(telegram, "Hi", who="tg-1", phone="601123456")
    second = say(livechat, "hello, +420 601 123 456", who="v1", name="Guest")
    page = admin_client.get(reverse("admin:crm_contact_change", args=[contact.pk])).content.decode()
    for session in (first, second):
        activity = Activity.objects.get(session=session)
        assert f'href="/admin/crm/activity/{activity.pk}/change/">#{session.pk}</a>' in page
    assert "Telegram" in page and "Live chat" in page


def test_the_activity_page_shows_the_message_log_escaped(admin_client, telegram, say):
    session = say(telegram, "<script>alert('x')</script> hi", who="tg-1", name="<b>Mallory</b>")
    activity = Activity.objects.get(session=session)
    page = admin_client.get(reverse("admin:crm_activity_change", args=[activity.pk])).content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; hi" in page
    assert "<script>alert" not in page and "<b>Mallory</b>" not in page
    assert f"/admin/crm/lead/{Lead.objects.get().pk}/change/" in page


def test_admin_search_finds_a_record_by_a_phone_written_another_way(admin_client):
    contact = Contact.objects.create(name="Ivan")
    Communication.objects.create(contact=contact, kind="phone", value="+79123456789")
    Contact.objects.create(name="Somebody else")
    page = admin_client.get(
        reverse("admin:crm_contact_changelist"), {"q": "8 (912) 345-67-89"}
    ).content.decode()
    assert "Ivan" in page and "Somebody else" not in page


def test_admin_lists_filter_leads_by_status_and_deals_by_pipeline(admin_client, telegram, say):
    say(telegram, who="tg-1", name="Jan")
    lead = Lead.objects.get()
    page = admin_client.get(reverse("admin:crm_lead_changelist"), {"status__id__exact": lead.status_id})
    assert page.status_code == 200 and "Jan - Support" in page.content.decode()
    assert admin_client.get(reverse("admin:crm_deal_changelist")).status_code == 200
    for name in ("pipeline", "leadstatus", "source", "company", "activity"):
        assert admin_client.get(reverse(f"admin:crm_{name}_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:crm_pipeline_add")).status_code == 200


def test_every_record_page_opens_with_its_conversations(admin_client, line, telegram, say):
    line.crm_create = OpenLine.CrmCreate.DEAL
    line.save()
    session = say(telegram, who="tg-1", name="Jan")
    binding = SessionCrmBinding.objects.get(session=session)
    for record in (binding.deal, binding.contact):
        page = admin_client.get(record.admin_url())
        assert page.status_code == 200
        assert f">#{session.pk}</a>" in page.content.decode()
    lead = Lead.objects.create(title="Offline lead")
    page = admin_client.get(lead.admin_url()).content.decode()
    assert "No conversations yet." in page
