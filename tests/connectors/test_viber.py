from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from contactcenter.connectors.adapters import get_adapter
from contactcenter.connectors.adapters.base import (
    ChannelApiError,
    OutboundMedia,
    PayloadError,
    SendError,
    SendResult,
    ViberCredentials,
    WebhookRequest,
)

from .conftest import fixture_bytes, fixture_json

CREDS = ViberCredentials(
    auth_token="445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9",
    sender_name="My Awesome Bote",
    sender_avatar="http://avatar.example.com",
)
USER = "jAroztUssBNJWDo5Et6FTg=="


def adapter(platform=None):
    return get_adapter("viber", client=platform.client if platform else None)


def sign(body: bytes, token: str = CREDS.auth_token) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def callback(event: str, **fields) -> bytes:
    return json.dumps({"event": event, "timestamp": 1570329737086, **fields}).encode()


def message_callback(message: dict, token: int = 5361461199478174413) -> bytes:
    return callback(
        "message",
        message_token=token,
        sender={"id": USER, "name": "Jensen", "api_version": 8},
        message=message,
        silent=False,
    )


# -- verify / handshake ------------------------------------------------------------------------------


def test_signature_over_the_raw_body_verifies():
    body = fixture_bytes("viber_incoming_text.json")
    assert adapter().verify(
        WebhookRequest.build(headers={"X-Viber-Content-Signature": sign(body)}, body=body), CREDS
    )
    upper = sign(body).upper()
    assert adapter().verify(
        WebhookRequest.build(headers={"x-viber-content-signature": upper}, body=body), CREDS
    )


@pytest.mark.parametrize(
    "headers", [{}, {"X-Viber-Content-Signature": "0" * 64}, {"X-Viber-Content-Signature": "sha256=abc"}]
)
def test_missing_or_wrong_signature_is_refused(headers):
    body = fixture_bytes("viber_incoming_text.json")
    assert not adapter().verify(WebhookRequest.build(headers=headers, body=body), CREDS)


def test_signature_made_with_another_bots_token_is_refused():
    body = fixture_bytes("viber_incoming_text.json")
    request = WebhookRequest.build(headers={"X-Viber-Content-Signature": sign(body, "other")}, body=body)
    assert not adapter().verify(request, CREDS)


def test_webhook_check_callback_gets_200_and_nothing_to_ingest():
    body = callback("webhook", message_token=4912661846655238145)
    response = adapter().handshake(WebhookRequest.build(body=body), CREDS)
    assert response is not None and response.status == 200
    assert adapter().parse(body).is_empty
    assert (
        adapter().handshake(WebhookRequest.build(body=fixture_bytes("viber_incoming_text.json")), CREDS)
        is None
    )


# -- parse ------------------------------------------------------------------------------------------


def test_text_fixture_keeps_the_64_bit_token_exact():
    batch = adapter().parse(fixture_bytes("viber_incoming_text.json"))
    (message,) = batch.messages
    assert message.external_id == "5361461199478174413"
    assert message.external_id != str(int(float(5361461199478174413)))  # what a float would have made of it
    assert (message.chat_id, message.sender_id, message.sender_name) == (USER, USER, "Jensen")
    assert message.text == "Hi"
    assert message.sent_at.timestamp() == pytest.approx(1570329737.086)
    assert batch.dedup_ids == ("5361461199478174413",)


def test_picture_with_caption():
    body = message_callback(
        {
            "type": "picture",
            "text": "my photo",
            "media": "https://dl-media.viber.com/p.jpg",
            "thumbnail": "t",
            "size": 51200,
        }
    )
    (message,) = adapter().parse(body).messages
    (picture,) = message.attachments
    assert (picture.kind, picture.media_ref, picture.size) == (
        "photo",
        "https://dl-media.viber.com/p.jpg",
        51200,
    )
    assert message.text == "my photo"


