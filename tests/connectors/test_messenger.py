from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from contactcenter.connectors.adapters import get_adapter
from contactcenter.connectors.adapters.base import (
    ChannelApiError,
    MessengerCredentials,
    OutboundMedia,
    PayloadError,
    SendError,
    SendResult,
    WebhookRequest,
)
from contactcenter.connectors.adapters.meta import hub_signature

from .conftest import fixture_bytes, fixture_json

CREDS = MessengerCredentials(
    page_id="<PAGE_ID>".strip("<>"), page_access_token="EAAPage", app_secret="s3cret", verify_token="vt-1"
)
PAGE = "PAGE_ID"
PSID = "<PSID>"


def adapter(platform=None):
    return get_adapter("messenger", client=platform.client if platform else None)


def page_payload(*entries):
    return {"object": "page", "entry": list(entries)}


def entry(*items, page=PAGE, time=1458692752478, key="messaging"):
    return {"id": page, "time": time, key: list(items)}


def item(psid=PSID, timestamp=1458692752478, echo=False, **event):
    sender, recipient = (PAGE, psid) if echo else (psid, PAGE)
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": timestamp, **event}


def parse(payload):
    return adapter().parse(json.dumps(payload).encode())


def test_signature_and_handshake_use_the_page_channel_secrets():
    body = fixture_bytes("messenger_incoming_text.json")
    signed = WebhookRequest.build(headers={"x-hub-signature-256": hub_signature("s3cret", body)}, body=body)
    assert adapter().verify(signed, CREDS)
    assert not adapter().verify(WebhookRequest.build(body=body), CREDS)
    query = {"hub.mode": "subscribe", "hub.verify_token": "vt-1", "hub.challenge": "42"}
    assert adapter().handshake(WebhookRequest.build("GET", query=query), CREDS).body == b"42"
    query["hub.verify_token"] = "nope"
    assert adapter().handshake(WebhookRequest.build("GET", query=query), CREDS).status == 403


def test_text_fixture():
    batch = adapter().parse(fixture_bytes("messenger_incoming_text.json"))
    (message,) = batch.messages
    assert message.external_id == "mid.1457764197618:41d102a3e1ae206a38"
    assert (message.chat_id, message.sender_id, message.account_id) == (PSID, PSID, "<PAGE_ID>")
    assert message.text == "hello, world!"
    assert message.sent_at == datetime.fromtimestamp(1458692752.478, tz=UTC)
    assert batch.dedup_ids == ("mid.1457764197618:41d102a3e1ae206a38",)
    assert adapter().route_keys(fixture_bytes("messenger_incoming_text.json")) == ("<PAGE_ID>",)


def test_attachments_of_every_kind():
    attachments = [
        {"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/p.jpg"}},
        {"type": "audio", "payload": {"url": "https://cdn.fbsbx.com/a.mp4"}},
        {"type": "video", "payload": {"url": "https://cdn.fbsbx.com/v.mp4"}},
        {"type": "file", "payload": {"url": "https://cdn.fbsbx.com/f.pdf"}},
        {"type": "location", "title": "Pin", "payload": {"coordinates": {"lat": 48.85, "long": 2.35}}},
        {"type": "fallback", "payload": {"url": "https://example.com/article", "title": "An article"}},
    ]
    (message,) = parse(page_payload(entry(item(message={"mid": "m.1", "attachments": attachments})))).messages
    kinds = [(a.kind, a.media_ref) for a in message.attachments]
    assert kinds == [
        ("photo", "https://scontent.xx.fbcdn.net/p.jpg"),
        ("audio", "https://cdn.fbsbx.com/a.mp4"),
        ("video", "https://cdn.fbsbx.com/v.mp4"),
        ("document", "https://cdn.fbsbx.com/f.pdf"),
        ("location", None),
        ("share", "https://example.com/article"),
    ]
    location = message.attachments[4]
    assert (location.latitude, location.longitude, location.title) == (48.85, 2.35, "Pin")
    assert message.attachments[5].title == "An article"
    assert message.text is None


