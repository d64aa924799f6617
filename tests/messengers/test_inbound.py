"""Inbound content through the webhook: media downloaded at once, receipts, echoes, blocks, ratings."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from contactcenter.connectors.adapters.base import ContactEvent
from contactcenter.services.webhooks import client_block_set
from openlines.session_models import Client, Message, Session
from tests.messengers.conftest import (
    ok,
    page_message,
    page_payload,
    post_webhook,
    telegram_update,
    viber_message,
    whatsapp_payload,
)

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0fake-jpeg"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def client_message(connector) -> Message:
    return Message.objects.get(connector=connector, author_type="client")


def stored_bytes(attachment: dict) -> bytes:
    with default_storage.open(attachment["path"], "rb") as handle:
        return handle.read()


TELEGRAM_MEDIA = [
    (
        "photo",
        {
            "photo": [
                {"file_id": "small", "file_unique_id": "u1", "width": 90, "height": 90},
                {"file_id": "big", "file_unique_id": "u2", "width": 800, "height": 800},
            ]
        },
    ),
    (
        "document",
        {
            "document": {
                "file_id": "big",
                "file_unique_id": "u3",
                "file_name": "invoice.pdf",
                "mime_type": "application/pdf",
            }
        },
    ),
    ("audio", {"voice": {"file_id": "big", "file_unique_id": "u4", "duration": 2, "mime_type": "audio/ogg"}}),
    ("video", {"video": {"file_id": "big", "file_unique_id": "u5", "width": 1, "height": 1, "duration": 1}}),
    (
        "sticker",
        {
            "sticker": {
                "file_id": "big",
                "file_unique_id": "u6",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
    ),
]


@pytest.mark.parametrize(("kind", "content"), TELEGRAM_MEDIA, ids=[k for k, _ in TELEGRAM_MEDIA])
def test_telegram_media_is_downloaded_into_our_storage(client, channel, platform, settle, kind, content):
    connector = channel("telegram")
    platform.on(
        "POST", r"/getFile$", ok({"ok": True, "result": {"file_id": "big", "file_path": "files/f_1.bin"}})
    )
    platform.on("GET", r"/file/bot.+/files/f_1\.bin$", httpx.Response(200, content=JPEG))
    platform.on("POST", r"/sendMessage$", ok({"ok": True, "result": {"message_id": 9, "chat": {"id": 777}}}))
    settle(lambda: post_webhook(client, connector, telegram_update(1, content)))
    [attachment] = client_message(connector).attachments
    assert attachment["kind"] == kind
    assert attachment["size"] == len(JPEG)
    assert stored_bytes(attachment) == JPEG
    assert attachment["path"].startswith(f"connectors/{connector.uuid}/")
    assert attachment["url"].startswith("/contact-center/media/connectors/")
    assert platform.sent("getFile")[0].content and b'"big"' in platform.sent("getFile")[0].content


def test_telegram_location_is_stored_with_coordinates(client, channel, settle, platform):
    connector = channel("telegram")
    platform.on("POST", r"/sendMessage$", ok({"ok": True, "result": {"message_id": 9, "chat": {"id": 777}}}))
    settle(
        lambda: post_webhook(
            client, connector, telegram_update(1, {"location": {"latitude": 52.5, "longitude": 13.4}})
        )
    )
    [attachment] = client_message(connector).attachments
    assert attachment["kind"] == "location"
    assert (attachment["lat"], attachment["lon"]) == (52.5, 13.4)


def test_whatsapp_image_is_fetched_by_media_id_with_the_token(client, channel, platform, settle):
    connector = channel("whatsapp")
    platform.on(
        "GET", r"/media-77$", ok({"url": "https://lookaside.fbsbx.com/whatsapp/x", "mime_type": "image/jpeg"})
    )
    platform.on("GET", r"lookaside\.fbsbx\.com/whatsapp/x$", httpx.Response(200, content=JPEG))
    platform.on("POST", r"/messages$", ok({"messages": [{"id": "wamid.out"}]}))
    message = {
        "from": "4915112345",
        "id": "wamid.img",
        "timestamp": "1700000000",
        "type": "image",
        "image": {"id": "media-77", "mime_type": "image/jpeg", "sha256": "abc", "caption": "look"},
    }
    settle(lambda: post_webhook(client, connector, whatsapp_payload(messages=[message])))
    stored = client_message(connector)
    assert stored.text == "look"
    [attachment] = stored.attachments
    assert attachment["kind"] == "photo" and attachment["mime"] == "image/jpeg"
    assert stored_bytes(attachment) == JPEG
    download = platform.sent(r"lookaside")[0]
    assert download.headers["authorization"] == "Bearer wa-token"


@pytest.mark.parametrize("kind", ["image", "audio", "video", "file"])
def test_messenger_attachments_are_downloaded_without_a_token(client, channel, platform, settle, kind):
    connector = channel("messenger")
    platform.on(
        "GET", r"cdn\.example/a$", httpx.Response(200, content=JPEG, headers={"content-type": "image/png"})
    )
    platform.on("POST", r"/messages$", ok({"recipient_id": "PSID1", "message_id": "m.out"}))
    item = page_message(
        "PAGE1", "m.att", "", attachments=[{"type": kind, "payload": {"url": "https://cdn.example/a"}}]
    )
    del item["message"]["text"]
    settle(lambda: post_webhook(client, connector, page_payload("page", "PAGE1", [item])))
    [attachment] = client_message(connector).attachments
    assert attachment["kind"] == {"image": "photo", "file": "document"}.get(kind, kind)
    assert stored_bytes(attachment) == JPEG
    assert "authorization" not in platform.sent(r"cdn\.example")[0].headers


def test_viber_picture_is_downloaded_at_once(client, channel, platform, settle):
    connector = channel("viber")
    platform.on("GET", r"dl-media\.viber\.com/p$", httpx.Response(200, content=JPEG))
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    payload = viber_message(11, "", type="picture", media="https://dl-media.viber.com/p", file_name="p.jpg")
    settle(lambda: post_webhook(client, connector, payload))
    [attachment] = client_message(connector).attachments
    assert attachment["kind"] == "photo" and stored_bytes(attachment) == JPEG


def test_expired_media_link_keeps_the_message_with_the_reason(client, channel, platform, settle):
    connector = channel("viber")
    platform.on("GET", r"dl-media\.viber\.com/p$", httpx.Response(404))
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    payload = viber_message(11, "", type="picture", media="https://dl-media.viber.com/p")
    settle(lambda: post_webhook(client, connector, payload))
    [attachment] = client_message(connector).attachments
    assert "path" not in attachment and attachment["error"]


def test_media_is_served_to_the_agent_of_the_conversation_only(
    client, channel, platform, settle, agents, make_user
):
    connector = channel("viber")
    platform.on("GET", r"dl-media\.viber\.com/p$", httpx.Response(200, content=JPEG))
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    settle(
        lambda: post_webhook(
            client, connector, viber_message(11, "", type="picture", media="https://dl-media.viber.com/p")
        )
    )
    message = client_message(connector)
    url = message.attachments[0]["url"]
    offered = message.session.offers.first().user
    client.force_login(offered)
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == JPEG
    assert response["Content-Disposition"].startswith("attachment")
    outsider = make_user("outsider", is_staff=True)
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


# --- Receipts --------------------------------------------------------------------------------------


def agent_messages(connector, *ids: str, minutes_ago: int = 5) -> list[Message]:
    """Outgoing messages already sent to the client of `connector`'s only conversation."""
    session = Session.objects.get(chat__client__connector=connector)
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return [
        Message.objects.create(
            chat=session.chat,
            session=session,
            author_type="agent",
            text=f"reply {n}",
            external_id=external_id,
            connector=connector,
            delivery="sent",
            created_at=at + timedelta(seconds=n),
        )
        for n, external_id in enumerate(ids)
    ]