def test_file_video_sticker_location_contact_and_url():
    cases = [
        ({"type": "file", "media": "https://dl/f.pdf", "size": 10000, "file_name": "a.pdf"}, "document"),
        ({"type": "video", "media": "https://dl/v.mp4", "size": 90000, "duration": 5}, "video"),
        ({"type": "sticker", "sticker_id": 46105, "media": "https://dl/s.png"}, "sticker"),
        ({"type": "location", "location": {"lat": 50.76, "lon": 6.08}}, "location"),
        ({"type": "contact", "contact": {"name": "Ann", "phone_number": "+972511123123"}}, "contact"),
    ]
    for index, (content, kind) in enumerate(cases):
        (message,) = adapter().parse(message_callback(content, token=1000 + index)).messages
        assert message.attachments[0].kind == kind
    (document,) = adapter().parse(message_callback(cases[0][0])).messages[0].attachments
    assert (document.file_name, document.size) == ("a.pdf", 10000)
    (location,) = adapter().parse(message_callback(cases[3][0])).messages[0].attachments
    assert (location.latitude, location.longitude) == (50.76, 6.08)
    (contact,) = adapter().parse(message_callback(cases[4][0])).messages[0].attachments
    assert contact.title == "Ann +972511123123"
    (link,) = adapter().parse(message_callback({"type": "url", "media": "https://example.com"})).messages
    assert link.text == "https://example.com"


def test_delivered_seen_and_failed_receipts():
    token = 4912661846655238145
    delivered = adapter().parse(callback("delivered", message_token=token, user_id=USER))
    seen = adapter().parse(callback("seen", message_token=token, user_id=USER))
    failed = adapter().parse(
        callback("failed", message_token=token, user_id=USER, desc="failure description")
    )
    assert [(s.status, s.external_id, s.recipient_id) for s in delivered.statuses] == [
        ("delivered", str(token), USER)
    ]
    assert seen.statuses[0].status == "read" and seen.statuses[0].cumulative  # "seen" is sent once for all
    assert not delivered.statuses[0].cumulative
    assert (failed.statuses[0].status, failed.statuses[0].error) == ("failed", "failure description")
    assert seen.dedup_ids == (f"{token}:read",)


def test_unsubscribe_is_a_block_and_subscribe_or_start_are_contact_events():
    unsubscribed = adapter().parse(callback("unsubscribed", user_id=USER, message_token=1))
    subscribed = adapter().parse(callback("subscribed", user={"id": USER, "name": "Jensen"}, message_token=2))
    started = adapter().parse(
        callback(
            "conversation_started",
            type="open",
            context="ctx",
            user={"id": USER, "name": "J"},
            subscribed=False,
        )
    )
    assert [(e.kind, e.sender_id) for e in unsubscribed.contact_events] == [("blocked", USER)]
    assert [(e.kind, e.sender_name) for e in subscribed.contact_events] == [("subscribed", "Jensen")]
    assert started.contact_events[0].kind == "conversation_started"
    assert unsubscribed.dedup_ids == (f"unsubscribed:{USER}:1570329737086",)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"timestamp": 1}',
        b'{"event": "message", "timestamp": 1, "sender": {"id": "x"}, "message": {"type": "text"}}',
        b'{"event": "message", "timestamp": 1, "message_token": 1, "message": {"type": "text"}}',
        b'{"event": "delivered", "timestamp": 1}',
    ],
)
def test_malformed_callbacks_raise_a_payload_error(body):
    with pytest.raises(PayloadError):
        adapter().parse(body)


# -- send -------------------------------------------------------------------------------------------


def test_send_text_matches_the_recorded_request(platform):
    platform.reply(json_body=json.loads(fixture_bytes("viber_send_response_ok.json")))
    result = adapter(platform).send_text(
        CREDS, to="jc9HsWTZ2Yf2NkRZ8KcNug==", text="Hello world!", metadata="tracking data"
    )
    assert result == SendResult(("5925484936191962157",))
    (request,) = platform.requests
    assert (request.method, str(request.url)) == ("POST", "https://chatapi.viber.com/pa/send_message")
    assert request.headers["x-viber-auth-token"] == CREDS.auth_token
    assert json.loads(request.content) == fixture_json("viber_send_text_request.json")


def test_response_token_beyond_2_53_stays_exact(platform):
    platform.reply(content=b'{"status":0,"status_message":"ok","message_token":9007199254740993}')
    assert adapter(platform).send_text(CREDS, to=USER, text="hi") == SendResult(("9007199254740993",))


def test_hourly_cap_status_12_is_retryable_even_on_http_200(platform):
    platform.reply(json_body=json.loads(fixture_bytes("viber_send_response_too_many.json")))
    error = adapter(platform).send_text(CREDS, to=USER, text="hi")
    assert isinstance(error, SendError)
    assert (error.retryable, error.category, error.code, error.detail) == (
        True,
        "rate_limited",
        "12",
        "Too many requests",
    )


