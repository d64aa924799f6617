from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import httpx
import pytest

from contactcenter.connectors.adapters import get_adapter
from contactcenter.connectors.adapters.base import (
    ChannelApiError,
    OutboundMedia,
    PayloadError,
    SendError,
    SendResult,
    TelegramCredentials,
    WebhookRequest,
)

from .conftest import fixture_bytes, fixture_json

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CREDS = TelegramCredentials(bot_token=TOKEN, secret_token="per-channel-random-token_AbC123")


def adapter(platform=None):
    return get_adapter("telegram", client=platform.client if platform else None)


def parse(update: dict):
    return adapter().parse(json.dumps(update).encode())


def message_update(**fields):
    message = {
        "message_id": 77,
        "date": 1700000000,
        "chat": {"id": 1111111, "type": "private", "first_name": "Ann"},
        "from": {"id": 1111111, "is_bot": False, "first_name": "Ann", "last_name": "Lee"},
    }
    message.update(fields)
    return {"update_id": 555, "message": message}


def sent_message(message_id=1366, chat_id=1111111):
    return {"ok": True, "result": {"message_id": message_id, "chat": {"id": chat_id}, "date": 1}}


# -- verify / handshake ------------------------------------------------------------------------------


def test_request_with_the_channel_secret_header_is_verified():
    request = WebhookRequest.build(
        headers={"x-telegram-bot-api-secret-token": CREDS.secret_token}, body=b"{}"
    )
    assert adapter().verify(request, CREDS)


def test_request_with_a_wrong_secret_is_refused():
    request = WebhookRequest.build(headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}, body=b"{}")
    assert not adapter().verify(request, CREDS)


def test_request_without_the_secret_header_is_refused():
    assert not adapter().verify(WebhookRequest.build(body=b"{}"), CREDS)


def test_channel_without_a_configured_secret_accepts_nothing():
    empty = TelegramCredentials(bot_token=TOKEN, secret_token="")
    request = WebhookRequest.build(headers={"X-Telegram-Bot-Api-Secret-Token": ""}, body=b"{}")
    assert not adapter().verify(request, empty)


def test_telegram_has_no_handshake():
    assert adapter().handshake(WebhookRequest.build("GET"), CREDS) is None


# -- parse ------------------------------------------------------------------------------------------


def test_text_fixture_is_parsed_with_string_ids():
    batch = adapter().parse(fixture_bytes("telegram_incoming_text.json"))
    assert batch.dedup_ids == ("10000",)
    (message,) = batch.messages
    assert message.external_id == "1111111:1365"
    assert message.chat_id == "1111111"
    assert message.sender_id == "1111111"
    assert message.sender_name == "Test Firstname Test Lastname"
    assert message.text == "/start"
    assert message.sent_at == datetime(2015, 9, 7, 17, 5, 32, tzinfo=UTC)
    assert not message.is_echo
    assert message.attachments == ()


def test_photo_takes_the_largest_size_and_the_caption():
    batch = parse(
        message_update(
            photo=[
                {"file_id": "small", "file_unique_id": "u1", "width": 90, "height": 67, "file_size": 1201},
                {
                    "file_id": "medium",
                    "file_unique_id": "u2",
                    "width": 320,
                    "height": 240,
                    "file_size": 15000,
                },
                {
                    "file_id": "large",
                    "file_unique_id": "u3",
                    "width": 1280,
                    "height": 960,
                    "file_size": 99000,
                },
            ],
            caption="my cat",
        )
    )
    (message,) = batch.messages
    (photo,) = message.attachments
    assert (photo.kind, photo.media_ref, photo.size, photo.unique_id) == ("photo", "large", 99000, "u3")
    assert photo.mime_type == "image/jpeg"
    assert message.text == "my cat"


def test_document_keeps_name_type_and_size():
    # The official sample predates file_unique_id.
    batch = parse(
        message_update(
            document={
                "file_id": "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX",
                "file_name": "Testfile.pdf",
                "mime_type": "application/pdf",
                "file_size": 536392,
            }
        )
    )
    (document,) = batch.messages[0].attachments
    assert (document.kind, document.file_name, document.mime_type, document.size) == (
        "document",
        "Testfile.pdf",
        "application/pdf",
        536392,
    )
    assert document.media_ref == "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX"
    assert document.unique_id is None


