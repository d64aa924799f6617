"""Connecting and disconnecting channels on the Contact Center page registers and removes webhooks."""

from __future__ import annotations

import json

import httpx
import pytest

from contactcenter.models import Connector, OutboundDelivery, WebhookEvent
from tests.messengers.conftest import BOT_TOKEN, provisioning_answer

pytestmark = pytest.mark.django_db

TOKEN = "AccessTokenValue123"
SECRET = "AppSecretValue123"


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def test_telegram_connect_checks_the_token_and_sets_a_secret_webhook(admin, line, accepting_platform):
    response = admin.post(
        "/contact-center/connect/telegram/", {"line": line.pk, "name": "Shop", "bot_token": BOT_TOKEN}
    )
    assert response.status_code == 302
    connector = Connector.objects.get()
    get_me, set_webhook = accepting_platform
    assert str(get_me.url).endswith("/getMe")
    body = json.loads(set_webhook.content)
    assert body["url"] == f"https://cc.example/connectors/telegram/{connector.uuid}/"
    assert BOT_TOKEN not in body["url"]
    assert body["secret_token"] == connector.secrets["secret_token"]
    assert len(body["secret_token"]) >= 32
    assert "my_chat_member" in body["allowed_updates"]


def test_telegram_token_refused_by_telegram_is_shown_and_nothing_is_kept(admin, line, monkeypatch, settings):
    import contactcenter.connectors.adapters as adapters_module

    settings.CONNECTORS_PUBLIC_URL = "https://cc.example"
    refused = httpx.Response(401, json={"ok": False, "error_code": 401, "description": "Unauthorized"})
    monkeypatch.setattr(
        adapters_module,
        "_shared_client",
        httpx.Client(transport=httpx.MockTransport(lambda request: refused)),
    )
    response = admin.post(
        "/contact-center/connect/telegram/", {"line": line.pk, "name": "Shop", "bot_token": BOT_TOKEN}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Connector.objects.exists()


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (
            "whatsapp",
            {"account_id": "1061", "access_token": TOKEN, "app_secret": SECRET, "business_account_id": "w"},
        ),
        ("messenger", {"account_id": "PAGE1", "page_access_token": TOKEN, "app_secret": SECRET}),
        ("instagram", {"account_id": "IG1", "access_token": TOKEN, "app_secret": SECRET}),
    ],
)
def test_meta_connect_shows_the_callback_url_and_verify_token(admin, line, accepting_platform, kind, data):
    response = admin.post(f"/contact-center/connect/{kind}/", {"line": line.pk, "name": "Shop", **data})
    connector = Connector.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(
        f"/connectors/{connector.pk}/status/"
    )
    page = admin.get(response["Location"]).content.decode()
    assert f'data-testid="callback-url">https://cc.example/connectors/{kind}/</code>' in page
    assert f"https://cc.example/connectors/{kind}/{connector.uuid}/" in page
    assert connector.secrets["verify_token"] in page
    assert SECRET not in page and TOKEN not in page
    assert any("subscribed_apps" in str(r.url) for r in accepting_platform)


def test_viber_connect_registers_the_webhook(admin, line, accepting_platform):
    admin.post(
        "/contact-center/connect/viber/",
        {"line": line.pk, "name": "Vb", "account_id": "vb", "auth_token": "tok"},
    )
    connector = Connector.objects.get()
    [set_webhook] = [r for r in accepting_platform if str(r.url).endswith("/set_webhook")]
    assert json.loads(set_webhook.content)["url"] == f"https://cc.example/connectors/viber/{connector.uuid}/"
    assert set_webhook.headers["x-viber-auth-token"] == "tok"


def test_disconnect_unregisters_the_webhook(admin, line, accepting_platform):
    admin.post("/contact-center/connect/telegram/", {"line": line.pk, "name": "Shop", "bot_token": BOT_TOKEN})
    connector = Connector.objects.get()
    accepting_platform.clear()
    admin.post(f"/contact-center/connectors/{connector.pk}/disconnect/")
    connector.refresh_from_db()
    assert connector.is_disconnected and connector.secrets == {}
    assert [str(r.url).rsplit("/", 1)[-1] for r in accepting_platform] == ["deleteWebhook"]


def test_status_page_shows_last_event_last_error_and_pending_retries(admin, line, channel):
    connector = channel("telegram")
    page = admin.get(f"/contact-center/connectors/{connector.pk}/status/").content.decode()
    assert "No event received yet" in page
    WebhookEvent.objects.create(connector=connector, body=b"{}", dedup_key="a", error="bad <thing>")
    page = admin.get(f"/contact-center/connectors/{connector.pk}/status/").content.decode()
    assert "bad &lt;thing&gt;" in page
    assert 'data-testid="pending-retries">0<' in page
    assert connector.secrets["secret_token"] not in page and BOT_TOKEN not in page


def test_status_page_counts_deliveries_waiting_for_a_retry(admin, line, channel):
    from openlines.session_models import Chat, Client, Message, Session

    connector = channel("telegram")
    customer = Client.objects.create(connector=connector, external_id="1")
    chat = Chat.objects.create(line=line, client=customer, external_chat_id="1")
    session = Session.objects.create(line=line, chat=chat, source="telegram")
    message = Message.objects.create(chat=chat, session=session, author_type="agent", text="x")
    OutboundDelivery.objects.create(message=message, connector=connector, attempts=2, last_error="throttled")
    page = admin.get(f"/contact-center/connectors/{connector.pk}/status/").content.decode()
    assert 'data-testid="pending-retries">1<' in page and "throttled" in page


def test_provisioning_answer_is_a_plain_function():
    assert provisioning_answer(httpx.Request("POST", "https://graph.facebook.com/x")).status_code == 200