def test_sticker_sent_both_as_sticker_and_image_is_one_attachment():
    url = "https://scontent.xx.fbcdn.net/sticker.png"
    attachments = [
        {"type": "image", "payload": {"url": url, "sticker_id": 369239263222822}},
        {"type": "sticker", "payload": {"url": url, "sticker_id": 369239263222822}},
    ]
    (message,) = parse(page_payload(entry(item(message={"mid": "m.2", "attachments": attachments})))).messages
    (sticker,) = message.attachments
    assert (sticker.kind, sticker.unique_id) == ("sticker", "369239263222822")


def test_echo_of_our_message_is_flagged_and_keyed_to_the_client():
    echo = {"mid": "m.echo", "is_echo": True, "app_id": 1517776481860111, "metadata": "cc:42", "text": "hi"}
    (message,) = parse(page_payload(entry(item(echo=True, message=echo)))).messages
    assert message.is_echo
    assert (message.chat_id, message.sender_id) == (PSID, PAGE)


def test_delivery_with_mids_and_watermark():
    delivery = {"mids": ["m.a", "m.b"], "watermark": 1458668856253}
    batch = parse(page_payload(entry(item(delivery=delivery))))
    per_message = [(s.external_id, s.status) for s in batch.statuses if s.external_id]
    assert per_message == [("m.a", "delivered"), ("m.b", "delivered")]
    (mark,) = [s for s in batch.statuses if s.watermark]
    assert mark.watermark == datetime.fromtimestamp(1458668856.253, tz=UTC)
    assert (mark.status, mark.recipient_id) == ("delivered", PSID)
    assert batch.dedup_ids == ("m.a:delivered", "m.b:delivered", f"delivered:{PSID}:1458668856253")


def test_delivery_without_mids_is_a_watermark_only():
    (status,) = parse(page_payload(entry(item(delivery={"watermark": 1458668856253})))).statuses
    assert status.external_id is None
    assert status.watermark is not None


def test_read_receipt_is_a_watermark():
    (status,) = parse(page_payload(entry(item(read={"watermark": 1458668856253})))).statuses
    assert (status.status, status.recipient_id, status.external_id) == ("read", PSID, None)
    assert status.watermark == datetime.fromtimestamp(1458668856.253, tz=UTC)


def test_postback_is_a_message_with_its_title():
    postback = {"title": "Get Started", "payload": "GET_STARTED", "mid": "m.pb"}
    (message,) = parse(page_payload(entry(item(postback=postback)))).messages
    assert (message.external_id, message.text) == ("m.pb", "Get Started")


def test_edited_message_is_flagged_with_its_own_dedup_id():
    edit = {"mid": "m.1", "text": "fixed typo", "num_edit": 2}
    batch = parse(page_payload(entry(item(message_edit=edit))))
    (message,) = batch.messages
    assert (message.external_id, message.text, message.edited) == ("m.1", "fixed typo", True)
    assert batch.dedup_ids == ("m.1:edit:2",)


def test_unknown_items_are_skipped_without_losing_the_rest_of_the_batch():
    policy_notice = {"recipient": {"id": PAGE}, "timestamp": 1, "policy-enforcement": {"action": "warning"}}
    reaction = item(reaction={"mid": "m.1", "action": "react", "emoji": "x"})
    batch = parse(
        page_payload(entry(policy_notice, reaction, item(message={"mid": "m.9", "text": "still here"})))
    )
    assert [m.external_id for m in batch.messages] == ["m.9"]


def test_item_without_timestamp_takes_the_entry_time_and_without_either_is_refused():
    no_stamp = {"sender": {"id": PSID}, "recipient": {"id": PAGE}, "message": {"mid": "m.t", "text": "x"}}
    (message,) = parse(page_payload(entry(no_stamp, time=1458692752000))).messages
    assert message.sent_at == datetime.fromtimestamp(1458692752, tz=UTC)
    with pytest.raises(PayloadError):
        parse(page_payload({"id": PAGE, "messaging": [no_stamp]}))


