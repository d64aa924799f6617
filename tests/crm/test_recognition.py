"""Recognition at the start of a conversation (reference §6.1-§6.3) and `crm_create`."""

from __future__ import annotations

import pytest

from crm.models import (
    Activity,
    Communication,
    Contact,
    Deal,
    Lead,
    Pipeline,
    Semantics,
    SessionCrmBinding,
    Source,
    Stage,
)
from openlines.models import OpenLine

pytestmark = pytest.mark.django_db


def binding(session):
    return SessionCrmBinding.objects.get(session=session)


def test_a_messenger_client_gets_a_lead_with_name_identity_and_automatic_source(line, telegram, say):
    session = say(telegram, who="tg-1", name="Jan Novák")
    lead = Lead.objects.get()
    assert lead.title == "Jan Novák - Support"
    assert lead.name == "Jan Novák"
    assert lead.origin_session_id == session.pk
    assert binding(session).lead == lead and not binding(session).recognized
    assert list(lead.communications.values_list("kind", "value")) == [
        ("im", f"imol|telegram|{telegram.pk}|tg-1")
    ]
    assert lead.source.code == f"{line.pk}|telegram"
    assert lead.source.line == line and lead.source.channel == "telegram"


def test_the_automatic_source_is_one_per_line_and_channel(line, telegram, livechat, say):
    say(telegram, who="a", name="A")
    say(telegram, who="b", name="B")
    say(livechat, who="c", name="C", email="c@example.com")
    assert sorted(Source.objects.values_list("code", flat=True)) == [
        f"{line.pk}|livechat",
        f"{line.pk}|telegram",
    ]


def test_a_named_source_is_used_when_the_line_names_one(line, telegram, say):
    partner = Source.objects.create(code="PARTNER", name="Partner")
    line.crm_source = "PARTNER"
    line.save()
    say(telegram, who="tg-1", name="Jan")
    assert Lead.objects.get().source == partner


def test_no_lead_for_an_anonymous_widget_visitor_without_contacts(livechat, say):
    session = say(livechat, who="visitor-1", name="Guest #17")
    assert not Lead.objects.exists() and not Contact.objects.exists()
    assert binding(session).lead is None
    assert Activity.objects.filter(session=session).exists()


def test_a_widget_visitor_who_left_an_email_gets_a_lead(livechat, say):
    say(livechat, who="visitor-1", name="Guest", email="Eva@Example.com")
    lead = Lead.objects.get()
    assert lead.name == ""  # the guest name is not a name
    assert lead.title == "eva@example.com - Support"
    assert lead.communications.filter(kind="email", value="eva@example.com").exists()


def test_create_none_binds_nothing_and_creates_nothing(line, telegram, say):
    line.crm_create = OpenLine.CrmCreate.NONE
    line.save()
    session = say(telegram, who="tg-1", name="Jan")
    assert not Lead.objects.exists()
    assert binding(session).lead is None


def test_crm_off_keeps_no_binding_and_no_activity(line, telegram, say):
    line.crm = False
    line.save()
    session = say(telegram, who="tg-1", name="Jan")
    assert not Lead.objects.exists()
    assert not SessionCrmBinding.objects.filter(session=session).exists()
    assert not Activity.objects.exists()


def test_the_next_conversation_of_the_same_client_is_recognised_by_messenger_identity(agents, telegram, say):
    first = say(telegram, who="tg-1", name="Jan")
    from openlines.services import actions

    actions.session_close(user=agents[0], session_id=first.pk, confirmed=True)
    actions.session_close(user=agents[0], session_id=first.pk, confirmed=True)
    second = say(telegram, who="tg-1", name="Jan", phone="601 123 456")
    assert second.pk != first.pk
    lead = Lead.objects.get()
    assert binding(second).lead == lead and binding(second).recognized
    # The phone the channel reported later is filled in on the found record, normalised.
    assert lead.communications.filter(kind="phone", value="+420601123456").exists()


def test_a_client_is_recognised_by_a_phone_written_differently_on_another_channel(telegram, livechat, say):
    contact = Contact.objects.create(name="Ivan")
    Communication.objects.create(contact=contact, kind="phone", value="+79123456789")
    session = say(livechat, who="v1", name="Guest", phone="8 (912) 345-67-89")
    assert binding(session).contact == contact
    assert not Lead.objects.exists()
    # The widget identity is added to the contact, so the next chat is recognised directly.
    assert contact.communications.filter(kind="im", value__startswith="imol|livechat|").exists()


