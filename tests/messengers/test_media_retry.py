"""A client's file whose download fails for a passing reason is retried by the timer loop, with backoff,
while the platform's reference still works; the attachment is marked failed only at the end, and every
change reaches the conversation as a `message.update` event. The clock is moved, never slept."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.storage import default_storage
from django.test import Client as HttpClient
from django.utils import timezone

from contactcenter.asgi import application
from contactcenter.models import MediaDownload
from contactcenter.services.inbound_media import media_downloads_requeue
from contactcenter.timers import run_due_timers
from openlines.models import OpenLine, RealtimeEvent
from openlines.session_models import Message
from tests.messengers.conftest import (
    make_connector,
    ok,
    post_webhook,
    telegram_update,
    viber_message,
    whatsapp_payload,
)
from tests.messengers.test_end_to_end import events_until, session_cookie

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0fake-jpeg"


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    value = Clock(timezone.now())
    monkeypatch.setattr(timezone, "now", value)
    return value


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def the_attachment(connector) -> dict:
    [attachment] = Message.objects.get(connector=connector, author_type="client").attachments
    return attachment


def advance(clock: Clock, settle, seconds: float) -> None:
    """Move the clock, run the timers and every task they queue; how many deadlines were applied."""
    clock.now += timedelta(seconds=seconds)
    settle(lambda: run_due_timers(clock.now))


def updates() -> list[dict]:
    return [event.payload for event in RealtimeEvent.objects.filter(type="message.update").order_by("id")]


def viber_picture(client, connector, settle):
    payload = viber_message(11, "", type="picture", media="https://dl-media.viber.com/p", file_name="p.jpg")
    return settle(lambda: post_webhook(client, connector, payload))


def test_a_transient_error_is_retried_and_the_file_arrives(client, channel, platform, settle, clock):
    connector = channel("viber")
    platform.on("GET", r"dl-media\.viber\.com/p$", httpx.Response(503), httpx.Response(200, content=JPEG))
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    assert viber_picture(client, connector, settle).status_code == 200
    pending = the_attachment(connector)
    assert pending["download"] == "retrying" and "retried" in pending["error"]
    assert "path" not in pending

    advance(clock, settle, 10)  # not due yet: the first retry waits 30 seconds
    assert the_attachment(connector)["download"] == "retrying" and len(platform.sent(r"dl-media")) == 1
    advance(clock, settle, 25)
    stored = the_attachment(connector)
    assert "download" not in stored and "error" not in stored
    assert stored["name"] == "p.jpg" and default_storage.open(stored["path"]).read() == JPEG
    assert not MediaDownload.objects.exists()
    [update] = updates()
    assert update["message"]["attachments"][0]["url"] == stored["url"]
    assert len(platform.sent(r"dl-media")) == 2


def test_retries_back_off_and_give_up_when_the_link_expires(client, channel, platform, settle, clock):
    connector = channel("viber")
    platform.on("GET", r"dl-media\.viber\.com/p$", httpx.Response(503))
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    viber_picture(client, connector, settle)
    waits = []
    last = clock.now
    for _minute in range(70):
        tried = len(platform.sent(r"dl-media"))
        advance(clock, settle, 60)
        if len(platform.sent(r"dl-media")) > tried:
            waits.append(clock.now - last)
            last = clock.now
        if not MediaDownload.objects.exists():
            break
    # 30 s, 1, 2, 4, 8, 16 minutes... then the last attempt when Viber's hour-long link expires.
    assert waits[:5] == [
        timedelta(minutes=1),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
    ]
    failed = the_attachment(connector)
    assert failed["download"] == "failed" and failed["error"]
    assert clock.now - Message.objects.get(author_type="client").created_at >= timedelta(minutes=59)
    assert updates()[-1]["message"]["attachments"][0]["download"] == "failed"
    downloads = len(platform.sent(r"dl-media"))
    advance(clock, settle, 3600)
    assert len(platform.sent(r"dl-media")) == downloads


def test_whatsapp_retry_asks_for_a_new_download_url_each_time(client, channel, platform, settle, clock):
    connector = channel("whatsapp")
    platform.on(
        "GET",
        r"/media-77$",
        ok({"url": "https://lookaside.fbsbx.com/whatsapp/1", "mime_type": "image/jpeg"}),
        ok({"url": "https://lookaside.fbsbx.com/whatsapp/2", "mime_type": "image/jpeg"}),
    )
    platform.on("GET", r"lookaside\.fbsbx\.com/whatsapp/1$", httpx.Response(500))
    platform.on("GET", r"lookaside\.fbsbx\.com/whatsapp/2$", httpx.Response(200, content=JPEG))
    platform.on("POST", r"/messages$", ok({"messages": [{"id": "wamid.out"}]}))
    message = {
        "from": "4915112345",
        "id": "wamid.img",
        "timestamp": str(int(clock.now.timestamp())),
        "type": "image",
        "image": {"id": "media-77", "mime_type": "image/jpeg", "sha256": "abc"},
    }
    settle(lambda: post_webhook(client, connector, whatsapp_payload(messages=[message])))
    assert the_attachment(connector)["download"] == "retrying"
    advance(clock, settle, 31)
    stored = the_attachment(connector)
    assert default_storage.open(stored["path"]).read() == JPEG and stored["mime"] == "image/jpeg"
    assert len(platform.sent(r"/media-77$")) == 2


def test_a_permanent_error_fails_at_once_without_retries(client, channel, platform, settle, clock):
    connector = channel("viber")
    platform.on("GET", r"dl-media\.viber\.com/p$", httpx.Response(404))
    platform.on("POST", r"/send_message$", ok({"status": 0, "message_token": 1}))
    viber_picture(client, connector, settle)
    attachment = the_attachment(connector)
    assert attachment["download"] == "failed" and "expire" in attachment["error"]
    assert not MediaDownload.objects.exists()


def test_a_due_retry_is_claimed_once(client, channel, platform, settle, clock, tasks):
    connector = channel("telegram")
    platform.on("POST", r"/getFile$", httpx.Response(502))
    platform.on("POST", r"/sendMessage$", ok({"ok": True, "result": {"message_id": 9, "chat": {"id": 777}}}))
    content = {
        "document": {
            "file_id": "f",
            "file_unique_id": "u",
            "file_name": "a.pdf",
            "mime_type": "application/pdf",
        }
    }
    settle(lambda: post_webhook(client, connector, telegram_update(1, content)))
    later = clock.now + timedelta(minutes=1)
    assert media_downloads_requeue(later) == 1
    assert media_downloads_requeue(later) == 0  # a second timer process finds it claimed
    # A lost task: once the lease is over the timer claims the retry again.
    assert media_downloads_requeue(later + timedelta(minutes=6)) == 1


@pytest.mark.django_db(transaction=True)
async def test_the_agents_workspace_sees_the_file_arrive_live(make_line, agents, platform, tasks, clock):
    agent = agents[0]

    def setup():
        line = make_line(queue=[agent])
        OpenLine.objects.filter(pk=line.pk).update(welcome_message=False, agreement_message=False)
        return make_connector(line, "viber")

    connector = await database_sync_to_async(setup)()
    platform.on("GET", r"dl-media\.viber\.com/p$", httpx.Response(503), httpx.Response(200, content=JPEG))
    ws = WebsocketCommunicator(
        application,
        "/ws/staff/",
        headers=[
            (b"origin", b"http://localhost"),
            (b"host", b"localhost"),
            (b"cookie", await database_sync_to_async(session_cookie)(agent)),
        ],
    )
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    payload = viber_message(11, "", type="picture", media="https://dl-media.viber.com/p", file_name="p.jpg")
    response = await sync_to_async(post_webhook)(HttpClient(), connector, payload)
    assert response.status_code == 200
    await sync_to_async(tasks.run)()
    await events_until(ws, {"offer.new"})

    clock.now += timedelta(seconds=31)
    await sync_to_async(run_due_timers)(clock.now)
    await sync_to_async(tasks.run)()
    update = (await events_until(ws, {"message.update"}))["message.update"]
    [attachment] = update["message"]["attachments"]
    assert attachment["name"] == "p.jpg" and attachment["url"].startswith("/contact-center/media/connectors/")
    assert "download" not in attachment
    await ws.disconnect()