def test_batched_entries_and_items_and_standby_are_all_read():
    payload = page_payload(
        entry(item(message={"mid": "m.1", "text": "one"}), item(message={"mid": "m.2", "text": "two"})),
        entry(
            item(psid="OTHER", message={"mid": "m.3", "text": "three"}),
            item(read={"watermark": 5}),
            page="P2",
        ),
        entry(item(message={"mid": "m.4", "text": "standby"}), key="standby"),
    )
    batch = parse(payload)
    assert [(m.external_id, m.account_id) for m in batch.messages] == [
        ("m.1", PAGE),
        ("m.2", PAGE),
        ("m.3", "P2"),
        ("m.4", PAGE),
    ]
    assert len(batch.statuses) == 1
    assert adapter().route_keys(json.dumps(payload).encode()) == (PAGE, "P2")


@pytest.mark.parametrize(
    "payload",
    [
        {"object": "instagram", "entry": []},
        {"object": "page"},
        page_payload({"time": 1, "messaging": []}),
        page_payload(entry({"recipient": {"id": PAGE}, "timestamp": 1, "message": {"mid": "x"}})),
        page_payload(entry(item(message={"text": "no mid"}))),
    ],
)
def test_malformed_payloads_raise_a_payload_error(payload):
    with pytest.raises(PayloadError):
        parse(payload)


def test_send_text_matches_the_recorded_request(platform):
    platform.reply(json_body={"recipient_id": PSID, "message_id": "m_AG5Hz2U"})
    result = adapter(platform).send_text(CREDS, to=PSID, text="hello, world")
    assert result == SendResult(("m_AG5Hz2U",))
    (request,) = platform.requests
    assert (request.method, str(request.url)) == ("POST", "https://graph.facebook.com/v25.0/PAGE_ID/messages")
    assert request.headers["authorization"] == "Bearer EAAPage"
    assert json.loads(request.content) == fixture_json("messenger_send_text_request.json")


def test_send_with_human_agent_tag_matches_the_recorded_request(platform):
    platform.reply(json_body={"recipient_id": PSID, "message_id": "m_2"})
    adapter(platform).send_text(CREDS, to=PSID, text="Following up on your request", human_agent_tag=True)
    assert platform.json() == fixture_json("messenger_send_human_agent_tag_request.json")


def test_metadata_is_sent_for_echo_matching(platform):
    platform.reply(json_body={"recipient_id": PSID, "message_id": "m_3"})
    adapter(platform).send_text(CREDS, to=PSID, text="hi", metadata="cc:42")
    assert platform.json()["message"] == {"text": "hi", "metadata": "cc:42"}


@pytest.mark.parametrize(
    ("error", "category", "retryable"),
    [
        (
            {"code": 551, "error_subcode": 1545041, "message": "This person isn't available right now."},
            "blocked",
            False,
        ),
        (
            {"code": 10, "error_subcode": 2018278, "message": "outside of allowed window"},
            "window_closed",
            False,
        ),
        ({"code": 613, "message": "Calls to this api have exceeded the rate limit."}, "rate_limited", True),
        ({"code": 2, "message": "An unexpected error has occurred."}, "unavailable", True),
        ({"code": 190, "message": "Error validating access token"}, "auth", False),
        ({"code": 100, "error_subcode": 2018001, "message": "No matching user found"}, "blocked", False),
        ({"code": 1234567, "message": "odd", "is_transient": True}, "unavailable", True),
    ],
)
def test_send_api_errors(platform, error, category, retryable):
    platform.reply(400, {"error": {"type": "OAuthException", "fbtrace_id": "A", **error}})
    result = adapter(platform).send_text(CREDS, to=PSID, text="hi")
    assert isinstance(result, SendError)
    assert (result.category, result.retryable) == (category, retryable)
    assert result.detail == error["message"]


