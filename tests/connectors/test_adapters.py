"""The registry and the shared value types, through the public interface."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import RequestFactory

from contactcenter.connectors.adapters import ADAPTER_KINDS, get_adapter
from contactcenter.connectors.adapters.base import (
    ChannelAdapter,
    InstagramCredentials,
    MessengerCredentials,
    ParsedBatch,
    StatusUpdate,
    TelegramCredentials,
    ViberCredentials,
    WebhookRequest,
    WhatsAppCredentials,
    new_secret_token,
)

from .conftest import FIXTURES

SECRET = "very-secret-value-123"


@pytest.mark.parametrize("kind", ["telegram", "whatsapp", "viber", "messenger", "instagram"])
def test_registry_returns_the_adapter_for_each_kind(kind):
    adapter = get_adapter(kind)
    assert isinstance(adapter, ChannelAdapter)
    assert adapter.kind == kind
    assert kind in ADAPTER_KINDS


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        get_adapter("icq")


def test_base_urls_and_graph_version_come_from_settings(settings, platform):
    settings.CONNECTORS_TELEGRAM_API_URL = "https://tg-proxy.internal"
    settings.CONNECTORS_GRAPH_API_URL = "https://graph-proxy.internal"
    settings.CONNECTORS_GRAPH_API_VERSION = "v26.0"
    settings.CONNECTORS_VIBER_API_URL = "https://viber-proxy.internal/pa"
    platform.reply(json_body={"ok": True, "result": {"message_id": 1, "chat": {"id": 5}}})
    platform.reply(json_body={"messages": [{"id": "wamid.1"}]})
    platform.reply(json_body={"status": 0, "message_token": 1})
    get_adapter("telegram", client=platform.client).send_text(
        TelegramCredentials(bot_token="1:abc", secret_token="s"), to="5", text="hi"
    )
    get_adapter("whatsapp", client=platform.client).send_text(
        WhatsAppCredentials("123", "456", "t", "s", "v"), to="1", text="hi"
    )
    get_adapter("viber", client=platform.client).send_text(ViberCredentials("t", "Bot"), to="u", text="hi")
    assert [str(r.url) for r in platform.requests] == [
        "https://tg-proxy.internal/bot1:abc/sendMessage",
        "https://graph-proxy.internal/v26.0/123/messages",
        "https://viber-proxy.internal/pa/send_message",
    ]


def test_credentials_of_another_platform_are_refused():
    with pytest.raises(TypeError):
        get_adapter("viber").verify(WebhookRequest.build(), TelegramCredentials("1:a", "s"))


@pytest.mark.parametrize(
    "credentials",
    [
        TelegramCredentials(bot_token=SECRET, secret_token=SECRET),
        WhatsAppCredentials("1", "2", access_token=SECRET, app_secret=SECRET, verify_token=SECRET),
        MessengerCredentials("1", page_access_token=SECRET, app_secret=SECRET, verify_token=SECRET),
        InstagramCredentials("1", access_token=SECRET, app_secret=SECRET, verify_token=SECRET),
        ViberCredentials(auth_token=SECRET, sender_name="Bot"),
    ],
)
def test_credentials_never_show_secrets_in_repr(credentials):
    assert SECRET not in repr(credentials)


def test_webhook_request_headers_are_case_insensitive_and_hidden_in_repr():
    request = WebhookRequest.build(headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}, body=b"{}")
    assert request.headers["x-telegram-bot-api-secret-token"] == SECRET
    assert request.headers.get("X-TELEGRAM-BOT-API-SECRET-TOKEN") == SECRET
    assert "X-Telegram-Bot-Api-Secret-Token".lower() in request.headers
    assert SECRET not in repr(request)


def test_webhook_request_from_django_keeps_the_raw_body():
    raw = b'{"text": "\\u00e9t\\u00e9",  "spacing": "kept"}'
    django_request = RequestFactory().post(
        "/hooks/whatsapp/x/?a=1",
        data=raw,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256="sha256=ab",
    )
    request = WebhookRequest.from_django(django_request)
    assert request.body == raw
    assert request.method == "POST"
    assert request.query == {"a": "1"}
    assert request.headers["x-hub-signature-256"] == "sha256=ab"


def test_generated_secret_is_acceptable_to_telegram():
    token = new_secret_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", token)
    assert token != new_secret_token()


def test_status_update_needs_a_message_id_or_a_watermark():
    with pytest.raises(ValueError):
        StatusUpdate("read", datetime.now(tz=UTC))


def test_empty_batch():
    assert ParsedBatch().is_empty
    assert ParsedBatch(dedup_ids=("1",)).is_empty


def test_every_recorded_fixture_is_used_by_a_test():
    sources = "".join(path.read_text() for path in Path(__file__).parent.glob("test_*.py"))
    unused = [path.name for path in sorted(FIXTURES.glob("*.json")) if path.name not in sources]
    assert unused == []


@pytest.mark.parametrize("kind", ADAPTER_KINDS)
def test_every_platform_states_what_an_agent_can_send(kind):
    limits = get_adapter(kind).capabilities.media_limits
    assert "photo" in limits and all(limit.max_bytes > 0 for limit in limits.values())


def test_a_file_goes_as_the_kind_its_type_suggests_else_as_a_document_else_not_at_all():
    from contactcenter.connectors.adapters.base import MB, media_kind_choose, media_limits_text

    whatsapp = get_adapter("whatsapp").capabilities.media_limits
    assert media_kind_choose(whatsapp, mime_type="image/png", size=MB) == "photo"
    assert media_kind_choose(whatsapp, mime_type="application/pdf", size=MB) == "document"
    assert media_kind_choose(whatsapp, mime_type="image/png", size=6 * MB) is None  # no PNG documents
    telegram = get_adapter("telegram").capabilities.media_limits
    assert media_kind_choose(telegram, mime_type="image/png", size=12 * MB) == "document"
    assert media_kind_choose(telegram, mime_type="application/zip", size=51 * MB) is None
    assert "images (image/jpeg, image/png) up to 5" in media_limits_text(whatsapp)