@pytest.mark.parametrize(
    ("field", "payload", "kind", "mime"),
    [
        (
            "audio",
            {"file_id": "a1", "duration": 3, "mime_type": "audio/mpeg", "file_name": "s.mp3"},
            "audio",
            "audio/mpeg",
        ),
        ("voice", {"file_id": "v1", "duration": 2, "mime_type": "audio/ogg"}, "audio", "audio/ogg"),
        (
            "video",
            {"file_id": "vid", "duration": 5, "width": 1, "height": 1, "mime_type": "video/mp4"},
            "video",
            "video/mp4",
        ),
        ("video_note", {"file_id": "vn", "duration": 5, "length": 240}, "video", "video/mp4"),
    ],
)
def test_audio_voice_and_video_are_attachments(field, payload, kind, mime):
    (attachment,) = parse(message_update(**{field: payload})).messages[0].attachments
    assert (attachment.kind, attachment.media_ref, attachment.mime_type) == (kind, payload["file_id"], mime)


def test_animation_is_one_video_not_also_a_document():
    animation = {"file_id": "gif", "file_unique_id": "g", "width": 1, "height": 1, "duration": 1}
    batch = parse(message_update(animation=animation, document={"file_id": "gif", "file_unique_id": "g"}))
    assert [a.kind for a in batch.messages[0].attachments] == ["video"]


@pytest.mark.parametrize(
    ("flags", "mime"),
    [
        ({}, "image/webp"),
        ({"is_animated": True}, "application/x-tgsticker"),
        ({"is_video": True}, "video/webm"),
    ],
)
def test_sticker_kinds(flags, mime):
    sticker = {"file_id": "st", "file_unique_id": "stu", "width": 512, "height": 512, "emoji": "😀", **flags}
    (attachment,) = parse(message_update(sticker=sticker)).messages[0].attachments
    assert (attachment.kind, attachment.mime_type, attachment.title) == ("sticker", mime, "😀")


def test_location_and_venue():
    location = {"latitude": 52.52, "longitude": 13.405}
    (plain,) = parse(message_update(location=location)).messages[0].attachments
    assert (plain.kind, plain.latitude, plain.longitude, plain.media_ref) == ("location", 52.52, 13.405, None)
    venue = {"location": location, "title": "Office", "address": "Main st 1"}
    (place,) = parse(message_update(location=location, venue=venue)).messages[0].attachments
    assert place.title == "Office"


def test_client_sharing_their_own_contact_gives_their_phone():
    contact = {"phone_number": "+491701234567", "first_name": "Ann", "user_id": 1111111}
    (message,) = parse(message_update(contact=contact)).messages
    assert message.sender_phone == "+491701234567"
    assert message.attachments[0].kind == "contact"
    other = {"phone_number": "+49000", "first_name": "Bob", "user_id": 42}
    assert parse(message_update(contact=other)).messages[0].sender_phone is None


def test_reply_points_at_the_quoted_message():
    quoted = {"message_id": 70, "date": 1, "chat": {"id": 1111111, "type": "private"}}
    (message,) = parse(message_update(text="yes", reply_to_message=quoted)).messages
    assert message.reply_to == "1111111:70"


def test_supergroup_ids_beyond_32_bits_stay_exact_strings():
    update = message_update(text="hi", chat={"id": -1001234567890123, "type": "supergroup", "title": "G"})
    assert parse(update).messages[0].chat_id == "-1001234567890123"


def test_edited_message_is_flagged():
    update = {"update_id": 9, "edited_message": message_update(text="fixed")["message"]}
    (message,) = parse(update).messages
    assert message.edited
    assert message.text == "fixed"


def member_update(old: str, new: str, chat_type: str = "private"):
    user = {"id": 1111111, "is_bot": False, "first_name": "Ann"}
    bot = {"id": 123456789, "is_bot": True, "first_name": "Bot"}
    return {
        "update_id": 600,
        "my_chat_member": {
            "chat": {"id": 1111111, "type": chat_type, "first_name": "Ann"},
            "from": user,
            "date": 1700000100,
            "old_chat_member": {"user": bot, "status": old},
            "new_chat_member": {"user": bot, "status": new, "until_date": 0},
        },
    }


def test_user_blocking_the_bot_is_a_blocked_contact_event():
    batch = parse(member_update("member", "kicked"))
    (event,) = batch.contact_events
    assert (event.sender_id, event.kind, event.sender_name) == ("1111111", "blocked", "Ann")
    assert batch.dedup_ids == ("600",)


def test_user_unblocking_the_bot_is_an_unblocked_event():
    (event,) = parse(member_update("kicked", "member")).contact_events
    assert event.kind == "unblocked"


def test_bot_removed_from_a_group_is_not_a_client_block():
    assert parse(member_update("member", "kicked", chat_type="group")).contact_events == ()


def test_other_update_kinds_are_empty_but_keep_their_dedup_id():
    batch = parse({"update_id": 700, "callback_query": {"id": "1", "from": {"id": 1}, "data": "x"}})
    assert batch.is_empty
    assert batch.dedup_ids == ("700",)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"message": {}}',
        b'{"update_id": "10"}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1}}',
        b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1}, "date": "yesterday"}}',
        b'{"update_id": NaN}',
    ],
)
def test_malformed_updates_raise_a_payload_error_with_a_reason(body):
    with pytest.raises(PayloadError) as caught:
        adapter().parse(body)
    assert caught.value.reason