def test_long_text_is_split_at_2000(platform):
    text = ("word " * 500).strip()  # 2499 characters
    platform.reply(json_body={"message_id": "m1"}).reply(json_body={"message_id": "m2"})
    result = adapter(platform).send_text(CREDS, to=PSID, text=text)
    assert result == SendResult(("m1", "m2"))
    first, second = platform.json(0)["message"]["text"], platform.json(1)["message"]["text"]
    assert first == ("word " * 400).strip()
    assert second == ("word " * 100).strip()


def test_media_by_url_and_by_upload(platform):
    platform.reply(json_body={"message_id": "m.url"}).reply(json_body={"message_id": "m.up"})
    by_url = adapter(platform).send_media(
        CREDS, to=PSID, media=OutboundMedia("document", url="https://x.example/f.pdf")
    )
    upload = OutboundMedia("photo", content=b"PNG", file_name="a.png", mime_type="image/png")
    by_upload = adapter(platform).send_media(CREDS, to=PSID, media=upload)
    assert (by_url, by_upload) == (SendResult(("m.url",)), SendResult(("m.up",)))
    assert platform.json(0)["message"] == {
        "attachment": {"type": "file", "payload": {"url": "https://x.example/f.pdf", "is_reusable": False}}
    }
    multipart = platform.requests[1]
    assert multipart.headers["content-type"].startswith("multipart/form-data")
    assert b'name="filedata"; filename="a.png"' in multipart.content
    assert b'"type": "image"' in multipart.content


def test_caption_is_sent_as_a_following_text(platform):
    platform.reply(json_body={"message_id": "m.f"}).reply(json_body={"message_id": "m.t"})
    result = adapter(platform).send_media(
        CREDS, to=PSID, media=OutboundMedia("photo", url="https://x.example/p.jpg"), caption="see"
    )
    assert result == SendResult(("m.f", "m.t"))


def test_fetch_media_downloads_the_cdn_link_without_our_token(platform):
    platform.reply(content=b"IMG", headers={"content-type": "image/jpeg"})
    media = adapter(platform).fetch_media(CREDS, "https://scontent.xx.fbcdn.net/p.jpg")
    assert media.content == b"IMG"
    assert "authorization" not in platform.requests[0].headers


def test_fetch_media_of_an_expired_link_is_a_permanent_error(platform):
    platform.reply(403, content=b"URL signature expired")
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).fetch_media(CREDS, "https://scontent.xx.fbcdn.net/p.jpg")
    assert not caught.value.error.retryable


def test_fetch_media_refuses_a_non_https_link(platform):
    with pytest.raises(ChannelApiError):
        adapter(platform).fetch_media(CREDS, "file:///etc/passwd")
    assert platform.requests == []


def test_connect_checks_the_page_and_subscribes_messaging_fields(platform):
    platform.reply(json_body={"id": PAGE, "name": "Acme Support"}).reply(json_body={"success": True})
    result = adapter(platform).connect(CREDS, webhook_url="https://cc.example.com/hooks/messenger/1/")
    assert (result.account_name, result.verify_token) == ("Acme Support", "vt-1")
    subscribe = platform.requests[1]
    assert subscribe.url.path == "/v25.0/PAGE_ID/subscribed_apps"
    assert subscribe.url.params["subscribed_fields"] == (
        "messages,message_deliveries,message_reads,message_echoes,messaging_postbacks"
    )


def test_disconnect_unsubscribes_the_page(platform):
    platform.reply(json_body={"success": True})
    adapter(platform).disconnect(CREDS)
    assert (platform.requests[0].method, platform.requests[0].url.path) == (
        "DELETE",
        "/v25.0/PAGE_ID/subscribed_apps",
    )
