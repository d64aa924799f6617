"""CRM journeys (rule book §1.3, §4.1 step 2, §6): find, create, forward to the responsible person, change
of the responsible person on a transfer, the chat tracker, a lead created by hand. Clients write through the
REST connector; agents read the client panel through `/api/v1/sessions/{id}/crm/` and an administrator
reads the record's responsible person on its admin page."""

from __future__ import annotations

from typing import Any

import pytest

from crm.models import Communication, Contact
from tests.journeys.conftest import configure

pytestmark = pytest.mark.django_db(transaction=True)


def crm_links(agent, session_id: int) -> list[dict[str, Any]]:
    response = agent.get(f"/api/v1/sessions/{session_id}/crm/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def responsible_on_admin_page(admin, link: dict[str, Any]) -> int | None:
    """The responsible person as the record's admin page shows it."""
    page = admin.browser.get(link["url"])
    assert page.status_code == 200
    value = page.context["adminform"].form["responsible"].value()
    return int(value) if value else None


@pytest.fixture
def known_contact(agents):
    """A contact in the CRM with an e-mail, whose responsible person is agent3."""
    contact = Contact.objects.create(name="Vera Known", responsible=agents[2])
    Communication.objects.create(kind="email", value="vera@example.com", contact=contact)
    return contact


def test_a_new_client_gets_a_lead_in_their_name(line, integrator, agents, api):
    """§6.2 CRM_CREATE=lead: title "<client> - <line>", bound to the conversation."""
    configure(line, crm=True, crm_create="lead")
    session_id = integrator.say("Hello", profile={"email": "new@example.com"})["session_id"]
    links = crm_links(api(agents[0]), session_id)
    assert [link["type"] for link in links] == ["lead"]
    assert links[0]["title"].startswith("Client u-1 - Support")


def test_a_known_client_is_found_and_routed_to_the_records_responsible_person(
    line, integrator, agents, api, known_contact
):
    """§6.1 search by e-mail; §4.1 CRM_FORWARD: straight to the responsible person (agent3, who would be
    last in the evenly queue), with the note agents see."""
    configure(line, crm=True, crm_forward=True, crm_create="lead")
    session_id = integrator.say("Hello", profile={"email": "Vera@Example.com"})["session_id"]
    a3 = api(agents[2])
    detail = a3.session(session_id)
    assert detail["operator"]["id"] == agents[2].pk
    assert [(link["type"], link["id"]) for link in crm_links(a3, session_id)] == [
        ("contact", known_contact.pk)
    ]
    assert any("CRM's responsible person" in note for note in a3.notes(session_id))


def test_without_crm_forward_a_known_client_follows_the_queue(line, integrator, agents, api, known_contact):
    """§1.3 CRM_FORWARD=N."""
    configure(line, crm=True, crm_forward=False)
    session_id = integrator.say("Hello", profile={"email": "vera@example.com"})["session_id"]
    assert api(agents[0]).session(session_id)["operator"]["id"] == agents[0].pk


def test_a_manual_transfer_moves_the_lead_to_the_new_agent_only_with_crm_transfer_change(
    line, integrator, agents, api, admin_user
):
    """§1.3 CRM_TRANSFER_CHANGE, §6.4: records created by the conversation follow a manual transfer."""
    configure(line, crm=True, crm_create="lead", crm_transfer_change=True)
    a1, admin = api(agents[0]), api(admin_user)
    session_id = integrator.say("Hello", user="alice")["session_id"]
    assert a1.act(session_id, "answer").status_code == 200
    lead = crm_links(a1, session_id)[0]
    assert responsible_on_admin_page(admin, lead) == agents[0].pk
    assert a1.act(session_id, "transfer", {"user_id": agents[1].pk}).status_code == 200
    assert responsible_on_admin_page(admin, lead) == agents[1].pk

    configure(line, crm_transfer_change=False)
    other = integrator.say("Hello", user="bob")["session_id"]
    holder_id = admin.session(other)["operator"]["id"]
    holder = api(next(user for user in agents if user.pk == holder_id))
    assert holder.act(other, "answer").status_code == 200
    other_lead = crm_links(holder, other)[0]
    before = responsible_on_admin_page(admin, other_lead)
    target = next(user for user in agents if user.pk != holder.user.pk)
    assert holder.act(other, "transfer", {"user_id": target.pk}).status_code == 200
    assert responsible_on_admin_page(admin, other_lead) == before


def test_the_chat_tracker_binds_the_conversation_to_the_record_with_the_typed_e_mail(
    line, integrator, agents, api, known_contact
):
    """§6.5 CRM_CHAT_TRACKER: an e-mail typed in the chat finds the known contact; the agent is told."""
    configure(line, crm=True, crm_chat_tracker=True, crm_create="lead", crm_forward=False)
    a1 = api(agents[0])
    session_id = integrator.say("Hi there", user="anon")["session_id"]
    assert [link["type"] for link in crm_links(a1, session_id)] == ["lead"]
    integrator.say("You can reach me at vera@example.com", user="anon")
    assert ("contact", known_contact.pk) in [(link["type"], link["id"]) for link in crm_links(a1, session_id)]
    internal = [m["text"] for m in a1.messages(session_id) if m["internal"]]
    assert any("vera@example.com" in text or "Vera Known" in text for text in internal), internal
    # The client never sees the CRM notices.
    assert not [text for text in integrator.texts() if "Vera Known" in text]


def test_an_agent_creates_a_lead_by_hand_when_the_line_creates_none(line, integrator, agents, api):
    """§1.3 CRM_CREATE=none: only bind what is found; the agent may create a lead from the chat."""
    configure(line, crm=True, crm_create="none")
    a1 = api(agents[0])
    session_id = integrator.say("Hello")["session_id"]
    assert crm_links(a1, session_id) == []
    created = a1.post(f"/api/v1/sessions/{session_id}/crm/lead/")
    assert created.status_code == 201, created.content
    assert [link["type"] for link in crm_links(a1, session_id)] == ["lead"]
    assert a1.post(f"/api/v1/sessions/{session_id}/crm/lead/").status_code == 409


def test_deal_mode_creates_a_contact_and_a_deal_and_reuses_the_open_deal(line, integrator, agents, api):
    """§6.2 CRM_CREATE=deal, CRM_CREATE_THIRD=Y: a returning client's open deal is used again."""
    configure(line, crm=True, crm_create="deal", crm_create_third=True, full_close_time=0, vote_message=False)
    a1 = api(agents[0])
    first = integrator.say("Hello", profile={"email": "dora@example.com"})["session_id"]
    links = {link["type"]: link["id"] for link in crm_links(a1, first)}
    assert set(links) == {"deal", "contact"}
    a1.act(first, "answer")
    a1.act(first, "close")
    again = integrator.say("Hello again")["session_id"]
    holder = next(api(user) for user in agents if api(user).sees(again))
    assert {link["type"]: link["id"] for link in crm_links(holder, again)}["deal"] == links["deal"]


def test_two_clients_with_the_same_display_name_are_not_bound_to_one_lead(line, integrator, agents, api):
    """§6.1 search by name must not bind two different messenger clients to one lead (docs/crm.md)."""
    configure(line, crm=True, crm_create="lead", crm_forward=True)
    first = integrator.say("Hello", user="one", name="Alex")["session_id"]
    second = integrator.say("Hello", user="two", name="Alex")["session_id"]
    a1 = api(agents[0])
    holder = next(api(user) for user in agents if api(user).sees(second))
    assert crm_links(a1, first)[0]["id"] != crm_links(holder, second)[0]["id"]


async def test_the_live_chat_form_filled_after_the_first_message_reaches_the_crm(line, agents):
    """§1.6 USE_WELCOME_FORM with WELCOME_FORM_DELAY=Y: the form comes after the first message; what the
    visitor fills in updates or creates the CRM records."""
    from asgiref.sync import sync_to_async

    from tests.journeys.conftest import Api, widget_open, widget_say

    await sync_to_async(configure)(line, crm=True, crm_create="lead", use_welcome_form=True)
    widget, _data = await widget_open(line.code)
    await widget_say(widget, "Hello")
    await widget.send({"type": "form", "name": "Petra Form", "email": "petra@example.com", "phone": ""})
    await widget.expect(lambda e: e.get("type") == "form.ok")
    a1 = await sync_to_async(Api)(agents[0])
    session_id = (await sync_to_async(a1.waiting)())[0]
    links = await sync_to_async(crm_links)(a1, session_id)
    assert any("Petra Form" in link["title"] for link in links)
    await widget.close()
