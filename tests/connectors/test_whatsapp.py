from __future__ import annotations

import json

import pytest

from contactcenter.connectors.adapters import get_adapter
from contactcenter.connectors.adapters.base import (
    ChannelApiError,
    OutboundMedia,
    PayloadError,
    SendError,
    SendResult,
    WebhookRequest,
    WhatsAppCredentials,
)
from contactcenter.connectors.adapters.meta import hub_signature

from .conftest import fixture_bytes, fixture_json

CREDS = WhatsAppCredentials(
    phone_number_id="1122334455667",
    business_account_id="1234567890987654321",
    access_token="EAAG-system-user-token",
    app_secret="app-secret-123",
    verify_token="<YOUR_VERIFY_TOKEN>",
)
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3N0EzRjQ0QkQxMEQ4MjUzMzAA"


def adapter(platform=None):
    return get_adapter("whatsapp", client=platform.client if platform else None)


def envelope(*values, field="messages", entry_id="1234567890987654321"):
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": entry_id, "changes": [{"value": value, "field": field} for value in values]}],
    }


def value(messages=(), statuses=(), contacts=None, phone_number_id="1122334455667", **extra):
    result = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "972123456789", "phone_number_id": phone_number_id},
        "contacts": contacts
        if contacts is not None
        else [{"profile": {"name": "Test Name"}, "wa_id": "972987654321"}],
        **extra,
    }
    if messages:
        result["messages"] = list(messages)
    if statuses:
        result["statuses"] = list(statuses)
    return result


def message(kind, content=None, message_id="wamid.m1", **extra):
    result = {"from": "972987654321", "id": message_id, "timestamp": "1697043223", "type": kind, **extra}
    if content is not None:
        result[kind] = content
    return result


def parse(payload):
    return adapter().parse(json.dumps(payload).encode())


# -- verify / handshake ------------------------------------------------------------------------------


def test_signed_request_is_verified_over_the_raw_body():
    body = fixture_bytes("whatsapp_incoming_text.json")
    request = WebhookRequest.build(
        headers={"X-Hub-Signature-256": hub_signature("app-secret-123", body)}, body=body
    )
    assert adapter().verify(request, CREDS)


def test_signature_over_a_reserialised_body_does_not_verify():
    # Meta signs the bytes it sent (escaped unicode); a re-serialised dict is different bytes.
    raw = b'{"text":"\\u00e9t\\u00e9"}'
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    request = WebhookRequest.build(
        headers={"X-Hub-Signature-256": hub_signature("app-secret-123", reserialised)}, body=raw
    )
    assert not adapter().verify(request, CREDS)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "deadbeef"},
        {"X-Hub-Signature": "sha1=0000"},
    ],
)
def test_missing_or_bad_signature_is_refused(headers):
    request = WebhookRequest.build(headers=headers, body=fixture_bytes("whatsapp_incoming_text.json"))
    assert not adapter().verify(request, CREDS)


def test_signature_with_another_apps_secret_is_refused():
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    request = WebhookRequest.build(
        headers={"X-Hub-Signature-256": hub_signature("other-secret", body)}, body=body
    )
    assert not adapter().verify(request, CREDS)


def test_handshake_echoes_the_challenge_for_the_right_verify_token():
    query = fixture_json("whatsapp_verify_get_request.json")
    response = adapter().handshake(WebhookRequest.build("GET", query=query), CREDS)
    assert response is not None
    assert (response.status, response.body) == (200, b"1158201444")
    assert response.content_type.startswith("text/plain")


def test_handshake_with_a_wrong_verify_token_is_forbidden():
    query = {**fixture_json("whatsapp_verify_get_request.json"), "hub.verify_token": "guess"}
    response = adapter().handshake(WebhookRequest.build("GET", query=query), CREDS)
    assert response is not None
    assert (response.status, response.body) == (403, b"")


def test_get_without_hub_parameters_is_forbidden_and_post_is_no_handshake():
    assert adapter().handshake(WebhookRequest.build("GET"), CREDS).status == 403
    assert adapter().handshake(WebhookRequest.build("POST", body=b"{}"), CREDS) is None


