"""The chat tracker (reference §6.5): contacts written by the client are found, saved and linked."""

from __future__ import annotations

import pytest

from crm.models import Communication, Contact, Lead, LeadStatus, SessionCrmBinding
from crm.selectors import crm_links_for_session, record_conversations
from openlines.session_models import Message

pytestmark = pytest.mark.django_db


def notices(session):
    return list(Message.objects.filter(session=session, internal=True).values_list("text", flat=True))


def test_contacts_written_by_the_client_are_saved_on_the_bound_lead(telegram, say):
    session = say(telegram, who="tg-1", name="Jan")
    say(telegram, "call me +420 601 123 456 or 8 (912) 345-67-89, or name@example.com", who="tg-1")
    lead = Lead.objects.get()
    assert set(lead.communications.exclude(kind="im").values_list("kind", "value")) == {
        ("phone", "+420601123456"),
        ("phone", "+79123456789"),
        ("email", "name@example.com"),
    }
    assert SessionCrmBinding.objects.get(session=session).tracked == [
        "+420601123456",
        "+79123456789",
        "name@example.com",
    ]


def test_the_tracker_links_a_telegram_and_a_widget_conversation_of_the_same_person(telegram, livechat, say):
    telegram_chat = say(telegram, "Hi, my number is +420 601 123 456", who="tg-1", name="Jan Novák")
    lead = Lead.objects.get()
    assert lead.communications.filter(kind="phone", value="+420601123456").exists()

    widget_chat = say(livechat, "Hello", who="visitor-9", name="Guest #4")
    assert SessionCrmBinding.objects.get(session=widget_chat).lead is None
    say(livechat, "It's Jan again: 601 123 456, name@example.com", who="visitor-9")

    assert Lead.objects.count() == 1
    assert SessionCrmBinding.objects.get(session=widget_chat).lead == lead
    assert {row["session_id"] for row in record_conversations(lead)} == {telegram_chat.pk, widget_chat.pk}
    # The widget identity and the new e-mail land on the record; the agent sees a notice.
    assert lead.communications.filter(kind="im", value__startswith="imol|livechat|").exists()
    assert lead.communications.filter(kind="email", value="name@example.com").exists()
    assert "The client was found in the CRM: Jan Novák - Support" in notices(widget_chat)
    assert crm_links_for_session(widget_chat)[0]["id"] == lead.pk


def test_a_conversation_moves_from_its_own_new_lead_to_the_known_record(telegram, livechat, say):
    contact = Contact.objects.create(name="Jan")
    Communication.objects.create(contact=contact, kind="email", value="jan@example.com")
    session = say(telegram, "Hi", who="tg-1", name="J")
    fresh = Lead.objects.get()
    say(telegram, "I'm jan@example.com", who="tg-1")
    binding = SessionCrmBinding.objects.get(session=session)
    assert binding.contact == contact and binding.lead is None
    fresh.refresh_from_db()
    assert fresh.status == LeadStatus.objects.get(code="DUPLICATE")
    assert "Duplicate of contact" in fresh.comments
    # The Telegram identity now belongs to the contact: the next chat is recognised at once.
    assert contact.communications.filter(kind="im", value__startswith="imol|telegram|").exists()


def test_a_found_record_does_not_replace_records_found_earlier(telegram, say):
    first = Contact.objects.create(name="Jan")
    Communication.objects.create(contact=first, kind="im", value=f"imol|telegram|{telegram.pk}|tg-1")
    other = Contact.objects.create(name="Eva")
    Communication.objects.create(contact=other, kind="email", value="eva@example.com")
    session = say(telegram, "my wife's address is eva@example.com", who="tg-1")
    assert SessionCrmBinding.objects.get(session=session).contact == first


def test_an_anonymous_visitor_who_writes_an_email_gets_a_lead_and_the_agent_is_told(livechat, say):
    session = say(livechat, "Hi", who="v1", name="Guest")
    assert not Lead.objects.exists()
    say(livechat, "write to me: petr@example.com", who="v1")
    lead = Lead.objects.get()
    assert lead.communications.filter(kind="email", value="petr@example.com").exists()
    assert f"Created in the CRM from the client's details: {lead.title}" in notices(session)


def test_a_contact_written_twice_is_handled_once(telegram, say):
    session = say(telegram, "+420 601 123 456", who="tg-1", name="Jan")
    before = Message.objects.filter(session=session).count()
    say(telegram, "again: 601 123 456", who="tg-1")
    assert Lead.objects.get().communications.filter(kind="phone").count() == 1
    assert Message.objects.filter(session=session).count() == before + 1  # just the client's message


def test_tracker_off_saves_nothing(line, telegram, say):
    line.crm_chat_tracker = False
    line.save()
    say(telegram, "+420 601 123 456", who="tg-1", name="Jan")
    assert not Lead.objects.get().communications.filter(kind="phone").exists()


def test_the_notice_is_in_the_lines_language(line, livechat, say):
    line.language_id = "cs"
    line.save()
    session = say(livechat, "petr@example.com", who="v1", name="Host")
    assert any(text.startswith("V CRM bylo podle údajů klienta vytvořeno") for text in notices(session))
