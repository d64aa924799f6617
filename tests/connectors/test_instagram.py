from __future__ import annotations

import json

import pytest

from contactcenter.connectors.adapters import get_adapter
from contactcenter.connectors.adapters.base import (
    ChannelApiError,
    InstagramCredentials,
    OutboundMedia,
    PayloadError,
    SendError,
    SendResult,
    WebhookRequest,
)
from contactcenter.connectors.adapters.meta import hub_signature

from .conftest import fixture_bytes, fixture_json

IG_ID = "17841400000000001"
CREDS = InstagramCredentials(
    account_id=IG_ID, access_token="IGAAtoken", app_secret="ig-secret", verify_token="vt"
)
FB_CREDS = InstagramCredentials(
    account_id=IG_ID,
    access_token="EAAPage",
    app_secret="fb-secret",
    verify_token="vt",
    login="facebook",
    page_id="555",
)
IGSID = "<IGSID>"


def adapter(platform=None):
    return get_adapter("instagram", client=platform.client if platform else None)


def ig_payload(*items, changes=()):
    entry = {"id": IG_ID, "time": 1761287298065, "messaging": list(items)}
    if changes:
        entry["changes"] = list(changes)
    return {"object": "instagram", "entry": [entry]}


def item(echo=False, **event):
    sender, recipient = (IG_ID, IGSID) if echo else (IGSID, IG_ID)
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": 1761287294014, **event}


def parse(payload):
    return adapter().parse(json.dumps(payload).encode())


def test_signature_uses_the_instagram_app_secret():
    body = fixture_bytes("instagram_incoming_text.json")
    assert adapter().verify(
        WebhookRequest.build(headers={"X-Hub-Signature-256": hub_signature("ig-secret", body)}, body=body),
        CREDS,
    )
    assert not adapter().verify(
        WebhookRequest.build(headers={"X-Hub-Signature-256": hub_signature("fb-secret", body)}, body=body),
        CREDS,
    )


def test_text_fixture():
    batch = adapter().parse(fixture_bytes("instagram_incoming_text.json"))
    (message,) = batch.messages
    assert (message.external_id, message.chat_id, message.sender_id) == ("<MESSAGE_ID>", IGSID, IGSID)
    assert message.text == "This is the first message from the customer"
    assert message.account_id == "<YOUR_APP_USERS_INSTAGRAM_ACCOUNT_ID>"
    assert message.sent_at.timestamp() == pytest.approx(1761287294.014)
    assert batch.dedup_ids == ("<MESSAGE_ID>",)


def test_page_messages_are_not_instagram_messages():
    with pytest.raises(PayloadError):
        adapter().parse(fixture_bytes("messenger_incoming_text.json"))


def test_seen_receipt_marks_the_named_message_and_everything_before_it():
    (status,) = parse(ig_payload(item(read={"mid": "aWdfZAG1"}))).statuses
    assert (status.status, status.external_id, status.cumulative, status.recipient_id) == (
        "read",
        "aWdfZAG1",
        True,
        IGSID,
    )


def test_echo_image_share_and_story_mention():
    attachments = [
        {"type": "image", "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1"}},
        {"type": "ig_post", "payload": {"url": "https://www.instagram.com/p/x", "title": "Post"}},
        {"type": "story_mention", "payload": {"url": "https://lookaside.fbsbx.com/story"}},
    ]
    batch = parse(
        ig_payload(
            item(message={"mid": "m.1", "attachments": attachments}),
            item(echo=True, message={"mid": "m.2", "is_echo": True, "text": "thanks"}),
        )
    )
    incoming, echo = batch.messages
    assert [a.kind for a in incoming.attachments] == ["photo", "share", "share"]
    assert echo.is_echo and echo.chat_id == IGSID


def test_unsent_message_produces_nothing():
    assert parse(ig_payload(item(message={"mid": "m.3", "is_deleted": True}))).messages == ()


def test_dashboard_test_event_in_changes_form_is_parsed():
    change = {"field": "messages", "value": item(message={"mid": "m.test", "text": "test"})}
    (message,) = parse(ig_payload(changes=[change])).messages
    assert message.text == "test"


def test_send_text_with_instagram_login_matches_the_recorded_request(platform):
    platform.reply(json_body={"recipient_id": IGSID, "message_id": "aWdf1"})
    result = adapter(platform).send_text(CREDS, to=IGSID, text="Hi! How can we help?")
    assert result == SendResult(("aWdf1",))
    (request,) = platform.requests
    assert str(request.url) == "https://graph.instagram.com/v25.0/me/messages"
    assert request.headers["authorization"] == "Bearer IGAAtoken"
    assert json.loads(request.content) == fixture_json("instagram_send_text_request.json")