# -- parse ------------------------------------------------------------------------------------------


def test_text_fixture_keys_the_client_by_business_scoped_id_and_keeps_the_phone():
    batch = adapter().parse(fixture_bytes("whatsapp_incoming_text.json"))
    (msg,) = batch.messages
    assert msg.external_id == "wamid.xyzxyz"
    assert msg.sender_id == "US.13491208655302741918"
    assert msg.sender_phone == "972987654321"
    assert msg.chat_id == "972987654321"
    assert msg.sender_name == "Test Name"
    assert msg.text == "Body Text"
    assert msg.account_id == "1122334455667"
    assert msg.sent_at.timestamp() == 1697043223
    assert batch.dedup_ids == ("wamid.xyzxyz",)


def test_client_without_business_scoped_id_is_keyed_by_phone():
    (msg,) = parse(envelope(value([message("text", {"body": "hi"})]))).messages
    assert msg.sender_id == msg.chat_id == msg.sender_phone == "972987654321"


def test_username_only_client_without_phone_is_keyed_and_answered_by_bsuid():
    contacts = [{"profile": {"name": "Bob", "username": "@bob"}, "user_id": "US.999"}]
    msg_data = {"id": "wamid.u", "timestamp": "1697043223", "type": "text", "text": {"body": "hi"}}
    (msg,) = parse(envelope(value([msg_data], contacts=contacts))).messages
    assert (msg.sender_id, msg.chat_id, msg.sender_phone) == ("US.999", "US.999", None)


def test_delivered_status_fixture():
    batch = adapter().parse(fixture_bytes("whatsapp_status_delivered.json"))
    (status,) = batch.statuses
    assert (status.status, status.external_id, status.recipient_id) == (
        "delivered",
        "wamid.xyzxyz",
        "972987654321",
    )
    assert status.at.timestamp() == 1698266945
    assert batch.messages == ()
    assert batch.dedup_ids == ("wamid.xyzxyz:delivered",)


def test_read_played_and_failed_statuses():
    statuses = [
        {"id": "wamid.a", "status": "read", "timestamp": "1698266950", "recipient_id": "972987654321"},
        {"id": "wamid.b", "status": "played", "timestamp": "1698266951", "recipient_id": "972987654321"},
        {
            "id": "wamid.c",
            "status": "failed",
            "timestamp": "1698266952",
            "recipient_id": "972987654321",
            "errors": [
                {
                    "code": 131047,
                    "title": "Re-engagement message",
                    "message": "Re-engagement message",
                    "error_data": {
                        "details": "Message failed to send because more than 24 hours have passed"
                    },
                }
            ],
        },
        {"id": "wamid.d", "status": "deleted", "timestamp": "1698266953", "recipient_id": "972987654321"},
    ]
    batch = parse(envelope(value(statuses=statuses)))
    assert [(s.external_id, s.status) for s in batch.statuses] == [
        ("wamid.a", "read"),
        ("wamid.b", "read"),
        ("wamid.c", "failed"),
    ]
    failed = batch.statuses[2]
    assert failed.error_code == "131047"
    assert "24 hours" in failed.error


@pytest.mark.parametrize(
    ("kind", "content", "expected_kind"),
    [
        ("image", {"mime_type": "image/jpeg", "sha256": "abc=", "id": "1001", "caption": "look"}, "photo"),
        ("video", {"mime_type": "video/mp4", "sha256": "v=", "id": "1002"}, "video"),
        (
            "audio",
            {"mime_type": "audio/ogg; codecs=opus", "sha256": "a=", "id": "1003", "voice": True},
            "audio",
        ),
        ("sticker", {"mime_type": "image/webp", "sha256": "s=", "id": "1004", "animated": False}, "sticker"),
        (
            "document",
            {"mime_type": "application/pdf", "sha256": "d=", "id": "1005", "filename": "invoice.pdf"},
            "document",
        ),
    ],
)
def test_media_messages_expose_the_media_id_for_download(kind, content, expected_kind):
    (msg,) = parse(envelope(value([message(kind, content)]))).messages
    (attachment,) = msg.attachments
    assert (attachment.kind, attachment.media_ref, attachment.mime_type) == (
        expected_kind,
        content["id"],
        content["mime_type"],
    )
    assert attachment.unique_id == content["sha256"]
    assert attachment.file_name == content.get("filename")
    assert msg.text == content.get("caption")