def deliveries(messages: list[Message]) -> list[str]:
    return [Message.objects.get(pk=m.pk).delivery for m in messages]


@pytest.fixture
def whatsapp_chat(client, channel, platform, settle):
    connector = channel("whatsapp")
    platform.on("POST", r"/messages$", ok({"messages": [{"id": "wamid.welcome"}]}))
    settle(
        lambda: post_webhook(
            client,
            connector,
            whatsapp_payload(
                messages=[
                    {
                        "from": "4915112345",
                        "id": "wamid.in",
                        "timestamp": "1700000000",
                        "type": "text",
                        "text": {"body": "hi"},
                    }
                ]
            ),
        )
    )
    return connector


def wa_status(wamid: str, status: str, **extra) -> dict:
    return {"id": wamid, "status": status, "timestamp": "1700000100", "recipient_id": "4915112345", **extra}


def test_whatsapp_statuses_move_forward_and_never_back(client, whatsapp_chat, settle):
    connector = whatsapp_chat
    [message] = agent_messages(connector, "wamid.out1")
    settle(
        lambda: post_webhook(client, connector, whatsapp_payload(statuses=[wa_status("wamid.out1", "read")]))
    )
    settle(
        lambda: post_webhook(
            client, connector, whatsapp_payload(statuses=[wa_status("wamid.out1", "delivered")])
        )
    )
    assert deliveries([message]) == ["read"]


