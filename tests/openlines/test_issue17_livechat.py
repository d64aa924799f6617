"""Issue 17, live chat: the contact form reaches the CRM whenever it is filled in (item 2), the consent
notice and the agreement page (item 3), the transcript by e-mail (item 5); driven through the widget's
endpoints and socket, the sessions API and the staff's actions as the pages call them."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from crm.models import Lead
from openlines.services import actions
from openlines.session_models import Session
from tests.api.conftest import api_client
from tests.openlines.test_livechat import receive_until, start, widget

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_rate_limits(fresh_cache):
    yield


@pytest.fixture
def site_line(make_line, agents):
    return make_line(queue=agents[:1], line_name="Website chat", vote_message=True, code="site")


def crm_links(user, session_id: int) -> list[dict]:
    response = api_client(user).get(f"/api/v1/sessions/{session_id}/crm/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


# --- 2. The contact form after the first message ------------------------------------------------------------


async def test_the_contact_form_filled_after_the_first_message_reaches_the_crm(site_line, agents):
    await database_sync_to_async(type(site_line).objects.filter(pk=site_line.pk).update)(
        ignore_welcome_form_responsible=True, crm_transfer_change=False
    )
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Help"})
    await receive_until(ws, "ack")
    session = await database_sync_to_async(Session.objects.get)()
    # An anonymous visitor cannot be contacted back: no record yet.
    assert await database_sync_to_async(crm_links)(agents[0], session.pk) == []
    await ws.send_json_to({"type": "form", "name": "Eve Example", "email": "eve@example.com", "phone": ""})
    assert (await receive_until(ws, "form.ok"))["type"] == "form.ok"
    links = await database_sync_to_async(crm_links)(agents[0], session.pk)
    assert [link["type"] for link in links] == ["lead"]
    lead = await database_sync_to_async(Lead.objects.get)(pk=links[0]["id"])
    assert lead.name == "Eve Example"
    assert lead.responsible_id == agents[0].pk  # the conversation's agent
    # IGNORE_WELCOME_FORM_RESPONSIBLE: the agent who answers first becomes responsible (a transfer alone
    # does not move it on this line).
    await database_sync_to_async(actions.session_transfer)(
        user=agents[0], session_id=session.pk, to_user_id=agents[1].pk
    )
    assert (await database_sync_to_async(Lead.objects.get)(pk=lead.pk)).responsible_id == agents[0].pk
    await database_sync_to_async(actions.message_send)(user=agents[1], session_id=session.pk, text="Hi Eve")
    assert (await database_sync_to_async(Lead.objects.get)(pk=lead.pk)).responsible_id == agents[1].pk
    await ws.disconnect()


# --- 3. Consent: the live chat conversation reaches agents only after it -----------------------------------


async def test_a_live_chat_visitor_reaches_an_agent_only_after_consenting(site_line, agents):
    from openlines.models import Agreement

    def require_consent() -> None:
        agreement = Agreement.objects.create(title="Privacy", text="We keep your data safe.")
        type(site_line).objects.filter(pk=site_line.pk).update(agreement_message=True, agreement=agreement)

    await database_sync_to_async(require_consent)()
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Help"})
    refused = await receive_until(ws, "error")
    assert "consent" in refused["errors"]
    assert not await database_sync_to_async(Session.objects.exists)()
    await ws.send_json_to({"type": "consent"})
    await receive_until(ws, "consent.ok")
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Help"})
    await receive_until(ws, "ack")
    session = await database_sync_to_async(Session.objects.get)()
    assert session.operator_id == agents[0].pk
    texts = await database_sync_to_async(list)(session.messages.values_list("text", flat=True))
    assert not any("personal data" in text for text in texts)  # consent given in the widget: no notice
    await ws.disconnect()