def test_send_text_with_facebook_login_goes_through_the_page(platform):
    platform.reply(json_body={"recipient_id": IGSID, "message_id": "aWdf2"})
    adapter(platform).send_text(FB_CREDS, to=IGSID, text="hi", human_agent_tag=True)
    assert str(platform.requests[0].url) == "https://graph.facebook.com/v25.0/555/messages"
    assert platform.json() == {
        "recipient": {"id": IGSID},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "hi"},
    }


def test_text_is_split_at_1000_utf8_bytes(platform):
    word = "привет"  # 12 bytes
    text = " ".join([word] * 100)  # 1299 bytes
    platform.reply(json_body={"message_id": "a"}).reply(json_body={"message_id": "b"})
    result = adapter(platform).send_text(CREDS, to=IGSID, text=text)
    assert result == SendResult(("a", "b"))
    chunks = [platform.json(i)["message"]["text"] for i in (0, 1)]
    # 77 words and 76 spaces are exactly 1000 bytes
    assert chunks == [" ".join([word] * 77), " ".join([word] * 23)]
    assert all(len(chunk.encode()) <= 1000 for chunk in chunks)


def test_emoji_text_is_never_split_inside_a_character(platform):
    text = "😀" * 300  # 1200 bytes, no spaces
    platform.reply(json_body={"message_id": "a"}).reply(json_body={"message_id": "b"})
    adapter(platform).send_text(CREDS, to=IGSID, text=text)
    chunks = [platform.json(i)["message"]["text"] for i in (0, 1)]
    assert chunks == ["😀" * 250, "😀" * 50]


def test_window_closed_error(platform):
    platform.reply(
        400, {"error": {"message": "outside of allowed window", "code": 10, "error_subcode": 2018278}}
    )
    error = adapter(platform).send_text(CREDS, to=IGSID, text="hi")
    assert isinstance(error, SendError)
    assert (error.category, error.retryable) == ("window_closed", False)


def test_media_by_link_by_upload_and_unsupported_media(platform):
    platform.reply(json_body={"message_id": "m.img"}).reply(json_body={"message_id": "m.up"})
    ok = adapter(platform).send_media(
        CREDS, to=IGSID, media=OutboundMedia("photo", url="https://x.example/p.jpg")
    )
    assert ok == SendResult(("m.img",))
    assert platform.json()["message"] == {
        "attachment": {"type": "image", "payload": {"url": "https://x.example/p.jpg"}}
    }
    upload = adapter(platform).send_media(
        CREDS,
        to=IGSID,
        media=OutboundMedia("photo", content=b"PNG", file_name="a.png", mime_type="image/png"),
    )
    assert upload == SendResult(("m.up",))
    multipart = platform.requests[1]
    assert multipart.headers["content-type"].startswith("multipart/form-data")
    assert b'name="filedata"; filename="a.png"' in multipart.content
    assert b'"type": "image"' in multipart.content
    document = adapter(platform).send_media(
        CREDS, to=IGSID, media=OutboundMedia("document", url="https://x/f.pdf")
    )
    assert document.category == "unsupported"
    assert len(platform.requests) == 2


def test_connect_with_instagram_login_checks_the_account(platform):
    platform.reply(json_body={"user_id": IG_ID, "username": "acme", "id": "app-scoped"})
    platform.reply(json_body={"success": True})
    result = adapter(platform).connect(CREDS, webhook_url="https://cc.example.com/hooks/instagram/1/")
    assert result.account_name == "@acme"
    me, subscribe = platform.requests
    assert str(me.url).startswith("https://graph.instagram.com/v25.0/me?")
    assert subscribe.url.path == "/v25.0/me/subscribed_apps"
    assert subscribe.url.params["subscribed_fields"] == "messages,messaging_seen"


def test_connect_refuses_a_token_of_another_account(platform):
    platform.reply(json_body={"user_id": "999", "username": "someone", "id": "x"})
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).connect(CREDS, webhook_url="https://cc.example.com/hooks/instagram/1/")
    assert caught.value.error.category == "auth"
    assert len(platform.requests) == 1


def test_connect_and_disconnect_with_facebook_login_use_the_page(platform):
    platform.reply(json_body={"id": IG_ID, "username": "acme"}).reply(json_body={"success": True})
    platform.reply(json_body={"success": True})
    adapter(platform).connect(FB_CREDS, webhook_url="https://cc.example.com/hooks/instagram/1/")
    adapter(platform).disconnect(FB_CREDS)
    assert [(r.method, r.url.path) for r in platform.requests] == [
        ("GET", f"/v25.0/{IG_ID}"),
        ("POST", "/v25.0/555/subscribed_apps"),
        ("DELETE", "/v25.0/555/subscribed_apps"),
    ]


def test_facebook_login_needs_the_page_id():
    with pytest.raises(ValueError):
        InstagramCredentials(
            account_id=IG_ID, access_token="t", app_secret="s", verify_token="v", login="facebook"
        )
