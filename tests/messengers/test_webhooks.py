"""Messenger webhooks at the HTTP level: authenticity, handshakes, replays, batches, payload errors."""

from __future__ import annotations

import json

import pytest

from contactcenter.models import WebhookEvent
from openlines.session_models import Message
from tests.messengers.conftest import (
    meta_signature,
    page_message,
    page_payload,
    post_webhook,
    telegram_update,
    url_of,
    viber_message,
    whatsapp_payload,
    whatsapp_text,
)

pytestmark = pytest.mark.django_db

KINDS = ["telegram", "whatsapp", "messenger", "instagram", "viber"]


def a_message(kind: str, n: int = 1) -> dict:
    if kind == "telegram":
        return telegram_update(n, {"text": "Hello"})
    if kind == "whatsapp":
        return whatsapp_payload(messages=[whatsapp_text(f"wamid.{n}")])
    if kind == "messenger":
        return page_payload("page", "PAGE1", [page_message("PAGE1", f"m.{n}")])
    if kind == "instagram":
        return page_payload("instagram", "IG1", [page_message("IG1", f"ig.{n}")])
    return viber_message(5361461199478174400 + n)


@pytest.mark.parametrize("kind", KINDS)
def test_signed_message_is_stored_and_reaches_the_line(client, channel, settle, kind):
    connector = channel(kind)
    response = settle(lambda: post_webhook(client, connector, a_message(kind)))
    assert response.status_code == 200
    assert WebhookEvent.objects.filter(connector=connector, processed_at__isnull=False).count() == 1
    message = Message.objects.get(connector=connector, author_type="client")
    assert message.text in ("Hello", "Hi")
    assert message.session.line == connector.line


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_signature_is_403_and_stores_nothing(client, channel, settle, kind):
    connector = channel(kind)
    bad = {
        "telegram": {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": "guess"},
        "viber": {"HTTP_X_VIBER_CONTENT_SIGNATURE": "00" * 32},
    }.get(kind, {"HTTP_X_HUB_SIGNATURE_256": meta_signature(b"other body")})
    response = settle(lambda: post_webhook(client, connector, a_message(kind), headers=bad))
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists() and not Message.objects.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_missing_signature_is_403_and_stores_nothing(client, channel, settle, kind):
    connector = channel(kind)
    response = settle(lambda: post_webhook(client, connector, a_message(kind), headers={}))
    assert response.status_code == 403
    assert not WebhookEvent.objects.exists() and not Message.objects.exists()


def test_meta_signature_over_a_reserialised_body_is_refused(client, channel):
    connector = channel("whatsapp")
    payload = whatsapp_payload(messages=[whatsapp_text("wamid.1", "Grüße")])
    sent = json.dumps(payload).encode()  # escaped unicode, as Meta sends
    signature = meta_signature(json.dumps(payload, ensure_ascii=False).encode())
    response = post_webhook(client, connector, sent, headers={"HTTP_X_HUB_SIGNATURE_256": signature})
    assert response.status_code == 403


@pytest.mark.parametrize("kind", ["whatsapp", "messenger", "instagram"])
def test_meta_handshake_echoes_the_challenge_for_the_right_verify_token(client, channel, kind):
    connector = channel(kind)
    token = connector.secrets["verify_token"]
    query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    response = client.get(url_of(connector), query)
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")
    response = client.get(url_of(connector), {**query, "hub.verify_token": "wrong"})
    assert response.status_code == 403


def test_meta_app_level_url_answers_the_handshake_of_any_channel_of_the_kind(client, channel):
    connector = channel("messenger")
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": connector.secrets["verify_token"],
        "hub.challenge": "42",
    }
    assert client.get("/connectors/messenger/", query).content == b"42"
    assert client.get("/connectors/messenger/", {**query, "hub.verify_token": "x"}).status_code == 403


def test_meta_app_level_url_routes_by_phone_number_id(client, channel, settle, make_line):
    connector = channel("whatsapp")
    body = json.dumps(whatsapp_payload(messages=[whatsapp_text("wamid.routed")])).encode()
    response = settle(
        lambda: client.post(
            "/connectors/whatsapp/",
            data=body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=meta_signature(body),
        )
    )
    assert response.status_code == 200
    assert Message.objects.get(external_id="wamid.routed").connector == connector


