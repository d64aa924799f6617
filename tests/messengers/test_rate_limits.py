"""Rate limits of the messenger webhooks over HTTP: per channel (generous, platforms burst), per client
address on the app-level Meta URL; a refused delivery is a 429 with Retry-After and stores nothing."""

from __future__ import annotations

import json
import time

import pytest

from contactcenter import ratelimit
from contactcenter.models import WebhookEvent
from tests.messengers.conftest import (
    meta_signature,
    post_webhook,
    telegram_update,
    viber_message,
    whatsapp_payload,
    whatsapp_text,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def three_per_window(settings, fresh_cache, monkeypatch, tasks):
    settings.WEBHOOK_RATE_LIMIT_PER_MINUTE = 3
    monkeypatch.setattr(ratelimit, "WEBHOOK_WINDOW_SECONDS", 2)


def test_a_channel_over_its_limit_gets_429_with_retry_after_and_nothing_is_stored(client, channel):
    first, second = channel("telegram"), channel("viber")
    codes = [post_webhook(client, first, telegram_update(n, {"text": "Hi"})).status_code for n in range(3)]
    assert codes == [200, 200, 200]

    refused = post_webhook(client, first, telegram_update(99, {"text": "Hi"}))
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 2
    assert "Too many requests" in refused.content.decode()
    assert WebhookEvent.objects.filter(connector=first).count() == 3
    assert post_webhook(client, second, viber_message(5361461199478174401)).status_code == 200

    time.sleep(int(refused["Retry-After"]) + 0.2)
    assert post_webhook(client, first, telegram_update(99, {"text": "Hi"})).status_code == 200
    assert WebhookEvent.objects.filter(connector=first).count() == 4


def test_the_app_level_url_counts_per_client_address(client, channel, settings):
    settings.PROXY_ADDRESS_HEADER = "X-Forwarded-For"
    connector = channel("whatsapp")

    def deliver(n: int, address: str) -> int:
        body = json.dumps(whatsapp_payload(messages=[whatsapp_text(f"wamid.{address}.{n}")])).encode()
        return client.post(
            "/connectors/whatsapp/",
            data=body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=meta_signature(body),
            # The client's own entry comes first; the last one is what our proxy saw.
            HTTP_X_FORWARDED_FOR=f"198.51.100.7, {address}",
        ).status_code

    assert [deliver(n, "203.0.113.1") for n in range(4)] == [200, 200, 200, 429]
    assert deliver(1, "203.0.113.2") == 200
    assert WebhookEvent.objects.filter(connector=connector).count() == 4