def test_whatsapp_failed_status_shows_the_error(client, whatsapp_chat, settle):
    connector = whatsapp_chat
    [message] = agent_messages(connector, "wamid.out1")
    failed = wa_status("wamid.out1", "failed", errors=[{"code": 131047, "title": "Re-engagement message"}])
    settle(lambda: post_webhook(client, connector, whatsapp_payload(statuses=[failed])))
    message.refresh_from_db()
    assert message.delivery == "failed" and message.delivery_error


def test_messenger_delivery_and_read_watermarks_cover_earlier_messages(client, channel, platform, settle):
    connector = channel("messenger")
    platform.on("POST", r"/messages$", ok({"recipient_id": "PSID1", "message_id": "m.welcome"}))
    settle(
        lambda: post_webhook(
            client, connector, page_payload("page", "PAGE1", [page_message("PAGE1", "m.in")])
        )
    )
    first, second = agent_messages(connector, "m.o1", "m.o2", minutes_ago=10)
    late = agent_messages(connector, "m.o3", minutes_ago=-10)  # after the watermark
    watermark = int((timezone.now() - timedelta(minutes=1)).timestamp() * 1000)
    delivery = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": "PAGE1"},
        "timestamp": watermark,
        "delivery": {"watermark": watermark},
    }
    settle(lambda: post_webhook(client, connector, page_payload("page", "PAGE1", [delivery])))
    assert deliveries([first, second, *late]) == ["delivered", "delivered", "sent"]
    read = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": "PAGE1"},
        "timestamp": watermark,
        "read": {"watermark": watermark},
    }
    settle(lambda: post_webhook(client, connector, page_payload("page", "PAGE1", [read])))
    assert deliveries([first, second, *late]) == ["read", "read", "sent"]


def test_instagram_seen_marks_that_message_and_earlier_ones_read(client, channel, platform, settle):
    connector = channel("instagram")
    platform.on("POST", r"/messages$", ok({"recipient_id": "PSID1", "message_id": "ig.welcome"}))
    settle(
        lambda: post_webhook(
            client, connector, page_payload("instagram", "IG1", [page_message("IG1", "ig.in")])
        )
    )
    first, second, third = agent_messages(connector, "ig.o1", "ig.o2", "ig.o3")
    seen = {
        "sender": {"id": "PSID1"},
        "recipient": {"id": "IG1"},
        "timestamp": 1_700_000_000_000,
        "read": {"mid": "ig.o2"},
    }
    settle(lambda: post_webhook(client, connector, page_payload("instagram", "IG1", [seen])))
    assert deliveries([first, second, third]) == ["read", "read", "sent"]


def test_viber_delivered_seen_and_failed_callbacks(client, channel, platform, settle):
    connector = channel("viber")
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    settle(lambda: post_webhook(client, connector, viber_message(1)))
    first, second, third = agent_messages(connector, "101", "102", "103")
    receipt = {"timestamp": 1_700_000_000_000, "user_id": "vb-user=="}
    settle(lambda: post_webhook(client, connector, {"event": "delivered", "message_token": 101, **receipt}))
    assert deliveries([first, second, third]) == ["delivered", "sent", "sent"]
    settle(lambda: post_webhook(client, connector, {"event": "seen", "message_token": 102, **receipt}))
    assert deliveries([first, second, third]) == ["read", "read", "sent"]
    settle(
        lambda: post_webhook(
            client, connector, {"event": "failed", "message_token": 103, "desc": "no device", **receipt}
        )
    )
    assert deliveries([first, second, third]) == ["read", "read", "failed"]


# --- Echoes, blocks, ratings --------------------------------------------------------------------------


def test_echo_of_our_own_message_is_ignored(client, channel, platform, settle):
    connector = channel("messenger")
    echo = {
        "sender": {"id": "PAGE1"},
        "recipient": {"id": "PSID1"},
        "timestamp": 1_700_000_000_000,
        "message": {"mid": "m.echo", "text": "our reply", "is_echo": True, "app_id": 1},
    }
    assert (
        settle(lambda: post_webhook(client, connector, page_payload("page", "PAGE1", [echo]))).status_code
        == 200
    )
    assert not Message.objects.exists()
    assert not Session.objects.exists()


