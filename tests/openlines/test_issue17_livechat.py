"""Issue 17, live chat: the contact form reaches the CRM whenever it is filled in (item 2), the consent
notice and the agreement page (item 3), the transcript by e-mail (item 5); driven through the widget's
endpoints and socket, the sessions API and the staff's actions as the pages call them."""

from __future__ import annotations

import uuid
from datetime import timedelta

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


# --- 5. The transcript by e-mail ---------------------------------------------------------------------------


async def test_the_transcript_is_mailed_after_the_close_in_the_lines_language(site_line, agents, settings):
    from django.core import mail

    from contactcenter.background import run_pending_tasks

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    def configure() -> None:
        type(site_line).objects.filter(pk=site_line.pk).update(
            language_id="cs", mail_from="podpora@shop.example", line_name="Obchod", full_close_time=0
        )

    await database_sync_to_async(configure)()
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "form", "name": "Eve", "email": "eve@example.com", "phone": ""})
    await receive_until(ws, "form.ok")
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "<b>Where</b> is it?"})
    await receive_until(ws, "ack")
    session = await database_sync_to_async(Session.objects.get)()
    await database_sync_to_async(actions.message_send)(
        user=agents[0], session_id=session.pk, text="Sent today & tomorrow"
    )
    await database_sync_to_async(actions.session_close)(user=agents[0], session_id=session.pk)
    await database_sync_to_async(run_pending_tasks)()
    [email] = mail.outbox
    assert email.to == ["eve@example.com"] and email.from_email == "Obchod <podpora@shop.example>"
    assert "Obchod" in email.subject
    assert "<b>Where</b> is it?" in email.body and "Sent today & tomorrow" in email.body
    html, kind = email.alternatives[0]
    assert kind == "text/html"
    assert "&lt;b&gt;Where&lt;/b&gt; is it?" in html and "<b>Where</b>" not in html
    assert 'lang="cs"' in html
    await ws.disconnect()


def test_the_visitor_asks_for_the_transcript_and_a_failed_send_is_retried(site_line, agents, settings):
    import json

    from django.core import mail
    from django.test import Client as HttpClient
    from django.utils import timezone

    from contactcenter.background import run_pending_tasks
    from contactcenter.timers import run_due_timers
    from openlines.session_models import TranscriptMail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    data = start("site")
    http = HttpClient()

    def ask():
        return http.post(
            "/livechat/site/transcript/",
            json.dumps({"token": data["token"]}),
            content_type="application/json",
        )

    assert ask().status_code == 400  # no conversation yet
    from openlines.services import livechat

    visitor = livechat.visitor_from_token(line=site_line, token=data["token"])
    livechat.livechat_message_receive(
        line=site_line, visitor=visitor, client_message_id="m-00000001", text="Hi"
    )
    refused = ask()
    assert refused.status_code == 400 and "email" in refused.json()["errors"]  # the address is unknown
    livechat.livechat_contact_save(
        line=site_line, visitor=visitor, name="", email="eve@example.com", phone=""
    )

    broken = {"n": 0}
    real_send = mail.EmailMultiAlternatives.send

    def fail_once(self, *args, **kwargs):
        if broken["n"] == 0:
            broken["n"] += 1
            raise ConnectionRefusedError("SMTP server down")
        return real_send(self, *args, **kwargs)

    from unittest import mock

    with mock.patch.object(mail.EmailMultiAlternatives, "send", fail_once):
        assert ask().status_code == 202
        run_pending_tasks()
        row = TranscriptMail.objects.get()
        assert row.status == "pending" and "SMTP server down" in row.last_error and mail.outbox == []
        run_due_timers(timezone.now() + timedelta(minutes=2))  # the retry is due
        run_pending_tasks()
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2
    [email] = mail.outbox
    assert email.to == ["eve@example.com"] and "Hi" in email.body
    # Visible to staff on the conversation's admin page.
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    http.force_login(admin)
    page = http.get(f"/admin/openlines/session/{row.session_id}/change/")
    assert page.status_code == 200 and "eve@example.com" in page.content.decode()