# -- send -------------------------------------------------------------------------------------------


def test_send_text_matches_the_recorded_request(platform):
    platform.reply(json_body=sent_message())
    result = adapter(platform).send_text(
        CREDS, to="1111111", text="Hello from the operator", reply_to="1111111:1365"
    )
    assert result == SendResult(("1111111:1366",))
    (request,) = platform.requests
    assert request.method == "POST"
    assert request.url == f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == fixture_json("telegram_sendmessage_request.json")


def test_agent_text_is_escaped_for_html(platform):
    platform.reply(json_body=sent_message())
    adapter(platform).send_text(CREDS, to="1111111", text="a <b> & c")
    assert platform.json()["text"] == "a &lt;b&gt; &amp; c"


def test_rate_limit_is_retryable_after_the_given_seconds(platform):
    platform.reply(429, fixture_json("telegram_error_429.json"))
    error = adapter(platform).send_text(CREDS, to="1111111", text="hi")
    assert isinstance(error, SendError)
    assert (error.retryable, error.retry_after, error.code, error.category) == (
        True,
        30.0,
        "429",
        "rate_limited",
    )
    assert error.detail == "Too Many Requests: retry after 30"


def test_blocked_bot_is_a_permanent_error_with_a_reason(platform):
    platform.reply(403, fixture_json("telegram_error_403_blocked.json"))
    error = adapter(platform).send_text(CREDS, to="1111111", text="hi")
    assert isinstance(error, SendError)
    assert (error.retryable, error.category, error.code) == (False, "blocked", "403")
    assert "blocked" in error.reason


def test_revoked_token_is_an_auth_error(platform):
    platform.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    error = adapter(platform).send_text(CREDS, to="1111111", text="hi")
    assert (error.retryable, error.category) == (False, "auth")


def test_server_error_without_json_is_retryable(platform):
    platform.reply(502, content=b"<html>Bad Gateway</html>")
    error = adapter(platform).send_text(CREDS, to="1111111", text="hi")
    assert (error.retryable, error.category) == (True, "unavailable")


def test_network_failure_is_retryable_and_never_mentions_the_token(platform):
    platform.fail(httpx.ConnectError(f"cannot reach https://api.telegram.org/bot{TOKEN}/sendMessage"))
    error = adapter(platform).send_text(CREDS, to="1111111", text="hi")
    assert (error.retryable, error.category) == (True, "network")
    assert TOKEN not in repr(error)


def test_long_text_is_sent_in_chunks_at_paragraphs(platform):
    first, second = "a" * 4000, "b" * 3000
    platform.reply(json_body=sent_message(1)).reply(json_body=sent_message(2))
    result = adapter(platform).send_text(
        CREDS, to="1111111", text=f"{first}\n\n{second}", reply_to="1111111:9"
    )
    assert result == SendResult(("1111111:1", "1111111:2"))
    assert [platform.json(i)["text"] for i in (0, 1)] == [first, second]
    assert "reply_parameters" in platform.json(0)
    assert "reply_parameters" not in platform.json(1)


def test_failure_half_way_reports_what_was_sent_and_what_is_left(platform):
    platform.reply(json_body=sent_message(1)).reply(429, fixture_json("telegram_error_429.json"))
    text = "a" * 4000 + "\n\n" + "b" * 3000
    error = adapter(platform).send_text(CREDS, to="1111111", text=text)
    assert isinstance(error, SendError)
    assert error.sent_ids == ("1111111:1",)
    assert error.unsent_text == "b" * 3000


def test_empty_text_is_not_sent(platform):
    error = adapter(platform).send_text(CREDS, to="1111111", text="  \n ")
    assert isinstance(error, SendError)
    assert error.category == "invalid_request"
    assert platform.requests == []


def test_photo_by_url_with_caption(platform):
    platform.reply(json_body=sent_message(5))
    result = adapter(platform).send_media(
        CREDS, to="1111111", media=OutboundMedia("photo", url="https://cdn.example.com/p.jpg"), caption="x<y"
    )
    assert result == SendResult(("1111111:5",))
    assert platform.requests[0].url.path.endswith("/sendPhoto")
    assert platform.json() == {
        "chat_id": 1111111,
        "photo": "https://cdn.example.com/p.jpg",
        "caption": "x&lt;y",
        "parse_mode": "HTML",
    }