def test_a_client_is_recognised_by_email(telegram, say):
    contact = Contact.objects.create(name="Eva")
    Communication.objects.create(contact=contact, kind="email", value="eva@example.com")
    session = say(telegram, who="tg-9", name="E.", email="EVA@example.com")
    assert binding(session).contact == contact and binding(session).recognized


def test_recognition_by_a_unique_name(telegram, say):
    contact = Contact.objects.create(name="Jan Novák")
    session = say(telegram, who="tg-1", name="jan novák")
    assert binding(session).contact == contact


def test_a_name_shared_by_two_contacts_recognises_nobody(telegram, say):
    Contact.objects.create(name="Jan Novák")
    Contact.objects.create(name="Jan Novák")
    session = say(telegram, who="tg-1", name="Jan Novák")
    assert binding(session).contact is None and not binding(session).recognized
    assert binding(session).lead is not None  # a new lead instead


def test_default_guest_names_never_recognise_a_record(livechat, say):
    Contact.objects.create(name="Guest")
    session = say(livechat, who="v1", name="Guest", email="x@example.com")
    assert binding(session).contact is None


# --- deal mode ---------------------------------------------------------------------------------------


@pytest.fixture
def deal_line(line):
    pipeline = Pipeline.objects.create(name="Support contracts")
    Stage.objects.create(pipeline=pipeline, name="Request", sort=10)
    Stage.objects.create(pipeline=pipeline, name="Signed", sort=20, semantics=Semantics.SUCCESS)
    line.crm_create = OpenLine.CrmCreate.DEAL
    line.crm_create_second = str(pipeline.pk)
    line.save()
    return line


def _close(agents, session):
    from openlines.services import actions

    session.line.full_close_time = 0
    session.line.save()
    actions.session_close(user=agents[0], session_id=session.pk, confirmed=True)


def test_deal_mode_creates_a_contact_and_a_deal_in_the_chosen_pipeline(deal_line, telegram, say):
    session = say(telegram, who="tg-1", name="Jan")
    deal = Deal.objects.get()
    assert deal.pipeline.name == "Support contracts" and deal.stage.name == "Request"
    assert deal.contact.name == "Jan"
    assert deal.contact.communications.filter(kind="im").exists()
    assert binding(session).deal == deal and binding(session).contact == deal.contact
    assert not Lead.objects.exists()


def test_deal_mode_reuses_the_open_deal_of_a_returning_client(agents, deal_line, telegram, say):
    first = say(telegram, who="tg-1", name="Jan")
    _close(agents, first)
    second = say(telegram, who="tg-1", name="Jan")
    assert Deal.objects.count() == 1
    assert binding(second).deal == binding(first).deal


def test_deal_mode_creates_a_new_deal_every_time_when_told_to(agents, deal_line, telegram, say):
    deal_line.crm_create_third = False
    deal_line.save()
    first = say(telegram, who="tg-1", name="Jan")
    _close(agents, first)
    second = say(telegram, who="tg-1", name="Jan")
    assert Deal.objects.count() == 2
    assert binding(second).deal != binding(first).deal
    assert binding(second).deal.contact == binding(first).deal.contact


def test_deal_mode_does_not_reuse_a_won_deal(agents, deal_line, telegram, say):
    first = say(telegram, who="tg-1", name="Jan")
    deal = binding(first).deal
    deal.stage = deal.pipeline.stages.get(name="Signed")
    deal.save()
    _close(agents, first)
    second = say(telegram, who="tg-1", name="Jan")
    assert binding(second).deal != deal and Deal.objects.count() == 2


def test_deal_mode_without_a_pipeline_uses_the_default_one(line, telegram, say):
    line.crm_create = OpenLine.CrmCreate.DEAL
    line.crm_create_second = ""
    line.save()
    say(telegram, who="tg-1", name="Jan")
    deal = Deal.objects.get()
    assert deal.pipeline.is_default and deal.stage.semantics == Semantics.PROCESS