def test_viber_webhook_check_is_answered_without_storing(client, channel):
    connector = channel("viber")
    response = client.post(
        url_of(connector),
        data={"event": "webhook", "timestamp": 1, "message_token": 1},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_replayed_ten_times_stores_one_message(client, channel, settle, kind):
    connector = channel(kind)
    payload = a_message(kind)
    for _ in range(10):
        assert settle(lambda: post_webhook(client, connector, payload)).status_code == 200
    assert WebhookEvent.objects.filter(connector=connector).count() == 1
    assert Message.objects.filter(connector=connector, author_type="client").count() == 1


def test_whatsapp_batch_with_several_entries_and_messages_stores_every_message(client, channel, settle):
    connector = channel("whatsapp")
    payload = whatsapp_payload(messages=[whatsapp_text("wamid.a", "one"), whatsapp_text("wamid.b", "two")])
    second = whatsapp_payload(messages=[whatsapp_text("wamid.c", "three")])
    payload["entry"].append(second["entry"][0])
    assert settle(lambda: post_webhook(client, connector, payload)).status_code == 200
    texts = list(Message.objects.filter(author_type="client").order_by("id").values_list("text", flat=True))
    assert texts == ["one", "two", "three"]


def test_messenger_batch_of_two_clients_starts_two_conversations(client, channel, settle):
    connector = channel("messenger")
    payload = page_payload(
        "page",
        "PAGE1",
        [
            page_message("PAGE1", "m.1", "from A", sender="A"),
            page_message("PAGE1", "m.2", "from B", sender="B"),
        ],
    )
    assert settle(lambda: post_webhook(client, connector, payload)).status_code == 200
    assert set(Message.objects.values_list("chat__client__external_id", flat=True)) == {"A", "B"}


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_payload_is_400_with_a_reason(client, channel, kind):
    connector = channel(kind)
    response = post_webhook(client, connector, b"{not json")
    assert response.status_code == 400
    assert response.content
    assert not WebhookEvent.objects.exists()


def test_body_over_one_megabyte_is_413(client, channel):
    connector = channel("telegram")
    body = b'{"update_id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert post_webhook(client, connector, body).status_code == 413


def test_unknown_or_inactive_channel_is_404(client, channel):
    connector = channel("telegram", active=False)
    assert post_webhook(client, connector, a_message("telegram")).status_code == 404
    assert client.post("/connectors/telegram/not-a-uuid/").status_code == 404


def test_large_ids_are_kept_exact_as_strings(client, channel, settle):
    connector = channel("viber")
    settle(lambda: post_webhook(client, connector, viber_message(5361461199478174413)))
    assert Message.objects.get(author_type="client").external_id == "5361461199478174413"


def test_event_whose_task_was_lost_is_processed_by_the_timer_later(client, channel, tasks, settle):
    from datetime import timedelta

    from django.utils import timezone

    from contactcenter.timers import run_due_timers

    connector = channel("telegram")
    post_webhook(client, connector, a_message("telegram"))  # its task is queued after commit: never run
    tasks.queued.clear()
    event = WebhookEvent.objects.get()
    assert event.processed_at is None
    settle(lambda: run_due_timers(timezone.now() + timedelta(seconds=30)))
    assert not Message.objects.exists()  # still within the lease
    settle(lambda: run_due_timers(timezone.now() + timedelta(minutes=3)))
    event.refresh_from_db()
    assert event.processed_at is not None and event.attempts == 1
    assert Message.objects.filter(author_type="client").count() == 1


def test_event_that_keeps_failing_is_given_up_with_an_error(client, channel, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from contactcenter.timers import run_due_timers

    connector = channel("telegram")
    post_webhook(client, connector, a_message("telegram"))
    WebhookEvent.objects.update(attempts=5)
    run_due_timers(timezone.now() + timedelta(minutes=3))
    event = WebhookEvent.objects.get()
    assert event.processed_at is not None and event.error


def test_meta_app_level_batch_naming_two_pages_feeds_each_page_its_own_messages(
    client, channel, settle, make_line
):
    from contactcenter.models import Connector

    first = channel("messenger")
    other_line = make_line(line_name="Sales")
    second = Connector.objects.create(
        kind="messenger", line=other_line, name="page 2", account_id="PAGE2", secrets=dict(first.secrets)
    )
    payload = page_payload("page", "PAGE1", [page_message("PAGE1", "m.p1", "to page one")])
    payload["entry"].append(
        page_payload("page", "PAGE2", [page_message("PAGE2", "m.p2", "to page two")])["entry"][0]
    )
    body = json.dumps(payload).encode()
    response = settle(
        lambda: client.post(
            "/connectors/messenger/",
            data=body,
            content_type="application/json",
            HTTP_X_HUB_SIGNATURE_256=meta_signature(body),
        )
    )
    assert response.status_code == 200
    one = Message.objects.get(connector=first, author_type="client")
    two = Message.objects.get(connector=second, author_type="client")
    assert (one.text, one.session.line) == ("to page one", first.line)
    assert (two.text, two.session.line) == ("to page two", other_line)


def test_meta_app_level_post_for_an_unknown_account_is_acknowledged_but_stores_nothing(client, channel):
    channel("messenger")
    body = json.dumps(page_payload("page", "OTHER", [page_message("OTHER", "m.x")])).encode()
    response = client.post(
        "/connectors/messenger/",
        data=body,
        content_type="application/json",
        HTTP_X_HUB_SIGNATURE_256=meta_signature(body),
    )
    assert response.status_code == 200  # Meta disables an app's webhook after failing for long
    assert not WebhookEvent.objects.exists() and not Message.objects.exists()