def test_telegram_block_is_recorded_and_shown_to_the_agent(client, channel, platform, settle):
    connector = channel("telegram")
    platform.on("POST", r"/sendMessage$", ok({"ok": True, "result": {"message_id": 9, "chat": {"id": 777}}}))
    settle(lambda: post_webhook(client, connector, telegram_update(1, {"text": "hi"})))
    member = {
        "chat": {"id": 777, "type": "private"},
        "from": {"id": 777, "is_bot": False, "first_name": "Tom"},
        "date": 1_700_000_100,
        "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True, "first_name": "bot"}},
        "new_chat_member": {
            "status": "kicked",
            "until_date": 0,
            "user": {"id": 1, "is_bot": True, "first_name": "bot"},
        },
    }
    settle(lambda: post_webhook(client, connector, telegram_update(2, my_chat_member=member)))
    tom = Client.objects.get(connector=connector)
    assert tom.blocked_at is not None
    note = Message.objects.filter(author_type="system", internal=True).last()
    assert "blocked" in note.text
    assert note.session.chat.client == tom
    # Writing again means unblocked.
    settle(lambda: post_webhook(client, connector, telegram_update(3, {"text": "back"})))
    tom.refresh_from_db()
    assert tom.blocked_at is None


def test_viber_unsubscribe_counts_as_blocked(client, channel, platform, settle):
    connector = channel("viber")
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    settle(lambda: post_webhook(client, connector, viber_message(1)))
    settle(
        lambda: post_webhook(
            client,
            connector,
            {"event": "unsubscribed", "timestamp": 1_700_000_000_000, "user_id": "vb-user=="},
        )
    )
    assert Client.objects.get(connector=connector).blocked_at is not None


def test_block_event_for_an_unknown_client_changes_nothing(channel):
    connector = channel("telegram")
    client_block_set(
        connector=connector, event=ContactEvent(sender_id="nobody", kind="blocked", at=timezone.now())
    )
    assert not Client.objects.exists()


def test_media_url_variants_cannot_reach_another_conversations_file(
    client, channel, platform, settle, agents
):
    connector = channel("viber")
    platform.on("GET", r"dl-media\.viber\.com/p$", httpx.Response(200, content=JPEG))
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    payload = viber_message(11, "", type="picture", media="https://dl-media.viber.com/p")
    settle(lambda: post_webhook(client, connector, payload))
    message = client_message(connector)
    path = message.attachments[0]["path"]
    client.force_login(message.session.offers.first().user)
    folder, name = path.rsplit("/", 1)
    for probe in (
        f"connectors/{connector.uuid}//{name}",
        f"connectors/not-a-uuid/x/{name}",
        f"{folder}/../{name}",
        f"{folder}/other.jpg",
    ):
        assert client.get(f"/contact-center/media/{probe}").status_code == 404, probe


TELEGRAM_NAMED_FILES = [
    (
        "document",
        "document",
        {"file_name": "invoice.pdf", "mime_type": "application/pdf"},
        "documents/file_8.pdf",
    ),
    (
        "audio",
        "audio",
        {"file_name": "song.mp3", "mime_type": "audio/mpeg", "duration": 3},
        "music/file_9.mp3",
    ),
    (
        "video",
        "video",
        {"file_name": "clip.mp4", "mime_type": "video/mp4", "width": 1, "height": 1, "duration": 1},
        "videos/file_10.MP4",
    ),
    ("voice", "audio", {"mime_type": "audio/ogg", "duration": 2}, "voice/file_11.oga"),
]


@pytest.mark.parametrize(
    ("key", "kind", "fields", "file_path"), TELEGRAM_NAMED_FILES, ids=[k for k, *_ in TELEGRAM_NAMED_FILES]
)
def test_telegram_file_keeps_the_clients_file_name_and_type(
    client, channel, platform, settle, key, kind, fields, file_path
):
    connector = channel("telegram")
    platform.on("POST", r"/getFile$", ok({"ok": True, "result": {"file_id": "f", "file_path": file_path}}))
    # Telegram's file server does not know the type: it serves octet-stream under its own file name.
    platform.on(
        "GET",
        r"/file/bot.+/" + file_path.replace(".", r"\.") + "$",
        httpx.Response(200, content=b"%PDF-1.4", headers={"content-type": "application/octet-stream"}),
    )
    platform.on("POST", r"/sendMessage$", ok({"ok": True, "result": {"message_id": 9, "chat": {"id": 777}}}))
    update = telegram_update(1, {key: {"file_id": "f", "file_unique_id": "u", **fields}})
    settle(lambda: post_webhook(client, connector, update))
    [attachment] = client_message(connector).attachments
    assert attachment["kind"] == kind
    assert attachment["mime"] == fields["mime_type"]
    expected = fields.get("file_name", file_path.rsplit("/", 1)[-1])
    assert attachment["name"] == expected and attachment["path"].endswith("/" + expected)
    assert stored_bytes(attachment) == b"%PDF-1.4"
    client.force_login(client_message(connector).session.offers.first().user)
    response = client.get(attachment["url"])
    assert response["Content-Type"] == fields["mime_type"]
    assert f'filename="{expected}"' in response["Content-Disposition"]