def test_document_upload_is_multipart(platform):
    platform.reply(json_body=sent_message(6))
    media = OutboundMedia("document", content=b"%PDF-1.4", file_name="offer.pdf", mime_type="application/pdf")
    result = adapter(platform).send_media(CREDS, to="1111111", media=media)
    assert result == SendResult(("1111111:6",))
    request = platform.requests[0]
    assert request.url.path.endswith("/sendDocument")
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'filename="offer.pdf"' in request.content
    assert b"%PDF-1.4" in request.content


def test_caption_over_1024_follows_as_a_separate_message(platform):
    platform.reply(json_body=sent_message(7)).reply(json_body=sent_message(8))
    result = adapter(platform).send_media(
        CREDS,
        to="1111111",
        media=OutboundMedia("photo", url="https://cdn.example.com/p.jpg"),
        caption="c" * 1100,
    )
    assert result == SendResult(("1111111:7", "1111111:8"))
    assert "caption" not in platform.json(0)
    assert platform.json(1)["text"] == "c" * 1100


# -- media download -----------------------------------------------------------------------------------


def test_fetch_media_resolves_the_file_path_then_downloads(platform):
    platform.reply(json_body={"ok": True, "result": {"file_id": "large", "file_path": "photos/file_1.jpg"}})
    platform.reply(content=b"JPEGDATA", headers={"content-type": "image/jpeg"})
    media = adapter(platform).fetch_media(CREDS, "large")
    assert (media.content, media.mime_type, media.file_name) == (b"JPEGDATA", "image/jpeg", "file_1.jpg")
    assert json.loads(platform.requests[0].content) == {"file_id": "large"}
    assert platform.requests[1].url == f"https://api.telegram.org/file/bot{TOKEN}/photos/file_1.jpg"


def test_fetch_media_refuses_files_above_the_limit(platform):
    platform.reply(json_body={"ok": True, "result": {"file_path": "videos/big.mp4"}})
    platform.reply(content=b"x" * 2048)
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).fetch_media(CREDS, "big", max_bytes=1024)
    assert caught.value.error.category == "too_large"


def test_fetch_media_of_an_expired_file_is_a_permanent_error(platform):
    platform.reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"})
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).fetch_media(CREDS, "gone")
    assert not caught.value.error.retryable


# -- connect / disconnect --------------------------------------------------------------------------------


def test_connect_validates_the_token_and_registers_the_webhook_with_the_secret(platform):
    platform.reply(
        json_body={"ok": True, "result": {"id": 123456789, "is_bot": True, "username": "acme_bot"}}
    )
    platform.reply(json_body={"ok": True, "result": True, "description": "Webhook was set"})
    expected = fixture_json("telegram_setwebhook_request.json")
    result = adapter(platform).connect(CREDS, webhook_url=expected["url"])
    assert (result.account_id, result.account_name) == ("123456789", "@acme_bot")
    get_me, set_webhook = platform.requests
    assert get_me.url.path == f"/bot{TOKEN}/getMe"
    assert set_webhook.url.path == f"/bot{TOKEN}/setWebhook"
    assert json.loads(set_webhook.content) == expected
    assert TOKEN not in json.loads(set_webhook.content)["url"]


def test_connect_with_an_invalid_token_fails_before_registering(platform):
    platform.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    with pytest.raises(ChannelApiError) as caught:
        adapter(platform).connect(CREDS, webhook_url="https://cc.example.com/hooks/telegram/x/")
    assert caught.value.error.category == "auth"
    assert len(platform.requests) == 1


def test_connect_refuses_a_webhook_url_containing_the_bot_token(platform):
    with pytest.raises(ChannelApiError):
        adapter(platform).connect(CREDS, webhook_url=f"https://cc.example.com/hooks/{TOKEN}/")
    assert platform.requests == []


def test_connect_refuses_a_secret_telegram_would_reject(platform):
    bad = TelegramCredentials(bot_token=TOKEN, secret_token="has spaces!")
    with pytest.raises(ChannelApiError):
        adapter(platform).connect(bad, webhook_url="https://cc.example.com/hooks/telegram/x/")
    assert platform.requests == []


def test_disconnect_deletes_the_webhook(platform):
    platform.reply(json_body={"ok": True, "result": True})
    adapter(platform).disconnect(CREDS)
    assert platform.requests[0].url.path == f"/bot{TOKEN}/deleteWebhook"


def test_bot_token_never_reaches_the_logs(platform, caplog):
    platform.reply(json_body=sent_message())
    with caplog.at_level(logging.DEBUG):
        adapter(platform).send_text(CREDS, to="1111111", text="hi")
    assert any("sendMessage" in record.getMessage() for record in caplog.records)
    assert all(TOKEN not in record.getMessage() for record in caplog.records)
    assert TOKEN not in repr(CREDS)