@pytest.mark.parametrize(
    ("status", "category"),
    [(6, "blocked"), (5, "blocked"), (2, "auth"), (10, "account"), (3, "invalid_request")],
)
def test_error_statuses_are_permanent(platform, status, category):
    platform.reply(json_body={"status": status, "status_message": "x"})
    error = adapter(platform).send_text(CREDS, to=USER, text="hi")
    assert (error.retryable, error.category) == (False, category)


def test_long_text_is_split_at_7000(platform):
    text = "a" * 7000 + "\n" + "b" * 5
    platform.reply(json_body={"status": 0, "message_token": 1}).reply(
        json_body={"status": 0, "message_token": 2}
    )
    assert adapter(platform).send_text(CREDS, to=USER, text=text) == SendResult(("1", "2"))
    assert [platform.json(i)["text"] for i in (0, 1)] == ["a" * 7000, "b" * 5]


def test_sender_name_is_cut_to_28_characters(platform):
    platform.reply(json_body={"status": 0, "message_token": 1})
    long_name = ViberCredentials(auth_token="t", sender_name="N" * 40)
    adapter(platform).send_text(long_name, to=USER, text="hi")
    assert platform.json()["sender"] == {"name": "N" * 28}


def test_picture_and_file_by_link(platform):
    platform.reply(json_body={"status": 0, "message_token": 11}).reply(
        json_body={"status": 0, "message_token": 12}
    )
    picture = OutboundMedia("photo", url="https://cdn.example.com/p.jpg")
    document = OutboundMedia("document", url="https://cdn.example.com/f.pdf", size=2048, file_name="f.pdf")
    assert adapter(platform).send_media(CREDS, to=USER, media=picture, caption="look") == SendResult(("11",))
    assert adapter(platform).send_media(CREDS, to=USER, media=document) == SendResult(("12",))
    assert {k: platform.json(0)[k] for k in ("type", "media", "text")} == {
        "type": "picture",
        "media": "https://cdn.example.com/p.jpg",
        "text": "look",
    }
    assert {k: platform.json(1)[k] for k in ("type", "media", "size", "file_name")} == {
        "type": "file",
        "media": "https://cdn.example.com/f.pdf",
        "size": 2048,
        "file_name": "f.pdf",
    }


def test_uploads_and_files_without_size_are_unsupported(platform):
    upload = adapter(platform).send_media(CREDS, to=USER, media=OutboundMedia("photo", content=b"PNG"))
    sizeless = adapter(platform).send_media(
        CREDS, to=USER, media=OutboundMedia("video", url="https://x/v.mp4")
    )
    assert upload.category == sizeless.category == "unsupported"
    assert platform.requests == []


def test_fetch_media_downloads_the_short_lived_link(platform):
    platform.reply(content=b"DATA", headers={"content-type": "application/pdf"})
    media = adapter(platform).fetch_media(CREDS, "https://dl-media.viber.com/f.pdf")
    assert (media.content, media.mime_type) == (b"DATA", "application/pdf")
    assert "x-viber-auth-token" not in platform.requests[0].headers


# -- connect / disconnect --------------------------------------------------------------------------------


def test_connect_checks_the_account_then_sets_the_webhook(platform):
    platform.reply(
        json_body={"status": 0, "status_message": "ok", "id": "pa:75346594275468546724", "name": "Acme"}
    )
    platform.reply(json_body={"status": 0, "status_message": "ok", "event_types": ["delivered"]})
    result = adapter(platform).connect(CREDS, webhook_url="https://my.host.com")
    assert (result.account_id, result.account_name) == ("pa:75346594275468546724", "Acme")
    info, webhook = platform.requests
    assert info.url.path == "/pa/get_account_info"
    assert webhook.url.path == "/pa/set_webhook"
    assert webhook.headers["x-viber-auth-token"] == CREDS.auth_token
    assert json.loads(webhook.content) == fixture_json("viber_set_webhook_request.json")


def test_connect_with_a_bad_token_fails(platform):
    platform.reply(json_body={"status": 2, "status_message": "invalidAuthToken"})
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).connect(CREDS, webhook_url="https://my.host.com")
    assert caught.value.error.category == "auth"


def test_disconnect_sets_an_empty_webhook(platform):
    platform.reply(json_body={"status": 0, "status_message": "ok"})
    adapter(platform).disconnect(CREDS)
    assert platform.json() == {"url": ""}