def test_location_contacts_and_button_replies():
    messages = [
        message(
            "location",
            {"latitude": 32.08, "longitude": 34.78, "name": "Office", "address": "Main 1"},
            "wamid.l",
        ),
        {
            **message("contacts", message_id="wamid.c"),
            "contacts": [{"name": {"formatted_name": "Ann Lee"}, "phones": [{"phone": "+1 555"}]}],
        },
        message(
            "interactive", {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes"}}, "wamid.i"
        ),
        message("button", {"text": "Stop promotions", "payload": "STOP"}, "wamid.b"),
    ]
    location, contact, interactive, button = parse(envelope(value(messages))).messages
    assert (location.attachments[0].latitude, location.attachments[0].title) == (32.08, "Office, Main 1")
    assert contact.attachments[0].title == "Ann Lee +1 555"
    assert interactive.text == "Yes"
    assert button.text == "Stop promotions"


def test_reply_context_and_unsupported_and_reaction():
    messages = [
        message(
            "text", {"body": "this one"}, "wamid.r", context={"from": "972123456789", "id": "wamid.orig"}
        ),
        message("unsupported", None, "wamid.u", errors=[{"code": 131051, "title": "Message type unknown"}]),
        message("reaction", {"message_id": "wamid.orig", "emoji": "👍"}, "wamid.x"),
    ]
    batch = parse(envelope(value(messages)))
    assert [m.external_id for m in batch.messages] == ["wamid.r", "wamid.u"]
    assert batch.messages[0].reply_to == "wamid.orig"
    assert batch.messages[1].attachments[0].kind == "other"


def test_batched_payload_with_several_entries_changes_and_items_is_read_completely():
    first = envelope(
        value([message("text", {"body": "1"}, "wamid.1"), message("text", {"body": "2"}, "wamid.2")]),
        value(statuses=[{"id": "wamid.s1", "status": "sent", "timestamp": "1", "recipient_id": "9"}]),
    )
    second_entry = envelope(
        value(
            [message("text", {"body": "3"}, "wamid.3")],
            statuses=[{"id": "wamid.s1", "status": "delivered", "timestamp": "2", "recipient_id": "9"}],
            phone_number_id="777",
        ),
        entry_id="999",
    )["entry"][0]
    first["entry"].append(second_entry)
    batch = parse(first)
    assert [m.text for m in batch.messages] == ["1", "2", "3"]
    assert [m.account_id for m in batch.messages] == ["1122334455667", "1122334455667", "777"]
    assert [(s.external_id, s.status) for s in batch.statuses] == [
        ("wamid.s1", "sent"),
        ("wamid.s1", "delivered"),
    ]
    # in payload order
    assert batch.dedup_ids == ("wamid.1", "wamid.2", "wamid.s1:sent", "wamid.3", "wamid.s1:delivered")
    assert adapter().route_keys(json.dumps(first).encode()) == ("1122334455667", "777")


def test_account_level_errors_are_reported_and_other_fields_ignored():
    errors = [{"code": 131000, "title": "Something went wrong", "error_data": {"details": "retry later"}}]
    payload = envelope(value(errors=errors))
    payload["entry"][0]["changes"].append({"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}})
    batch = parse(payload)
    assert batch.errors == ("131000: Something went wrong (retry later)",)
    assert batch.messages == ()


@pytest.mark.parametrize(
    "payload",
    [
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": {}},
        {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": []}]}]},
        envelope(value([{"from": "1", "timestamp": "1", "type": "text"}])),  # no id
        envelope(value([{"id": "wamid.x", "timestamp": "1", "type": "text"}], contacts=[])),  # no sender
    ],
)
def test_malformed_payloads_raise_a_payload_error(payload):
    with pytest.raises(PayloadError):
        parse(payload)


# -- send -------------------------------------------------------------------------------------------


def test_send_text_matches_the_recorded_request(platform):
    platform.reply(json_body=fixture_json("whatsapp_send_text_response.json"))
    result = adapter(platform).send_text(CREDS, to="16505551234", text="Here's the info you requested!")
    assert result == SendResult((WAMID,))
    (request,) = platform.requests
    assert request.method == "POST"
    assert request.url == "https://graph.facebook.com/v25.0/1122334455667/messages"
    assert request.headers["authorization"] == "Bearer EAAG-system-user-token"
    assert "access_token" not in str(request.url)
    assert json.loads(request.content) == fixture_json("whatsapp_send_text_request.json")


def test_reply_quotes_the_client_message(platform):
    platform.reply(json_body=fixture_json("whatsapp_send_text_response.json"))
    adapter(platform).send_text(CREDS, to="16505551234", text="ok", reply_to="wamid.orig")
    assert platform.json()["context"] == {"message_id": "wamid.orig"}


def test_throughput_error_is_retryable(platform):
    platform.reply(400, fixture_json("whatsapp_error_sync_envelope.json"))
    error = adapter(platform).send_text(CREDS, to="16505551234", text="hi")
    assert isinstance(error, SendError)
    assert (error.retryable, error.category, error.code) == (True, "rate_limited", "130429")
    assert error.retry_after is None


def test_throttling_takes_retry_after_from_the_usage_header(platform):
    usage = {"1122334455667": [{"type": "whatsapp", "call_count": 100, "estimated_time_to_regain_access": 2}]}
    platform.reply(
        400,
        {"error": {"message": "(#80007) Rate limit hit", "type": "OAuthException", "code": 80007}},
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    error = adapter(platform).send_text(CREDS, to="16505551234", text="hi")
    assert (error.retryable, error.retry_after) == (True, 120.0)


@pytest.mark.parametrize(
    ("code", "category"),
    [
        (131047, "window_closed"),
        (131026, "blocked"),
        (190, "auth"),
        (131056, "rate_limited"),
        (368, "account"),
    ],
)
def test_graph_error_codes_map_to_categories(platform, code, category):
    platform.reply(400, {"error": {"message": f"(#{code}) title", "type": "OAuthException", "code": code}})
    error = adapter(platform).send_text(CREDS, to="16505551234", text="hi")
    assert error.category == category
    assert error.retryable == (category == "rate_limited")
    assert error.reason


def test_long_text_is_split_at_4096(platform):
    first, second = "x" * 4096, "y" * 10
    platform.reply(json_body={"messages": [{"id": "wamid.1"}]}).reply(
        json_body={"messages": [{"id": "wamid.2"}]}
    )
    result = adapter(platform).send_text(CREDS, to="16505551234", text=f"{first} {second}")
    assert result == SendResult(("wamid.1", "wamid.2"))
    assert [platform.json(i)["text"]["body"] for i in (0, 1)] == [first, second]


def test_image_by_link_with_caption(platform):
    platform.reply(json_body={"messages": [{"id": "wamid.img"}]})
    media = OutboundMedia("photo", url="https://cdn.example.com/a.jpg")
    assert adapter(platform).send_media(CREDS, to="16505551234", media=media, caption="Look") == SendResult(
        ("wamid.img",)
    )
    assert platform.json()["type"] == "image"
    assert platform.json()["image"] == {"link": "https://cdn.example.com/a.jpg", "caption": "Look"}


def test_document_bytes_are_uploaded_then_sent_by_media_id(platform):
    platform.reply(json_body={"id": "media-42"}).reply(json_body={"messages": [{"id": "wamid.doc"}]})
    media = OutboundMedia("document", content=b"%PDF", file_name="offer.pdf", mime_type="application/pdf")
    result = adapter(platform).send_media(CREDS, to="16505551234", media=media)
    assert result == SendResult(("wamid.doc",))
    upload, send = platform.requests
    assert upload.url.path == "/v25.0/1122334455667/media"
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b"messaging_product" in upload.content and b"%PDF" in upload.content
    assert json.loads(send.content)["document"] == {"id": "media-42", "filename": "offer.pdf"}


def test_audio_caption_follows_as_text(platform):
    platform.reply(json_body={"messages": [{"id": "wamid.a"}]}).reply(
        json_body={"messages": [{"id": "wamid.t"}]}
    )
    media = OutboundMedia("audio", url="https://cdn.example.com/a.ogg")
    result = adapter(platform).send_media(CREDS, to="16505551234", media=media, caption="listen")
    assert result == SendResult(("wamid.a", "wamid.t"))
    assert "caption" not in platform.json(0)["audio"]
    assert platform.json(1)["text"]["body"] == "listen"


# -- media download -----------------------------------------------------------------------------------


def test_fetch_media_resolves_the_short_lived_url_and_downloads_with_the_token(platform):
    url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1001&ext=1&hash=abc"
    platform.reply(
        json_body={"url": url, "mime_type": "image/jpeg", "sha256": "abc=", "file_size": 4, "id": "1001"}
    )
    platform.reply(content=b"JPEG", headers={"content-type": "application/octet-stream"})
    media = adapter(platform).fetch_media(CREDS, "1001")
    assert (media.content, media.mime_type) == (b"JPEG", "image/jpeg")
    info, download = platform.requests
    assert info.url == "https://graph.facebook.com/v25.0/1001"
    assert download.url == url
    assert download.headers["authorization"] == "Bearer EAAG-system-user-token"


def test_fetch_media_refuses_a_declared_size_above_the_limit(platform):
    platform.reply(
        json_body={"url": "https://lookaside.fbsbx.com/x", "mime_type": "video/mp4", "file_size": 10**9}
    )
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).fetch_media(CREDS, "1001", max_bytes=1000)
    assert caught.value.error.category == "too_large"
    assert len(platform.requests) == 1


def test_fetch_media_with_an_expired_id_fails_permanently(platform):
    platform.reply(
        404, {"error": {"message": "Unsupported get request", "type": "GraphMethodException", "code": 100}}
    )
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).fetch_media(CREDS, "1001")
    assert not caught.value.error.retryable


def test_fetch_media_refuses_an_id_that_is_a_path(platform):
    with pytest.raises(ChannelApiError):
        adapter(platform).fetch_media(CREDS, "../me/accounts")
    assert platform.requests == []


# -- connect / disconnect --------------------------------------------------------------------------------


def test_connect_checks_the_number_and_subscribes_the_business_account(platform):
    platform.reply(
        json_body={"display_phone_number": "+1 555-0100", "verified_name": "Acme", "id": "1122334455667"}
    )
    platform.reply(json_body={"success": True})
    result = adapter(platform).connect(CREDS, webhook_url="https://cc.example.com/hooks/whatsapp/abc/")
    assert (result.account_id, result.account_name) == ("1122334455667", "Acme")
    assert result.verify_token == "<YOUR_VERIFY_TOKEN>"
    assert result.admin_steps
    number, subscribe = platform.requests
    assert number.url.params["fields"] == "display_phone_number,verified_name"
    assert (subscribe.method, subscribe.url.path) == ("POST", "/v25.0/1234567890987654321/subscribed_apps")


def test_connect_can_override_the_callback_for_this_business_account(platform):
    platform.reply(json_body={"verified_name": "Acme"}).reply(json_body={"success": True})
    adapter(platform).connect(
        CREDS, webhook_url="https://cc.example.com/hooks/whatsapp/abc/", override_callback=True
    )
    assert platform.json(1) == {
        "override_callback_uri": "https://cc.example.com/hooks/whatsapp/abc/",
        "verify_token": "<YOUR_VERIFY_TOKEN>",
    }


def test_connect_with_an_expired_token_raises_an_auth_error(platform):
    platform.reply(
        401, {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}
    )
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).connect(CREDS, webhook_url="https://cc.example.com/hooks/whatsapp/abc/")
    assert caught.value.error.category == "auth"


def test_disconnect_unsubscribes_the_business_account(platform):
    platform.reply(json_body={"success": True})
    adapter(platform).disconnect(CREDS)
    assert (platform.requests[0].method, platform.requests[0].url.path) == (
        "DELETE",
        "/v25.0/1234567890987654321/subscribed_apps",
    )
