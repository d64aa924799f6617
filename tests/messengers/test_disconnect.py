"""Disconnecting a channel never deletes history: the Contact Center page's disconnect keeps every client,
conversation, message and CRM link; the channel's webhook then answers as for an inactive channel and
replies to its clients fail visibly; connecting the same account again continues with the same clients.
Deleting a line or a connector with history is refused with a clear message."""

from __future__ import annotations

import json

import httpx
import pytest
from django.test import Client as HttpClient
from django.utils import timezone

import contactcenter.connectors.adapters as adapters_module
from contactcenter.models import Connector, OutboundDelivery
from contactcenter.services.api_tokens import api_token_create
from contactcenter.timers import run_due_timers
from crm.models import Activity, SessionCrmBinding
from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import Chat, Client, Message, Session
from tests.messengers.conftest import (
    BOT_TOKEN,
    make_connector,
    post_webhook,
    provisioning_answer,
    telegram_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def history() -> dict[str, int]:
    return {
        "clients": Client.objects.count(),
        "chats": Chat.objects.count(),
        "sessions": Session.objects.count(),
        "messages": Message.objects.count(),
        "crm_bindings": SessionCrmBinding.objects.count(),
        "crm_activities": Activity.objects.count(),
    }


def connect_telegram(admin, line) -> Connector:
    response = admin.post(
        "/contact-center/connect/telegram/", {"line": line.pk, "name": "Shop", "bot_token": BOT_TOKEN}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return Connector.objects.get(kind="telegram")


def test_disconnect_keeps_history_refuses_traffic_and_reconnecting_continues_with_the_same_client(
    admin, line, make_line, accepting_platform, settle, client
):
    connector = connect_telegram(admin, line)
    first = settle(
        lambda: post_webhook(client, connector, telegram_update(10, {"text": "Where is my order?"}))
    )
    assert first.status_code == 200
    customer = Client.objects.get(connector=connector)
    session = Session.objects.get(chat__client=customer)
    agent = session.offers.first().user
    settle(lambda: actions.session_answer(user=agent, session_id=session.pk))
    before = history()
    assert before["clients"] == 1 and before["messages"] >= 1
    old_secret = connector.secrets["secret_token"]
    accepting_platform.clear()

    # The confirmation page tells the truth, then the admin confirms as the page's form does.
    page = admin.get(f"/contact-center/connectors/{connector.pk}/disconnect/").content.decode()
    assert "Nothing is deleted" in page and "continues with the same clients" in page
    response = admin.post(f"/contact-center/connectors/{connector.pk}/disconnect/")
    assert response.status_code == 302

    connector.refresh_from_db()
    assert connector.is_disconnected and not connector.active
    assert connector.secrets == {}  # the bot token is forgotten
    assert history() == before
    assert [str(r.url).rsplit("/", 1)[-1] for r in accepting_platform] == ["deleteWebhook"]
    listing = admin.get("/contact-center/").content.decode()
    assert "disconnected" in listing and "Connect again" in listing

    # The platform's traffic for the channel is answered as for an inactive channel and not stored.
    late = post_webhook(
        client,
        connector,
        telegram_update(11, {"text": "Hello?"}),
        headers={"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": old_secret},
    )
    assert late.status_code == 404
    assert history() == before

    # The agent's reply fails visibly with the reason, and nothing is sent to the platform.
    _token, key = api_token_create(user=agent, name="t")
    api = HttpClient(headers={"authorization": f"Bearer {key}"})
    accepting_platform.clear()
    reply = settle(
        lambda: api.post(
            f"/api/v1/sessions/{session.pk}/messages/",
            json.dumps({"text": "Still there?"}),
            content_type="application/json",
        )
    )
    assert reply.status_code == 201, reply.content
    assert reply.json()["delivery"] == "failed"
    assert "disconnected" in reply.json()["delivery_error"]
    assert accepting_platform == []

    # Connecting the same bot again, to another line, takes the same connector up again.
    other = make_line(queue=[agent], line_name="Support abroad")
    response = admin.post(
        "/contact-center/connect/telegram/", {"line": other.pk, "name": "Shop", "bot_token": BOT_TOKEN}
    )
    assert response.status_code == 302
    assert Connector.objects.filter(kind="telegram").count() == 1
    connector.refresh_from_db()
    assert connector.active and not connector.is_disconnected and connector.line == other
    assert connector.secrets["bot_token"] == BOT_TOKEN
    assert connector.secrets["secret_token"] != old_secret
    [set_webhook] = [r for r in accepting_platform if str(r.url).endswith("/setWebhook")]
    assert json.loads(set_webhook.content)["secret_token"] == connector.secrets["secret_token"]

    # The client writes again: the same client, their history continued.
    again = settle(lambda: post_webhook(client, connector, telegram_update(12, {"text": "Back again"})))
    assert again.status_code == 200
    assert Client.objects.get() == customer
    assert customer.chats.count() == 2  # one per line: the old line keeps its chat
    assert Message.objects.filter(chat__client=customer, text="Back again").exists()
    assert Message.objects.filter(chat__client=customer, text="Where is my order?").exists()


def test_a_refused_reconnect_leaves_the_channel_disconnected_where_it_was(admin, line, monkeypatch, settings):
    settings.CONNECTORS_PUBLIC_URL = "https://cc.example"
    connector = make_connector(line, "telegram")
    Client.objects.create(connector=connector, external_id="777")
    monkeypatch.setattr(
        adapters_module, "_shared_client", httpx.Client(transport=httpx.MockTransport(provisioning_answer))
    )
    admin.post(f"/contact-center/connectors/{connector.pk}/disconnect/")
    refused = httpx.Response(401, json={"ok": False, "error_code": 401, "description": "Unauthorized"})
    monkeypatch.setattr(
        adapters_module, "_shared_client", httpx.Client(transport=httpx.MockTransport(lambda r: refused))
    )
    response = admin.post(
        "/contact-center/connect/telegram/",
        {"line": "new", "new_line_name": "Elsewhere", "name": "Shop", "bot_token": BOT_TOKEN},
    )
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    connector.refresh_from_db()
    assert connector.is_disconnected and not connector.active and connector.line == line
    assert connector.secrets == {}
    assert Client.objects.filter(connector=connector).count() == 1
    assert not OpenLine.objects.filter(line_name="Elsewhere").exists()


def test_replies_waiting_for_a_retry_fail_with_the_reason_when_the_channel_is_disconnected(
    admin, line, channel, tasks, accepting_platform, django_capture_on_commit_callbacks
):
    connector = channel("telegram")
    customer = Client.objects.create(connector=connector, external_id="777")
    chat = Chat.objects.create(line=line, client=customer, external_chat_id="777")
    session = Session.objects.create(line=line, chat=chat, source="telegram")
    message = Message.objects.create(
        chat=chat, session=session, author_type="agent", text="x", delivery="pending"
    )
    delivery = OutboundDelivery.objects.create(
        message=message,
        connector=connector,
        attempts=2,
        next_attempt_at=timezone.now() + timezone.timedelta(minutes=20),
    )
    admin.post(f"/contact-center/connectors/{connector.pk}/disconnect/")
    with django_capture_on_commit_callbacks(execute=True):
        run_due_timers(timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run()
    delivery.refresh_from_db()
    message.refresh_from_db()
    assert delivery.status == "failed"
    assert message.delivery == "failed" and "disconnected" in message.delivery_error


def test_a_rest_connector_is_reconnected_with_the_button_and_keeps_its_clients(admin, line):
    connector = Connector.objects.create(kind="rest", line=line, name="CRM", secrets={"token_hash": "h"})
    Client.objects.create(connector=connector, external_id="u1")
    admin.post(f"/contact-center/connectors/{connector.pk}/disconnect/")
    connector.refresh_from_db()
    assert connector.is_disconnected and connector.secrets == {"token_hash": "h"}
    assert "Connect again" in admin.get("/contact-center/").content.decode()

    response = admin.post(f"/contact-center/connectors/{connector.pk}/reconnect/")

    assert response.status_code == 302
    connector.refresh_from_db()
    assert connector.active and not connector.is_disconnected
    assert Client.objects.filter(connector=connector).count() == 1


def test_reconnect_needs_the_connectors_right_and_a_post(client, line, make_user):
    from tests.access_helpers import drop_default_assignments

    drop_default_assignments()
    connector = Connector.objects.create(kind="rest", line=line, name="CRM", active=False)
    Connector.objects.filter(pk=connector.pk).update(disconnected_at=timezone.now())
    staff = make_user("plain", is_staff=True)
    client.force_login(staff)
    assert client.get(f"/contact-center/connectors/{connector.pk}/reconnect/").status_code in (403, 404, 405)
    assert client.post(f"/contact-center/connectors/{connector.pk}/reconnect/").status_code in (403, 404)
    connector.refresh_from_db()
    assert connector.is_disconnected


def test_a_disconnected_channel_cannot_be_switched_on_from_the_edit_form(admin, line):
    connector = Connector.objects.create(kind="rest", line=line, name="CRM", active=False)
    Connector.objects.filter(pk=connector.pk).update(disconnected_at=timezone.now())
    response = admin.post(f"/contact-center/connectors/{connector.pk}/", {"name": "CRM", "active": "on"})
    assert response.status_code == 200
    assert "connect it again" in response.content.decode()
    connector.refresh_from_db()
    assert not connector.active


def test_a_line_with_history_is_not_deleted_by_the_admin_or_the_api(
    admin, line, channel, admin_user, accepting_platform
):
    connector = channel("telegram")
    customer = Client.objects.create(connector=connector, external_id="777")
    chat = Chat.objects.create(line=line, client=customer, external_chat_id="777")
    session = Session.objects.create(line=line, chat=chat, source="telegram")
    Message.objects.create(chat=chat, session=session, author_type="client", text="hi")
    before = history()

    page = admin.get(f"/admin/openlines/openline/{line.pk}/delete/").content.decode()
    assert "cannot be deleted" in page and "1 conversation with 1 message" in page
    admin.post(f"/admin/openlines/openline/{line.pk}/delete/", {"post": "yes"})
    _token, key = api_token_create(user=admin_user, name="t")
    response = HttpClient(headers={"authorization": f"Bearer {key}"}).delete(f"/api/v1/lines/{line.pk}/")

    assert response.status_code == 409
    assert "cannot be deleted" in json.dumps(response.json())
    assert OpenLine.objects.filter(pk=line.pk).exists()
    assert Connector.objects.filter(pk=connector.pk).exists()
    assert history() == before


def test_the_admin_does_not_delete_a_connector_with_clients(admin, line, channel):
    connector = channel("telegram")
    Client.objects.create(connector=connector, external_id="777")
    page = admin.get(f"/admin/contactcenter/connector/{connector.pk}/delete/").content.decode()
    assert "never deleted" in page and "Disconnect it on the Contact Center page" in page
    admin.post(f"/admin/contactcenter/connector/{connector.pk}/delete/", {"post": "yes"})
    assert Connector.objects.filter(pk=connector.pk).exists()
    assert Client.objects.filter(connector=connector).count() == 1


def test_a_line_without_history_is_still_deleted_with_its_unused_connectors(admin, line):
    Connector.objects.create(kind="livechat", line=line, name="chat")
    response = admin.post(f"/admin/openlines/openline/{line.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not OpenLine.objects.filter(pk=line.pk).exists()
    assert not Connector.objects.exists()


def test_a_disconnected_messenger_channel_can_be_renamed_without_credentials(admin, line, accepting_platform):
    connector = make_connector(line, "telegram")
    admin.post(f"/contact-center/connectors/{connector.pk}/disconnect/")
    response = admin.post(f"/contact-center/connectors/{connector.pk}/", {"name": "Old shop bot"})
    assert response.status_code == 302
    connector.refresh_from_db()
    assert connector.name == "Old shop bot" and connector.is_disconnected and connector.secrets == {}
